"""Functionary v3.2 `>>>get_weather⏎{"city": "Oslo"}>>>all⏎text`: `all` is the content channel,
`python` takes raw code; the first call may omit `>>>` (then it must be the whole answer).
Functionary v2 `<|from|>assistant⏎<|recipient|>get_weather⏎<|content|>{"city": "Oslo"}`, one
message per call; the recipient `all` is the answer."""
import re
from string import ascii_letters

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at
from harness.detect.spec import NAME, Format, nothing, result, skip_ws, unreadable

_HEADER = re.compile(r"(?:>>>)?[ \t]*([A-Za-z_][\w.\-]*)[ \t]*\n")
_TAG = ">>>"
_RECIPIENT = "<|recipient|>"
_CONTENT_TOKEN = "<|content|>"
_CONTENT = re.compile(r"[ \t]*\n?[ \t]*" + re.escape(_CONTENT_TOKEN))


def _segments(text: str, i: int):
    """(calls, malformed, read_everything, end) for the segments from i."""
    calls, end = [], i
    while i >= 0:
        m = _HEADER.match(text, i)
        if not m:
            return calls, True, False, len(text)
        nxt = text.find(_TAG, m.end())
        body = text[m.end():nxt if nxt >= 0 else len(text)]
        name, end = m.group(1), (nxt if nxt >= 0 else len(text))
        if name == "python":
            calls.append(ToolCall(name, {"code": body.strip()}))
        elif name != "all":
            args, after = arguments_at(text, m.end())
            calls.append(ToolCall(name, args))
            if args is None:
                return calls, True, False, len(text)
            end = after
        i = nxt
    return calls, False, skip_ws(text, end) >= len(text), end


def _tagged(text, i, schema):
    if not _HEADER.match(text, i):
        return None  # `>>>` in prose or a Python prompt
    calls, bad, _, end = _segments(text, i)
    return result("functionary_v32", calls, bad, end) if calls or bad else None


def _bare(s, i, schema):
    m = _HEADER.match(s)
    if not m or not s.startswith("{", skip_ws(s, m.end())):
        return None
    calls, bad, whole, _ = _segments(s, 0)
    return result("functionary_v32", calls, bad, len(s)) if calls and (whole or bad) else None


def _v2(text, i, schema):
    p = skip_ws(text, i + len(_RECIPIENT))
    m = NAME.match(text, p)
    content = _CONTENT.match(text, m.end()) if m else None
    if not content:
        rest = skip_ws(text, m.end()) if m else p
        if m and len(text) - rest < len(_CONTENT_TOKEN) and _CONTENT_TOKEN.startswith(text[rest:]):
            return result("functionary_v2", [], True, len(text))  # cut off before the content
        return unreadable(text, p, "functionary_v2")
    if m.group() == "all":  # the answer channel
        nxt = text.find(_RECIPIENT, content.end())
        return nothing(nxt if nxt >= 0 else len(text))
    args, end = arguments_at(text, content.end())
    return result("functionary_v2", [ToolCall(m.group(), args)], args is None, end if args is not None else len(text))


TAGGED = Format("functionary_v32", (_TAG,), _tagged)
BARE = Format("functionary_v32", (), _bare, starts=ascii_letters + "_", needs="{")  # a bare `name⏎{...}`
V2 = Format("functionary_v2", (_RECIPIENT,), _v2)
