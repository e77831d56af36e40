"""Prompted ReAct `Action: NAME⏎Action Input: {json}` (LangChain-style agents); the input ends
before `Observation:`. A non-JSON input is kept as {"input": text}."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at
from harness.detect.spec import Format, result

_STEP = re.compile(r"Action:[ \t]*([^\n`]{1,200}?)[ \t]*\n[ \t]*Action Input:[ \t]*")  # names are short
_STOP = re.compile(r"\n\s*(?:Observation|Thought|Action):")


def _parse(text, i, schema):
    m = _STEP.match(text, i)
    if not m:
        return None
    calls, bad, end = [], False, len(text)
    while m:
        stop = _STOP.search(text, m.end())
        raw = text[m.end():stop.start() if stop else len(text)].strip()
        args = arguments_at(raw, 0)[0] if raw.startswith("{") else {"input": raw}
        calls.append(ToolCall(m.group(1), args))
        bad = bad or args is None
        end = stop.start() if stop else len(text)
        nxt = text.find("Action:", end) if stop else -1
        m = _STEP.match(text, nxt) if nxt >= 0 else None
    return result("react", calls, bad, end)


FORMAT = Format("react", ("Action:",), _parse)
