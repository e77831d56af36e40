"""Functionary v3.2 `>>>get_weather⏎{"city": "Oslo"}>>>all⏎text`: `all` is the content channel,
`python` takes raw code; the first call may omit `>>>` (then it must be the whole answer)."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at
from harness.detect.spec import Format, result, skip_ws

_HEADER = re.compile(r"(?:>>>)?[ \t]*([A-Za-z_][\w.\-]*)[ \t]*\n")
_TAG = ">>>"


def _segments(text: str, i: int):
    """(calls, malformed, read_everything) for the segments from i."""
    calls, bad, end = [], False, i
    while i >= 0:
        m = _HEADER.match(text, i)
        if not m:
            return calls, True, False
        nxt = text.find(_TAG, m.end())
        body = text[m.end():nxt if nxt >= 0 else len(text)]
        name, end = m.group(1), (nxt if nxt >= 0 else len(text))
        if name == "python":
            calls.append(ToolCall(name, {"code": body.strip()}))
        elif name != "all":
            args, after = arguments_at(text, m.end())
            end = after if args is not None else end
            calls.append(ToolCall(name, args))
            bad = bad or args is None
        i = nxt
    return calls, bad, skip_ws(text, end) >= len(text)


def _tagged(text, i, schema):
    if not _HEADER.match(text, i):
        return None  # `>>>` in prose or a Python prompt
    calls, bad, _ = _segments(text, i)
    return result("functionary_v32", calls, bad) if calls or bad else None


def _bare(text, i, schema):
    s = text.strip()
    m = _HEADER.match(s)
    if not m or not s.startswith("{", skip_ws(s, m.end())):
        return None
    calls, bad, whole = _segments(s, 0)
    return result("functionary_v32", calls, bad) if calls and (whole or bad) else None


TAGGED = Format("functionary_v32", (_TAG,), _tagged)
BARE = Format("functionary_v32", (), _bare)
