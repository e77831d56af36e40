"""Kimi K2 `<|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:IDX<|tool_call_argument_begin|>{json}<|tool_call_end|>…`."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at
from harness.detect.spec import Format, find_ahead, result

_CALL = "<|tool_call_begin|>"
_ARGS = "<|tool_call_argument_begin|>"
_ID = re.compile(r"(?:functions\.)?(.+?)(?::\d+)?")


def _parse(text, i, schema):
    calls, bad, last = [], False, i
    j = find_ahead(text, _CALL, i)
    if j < 0:
        return result("kimi_k2", [], True, len(text))
    while j >= 0:
        a = find_ahead(text, _ARGS, j)
        nxt = find_ahead(text, _CALL, j + len(_CALL))
        if a < 0 or (0 <= nxt < a):  # no argument token: the id may be cut off
            bad = True
            j = nxt if a >= 0 else -1
            continue
        ident = _ID.fullmatch(text[j + len(_CALL):a].strip())
        name = ident.group(1).strip() if ident else ""
        args, end = arguments_at(text, a + len(_ARGS))
        if name:
            calls.append(ToolCall(name, args))
        bad = bad or args is None or not name
        last = end
        j = find_ahead(text, _CALL, end)
    return result("kimi_k2", calls, bad, len(text) if bad else last)


FORMAT = Format("kimi_k2", ("<|tool_calls_section_begin|>", "<|tool_call_section_begin|>", _CALL), _parse)
