"""Calls written as XML-ish markup, "a call tag naming the tool, then one tag per parameter": the
reader shared by Anthropic/MiniMax/DSML/Step-3 `<invoke>`, Qwen3-Coder/Seed `<function=>` and the
GLM/Hunyuan/LongCat `<arg_key>` families. Each family is one Dialect."""
import re
from dataclasses import dataclass

from harness.detect.base import ToolCall
from harness.detect.lenient import decode
from harness.detect.spec import Format, marker_at, result, skip_ws
from harness.detect.values import xml_value

# Wrappers that several formats share: a wrapper followed by nothing tells us nothing.
_SHARED = ("<tool_call>", "<tool_calls>", "<function_calls>")


@dataclass(frozen=True)
class Dialect:
    call_prefix: str        # how every call starts, e.g. "<invoke"
    claim: re.Pattern       # matched at the first call: is this text this dialect (or a cut-off start of it)?
    call_open: re.Pattern   # a complete call header; group 1 = tool name
    call_close: str
    param_prefix: str
    param_open: re.Pattern  # a complete parameter header; group 1 = key; group "string" (optional) = DSML flag
    param_close: str


def invoke_dialect(ns: str = "") -> Dialect:
    """`<NSinvoke name="f"><NSparameter name="k">v</NSparameter></NSinvoke>` (Anthropic, MiniMax-M2, DSML, Step-3)."""
    name = r"""\s+name\s*=\s*["']?([^"'>]+?)["']?"""
    flag = r"""(?:\s+string\s*=\s*["'](?P<string>true|false)["'])?"""
    return Dialect(
        call_prefix=f"<{ns}invoke",
        claim=re.compile(rf"<{ns}invoke(?:\s+name\s*=|\s*\Z)"),
        call_open=re.compile(rf"<{ns}invoke{name}\s*>"),
        call_close=f"</{ns}invoke>",
        param_prefix=f"<{ns}parameter",
        param_open=re.compile(rf"<{ns}parameter{name}{flag}\s*>"),
        param_close=f"</{ns}parameter>",
    )


def key_value_dialect(call: str, key: str, value: str, after_name: str = r"(?=\s|<)") -> Dialect:
    """`<CALL>name<KEY>k</KEY><VALUE>v</VALUE></CALL>` (GLM, Hunyuan, LongCat); `after_name` says
    what ends a complete name."""
    name = r"<%s>\s*([A-Za-z_][\w.\-]*)%s" % (call, after_name)
    return Dialect(
        call_prefix=f"<{call}>",
        claim=re.compile(name),
        call_open=re.compile(name),
        call_close=f"</{call}>",
        param_prefix=f"<{key}>",
        param_open=re.compile(rf"<{key}>(.*?)</{key}>\s*<{value}>", re.S),
        param_close=f"</{value}>",
    )


def xml_format(label: str, markers: tuple[str, ...], d: Dialect) -> Format:
    """A format made of Dialect calls, announced by a wrapper or by the call prefix itself."""
    def parse(text, i, schema):
        marker = marker_at(text, i, markers)
        j = i if marker == d.call_prefix else skip_ws(text, i + len(marker))
        if not text.startswith(d.call_prefix, j):
            rest = text[j:]
            if d.call_prefix.startswith(rest) and (rest or marker not in _SHARED):
                return result(label, [], True)  # cut off right after the wrapper
            return None
        if not d.claim.match(text, j):
            return None
        calls, bad = read_calls(text, j, d, schema)
        return result(label, calls, bad)
    return Format(label, markers, parse)


def read_calls(text: str, j: int, d: Dialect, schema) -> tuple[list[ToolCall], bool]:
    calls, bad = [], False
    while j >= 0:
        m = d.call_open.match(text, j)
        if not m:  # the header is cut off or garbled: the name is not known
            return calls, True
        name = m.group(1).strip()
        args, end = _params(text, m.end(), d, schema, name)
        calls.append(ToolCall(name, args))
        bad = bad or args is None
        j = text.find(d.call_prefix, end)
    return calls, bad


def _params(text: str, p: int, d: Dialect, schema, name: str) -> tuple[dict | None, int]:
    """The parameters of one call and the index after its closing tag; None when the call never
    closes (cut off: the arguments are unknown) or its body is unreadable."""
    args, n = {}, len(text)
    while True:
        p = skip_ws(text, p)
        if text.startswith(d.call_close, p):
            return args, p + len(d.call_close)
        if p >= n:
            return None, n
        m = d.param_open.match(text, p)
        if m:
            end, p = _value_end(text, m.end(), d)
            if end < 0:
                return None, n
            key = m.group(1).strip()
            is_string = (m.groupdict().get("string") or "") == "true"
            args[key] = xml_value(text[m.end():end], schema.types(name, key), is_string)
            continue
        if text[p] == "{" and not args:  # DeepSeek V4 allows a JSON object as the whole body
            try:
                value, after = decode(text, p)
            except ValueError:
                value = None
            if isinstance(value, dict):
                args, p = value, after
                continue
        close = text.find(d.call_close, p)
        return None, (close + len(d.call_close) if close >= 0 else n)


def _value_end(text: str, start: int, d: Dialect) -> tuple[int, int]:
    """Where a parameter value ends and where reading resumes. A closing tag counts only when
    structure follows it, so a value holding a literal `</parameter>` stays whole; a value whose
    closing tag is missing ends at the next parameter or at the end of the call."""
    close, n = d.param_close, len(text)
    first = k = text.find(close, start)
    while k >= 0:
        after = skip_ws(text, k + len(close))
        if after >= n or text.startswith(d.param_prefix, after) or text.startswith(d.call_close, after):
            return k, k + len(close)
        k = text.find(close, k + 1)
    if first >= 0:
        return first, first + len(close)
    ends = [e for e in (text.find(d.param_prefix, start), text.find(d.call_close, start)) if e >= 0]
    return (min(ends), min(ends)) if ends else (-1, n)
