"""`[Calling tool: get_weather({"city": "Oslo"})]`: a transcript line that models imitate when a
client re-renders tool history as text."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at
from harness.detect.spec import NAME, Format, result, skip_ws

_TAG = "[Calling tool:"
_CLOSE = re.compile(r"\s*\)\s*\]")


def _parse(text, i, schema):
    m = NAME.match(text, skip_ws(text, i + len(_TAG)))
    if not m or not text.startswith("(", m.end()):
        return result("qwen_bracket", [], True, len(text))
    args, end = arguments_at(text, m.end() + 1)
    if args is None:
        return result("qwen_bracket", [ToolCall(m.group(), None)], True, len(text))
    close = _CLOSE.match(text, end)
    return result("qwen_bracket", [ToolCall(m.group(), args)], False, close.end() if close else end)


FORMAT = Format("qwen_bracket", (_TAG,), _parse)
