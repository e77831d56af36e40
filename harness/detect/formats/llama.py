"""Llama 3.x: `<|python_tag|>` followed by JSON calls (`;`-separated), a built-in
`brave_search.call(query=…)`, or raw code for the code interpreter; and the Llama 3.1 custom /
Functionary v3.1 form `<function=NAME>{json}</function>`. Bare Llama JSON is in bare.py."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at, json_calls
from harness.detect.python_calls import read_kwargs
from harness.detect.spec import NAME, Format, result, skip_ws

_TAG = "<|python_tag|>"
# `<function=NAME>` (Llama 3.1 custom tools, Functionary v3.1) or `<function name="NAME">` (llama.cpp's Hermes reader)
_FUNCTION = re.compile(r"""<function(?:=([^>\n]+)|\s+name\s*=\s*["']([^"'>\n]+)["']\s*)>\s*""")
_CLOSE = re.compile(r"\s*</function>")


def _python_tag(text, i, schema):
    p = skip_ws(text, i + len(_TAG))
    if text.startswith(("{", "["), p):
        calls, bad, end = json_calls(text, p)
        return result("llama3_json", calls, bad, end)
    m = NAME.match(text, p)
    if m and m.group().endswith(".call") and text.startswith("(", m.end()):
        name = m.group()[:-len(".call")]
        try:
            args, end = read_kwargs(text, m.end() + 1)
        except ValueError:
            return result("llama3_builtin", [ToolCall(name, None)], True, len(text))
        return result("llama3_builtin", [ToolCall(name, args)], False, end)
    code = text[p:].strip()  # the code interpreter takes raw Python (llama.cpp names the tool "python")
    return result("llama3_builtin", [ToolCall("python", {"code": code})] if code else [], not code, len(text))


def _function_tag(text, i, schema):
    m = _FUNCTION.match(text, i)
    if not m or not text.startswith("{", m.end()):
        return None  # Qwen3-Coder XML (or a cut-off header it reports)
    args, end = arguments_at(text, m.end())
    close = _CLOSE.match(text, end)
    name = (m.group(1) or m.group(2)).strip()
    return result("function_tag_json", [ToolCall(name, args)], args is None, close.end() if close else end)


PYTHON_TAG = Format("llama3_json", (_TAG,), _python_tag)
FUNCTION_TAG = Format("function_tag_json", ("<function=", "<function name="), _function_tag)
