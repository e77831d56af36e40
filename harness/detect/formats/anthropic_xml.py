"""Anthropic-style `<function_calls><invoke name="f"><parameter name="k">v</parameter></invoke>`;
a bare `<invoke>` without the wrapper counts too. The 2023 prompt form names the tool in a child
instead: `<invoke><tool_name>f</tool_name><parameters><k>v</k></parameters></invoke>`."""
import re

from harness.detect.base import ToolCall
from harness.detect.spec import Format, result, skip_ws
from harness.detect.values import xml_value
from harness.detect.xml_calls import invoke_dialect, xml_format

_MARKERS = ("<function_calls>", "<invoke")
_MODERN = xml_format("anthropic_xml", _MARKERS, invoke_dialect())
_LEGACY = re.compile(r"<invoke>\s*<tool_name>\s*([^<]*?)\s*</tool_name>\s*")
_LEGACY_START = "<invoke><tool_name>"
_CUT_TAGS = ("</invoke>", "<parameters>")
_KEY = re.compile(r"<([A-Za-z_][\w.\-]*)>")


def _legacy_params(text: str, q: int, schema, name: str) -> tuple[dict | None, int]:
    """The `<parameters>` block at q (optional) and where reading resumes; None when cut off."""
    args = {}
    if not text.startswith("<parameters>", q):
        return args, q
    q = skip_ws(text, q + len("<parameters>"))
    while not text.startswith("</parameters>", q):
        m = _KEY.match(text, q)
        close = text.find(f"</{m.group(1)}>", m.end()) if m else -1
        if close < 0:
            return None, len(text)
        args[m.group(1)] = xml_value(text[m.end():close].strip(), schema.types(name, m.group(1)))
        q = skip_ws(text, close + len(m.group(1)) + 3)
    return args, skip_ws(text, q + len("</parameters>"))


def _legacy(text: str, i: int, schema):
    p = i if text.startswith("<invoke", i) else skip_ws(text, i + len(_MARKERS[0]))
    calls, n = [], len(text)
    while True:
        m = _LEGACY.match(text, p)
        if not m:
            if calls:
                return result("anthropic_xml", calls, False, p)
            cut = n - p < len(_LEGACY_START) and _LEGACY_START.startswith(text[p:].replace("\n", ""))
            return result("anthropic_xml", [], True, n) if cut and p < n else None
        name = m.group(1)
        args, q = _legacy_params(text, m.end(), schema, name)
        if args is not None and text.startswith("</invoke>", q):
            q = skip_ws(text, q + len("</invoke>"))
        elif args is not None and n - q < len("<parameters>") and any(t.startswith(text[q:]) for t in _CUT_TAGS):
            args = None  # cut off before or inside </invoke> or <parameters>
        calls.append(ToolCall(name, args))
        if args is None:
            return result("anthropic_xml", calls, True, n)
        p = q


def _parse(text, i, schema):
    return _MODERN.parse(text, i, schema) or _legacy(text, i, schema)


FORMAT = Format("anthropic_xml", _MARKERS, _parse)
