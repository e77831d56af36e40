"""`[Calling tool: get_weather({"city": "Oslo"})]`: a transcript line that models imitate when a
client re-renders tool history as text."""

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at
from harness.detect.spec import NAME, Format, result, skip_ws

_TAG = "[Calling tool:"


def _parse(text, i, schema):
    calls, bad = [], False
    while i >= 0:
        m = NAME.match(text, skip_ws(text, i + len(_TAG)))
        if not m or not text.startswith("(", m.end()):
            bad = True
            break
        args, end = arguments_at(text, m.end() + 1)
        calls.append(ToolCall(m.group(), args))
        bad = bad or args is None
        i = text.find(_TAG, end)
    return result("qwen_bracket", calls, bad)


FORMAT = Format("qwen_bracket", (_TAG,), _parse)
