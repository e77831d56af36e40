"""Calls written as JSON objects, or arrays of them: the reader shared by every "JSON after a
marker" format, with recovery of the name of a call that was cut off."""
import re

from harness.detect.base import ToolCall
from harness.detect.lenient import decode, loads
from harness.detect.spec import Format, result, skip_ws, unreadable

_SEPARATORS = re.compile(r"[\s,;]*")
_ARG_KEYS = ("arguments", "parameters", "args", "input")
_PARTIAL_NAME = re.compile(
    r"""["'](?:name|tool_name)["']\s*:\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")
# A markdown fence opened inside a format's own marker is decoration (convention 2): the marker decides.
_FENCE_OPEN = re.compile(r"```[\w-]*[ \t]*\n?\s*")


def as_arguments(value) -> dict | None:
    """Arguments as a dict; a JSON-encoded string is decoded once; None when unreadable."""
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            value = loads(value)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None
    return None


def arguments_at(text: str, p: int) -> tuple[dict | None, int]:
    """The JSON arguments object at p and the index after it; (None, p) when unreadable or cut off."""
    try:
        value, end = decode(text, skip_ws(text, p))
    except ValueError:
        return None, p
    return as_arguments(value), end


def to_call(obj, require_args: bool = False) -> ToolCall | None:
    """A call from {"name", "arguments"|"parameters"}, Cohere {"tool_name", ...} or OpenAI
    {"function": {...}}; None when the object is not call-shaped."""
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name", obj.get("tool_name"))
    if not isinstance(name, str) or not name.strip():
        return None
    for key in _ARG_KEYS:
        if key in obj:
            return ToolCall(name.strip(), as_arguments(obj[key]))
    return None if require_args else ToolCall(name.strip(), {})


def partial_name(text: str, start: int, stop: int) -> str | None:
    """The complete "name" string of a call object that could not be read, if there is one."""
    m = _PARTIAL_NAME.search(text, start, stop)
    if not m:
        return None
    name = m.group(1) if m.group(1) is not None else m.group(2)
    return name.strip() or None


def skip_fence(text: str, p: int) -> int:
    """p, or just after a fence opener (```json) at p."""
    return _FENCE_OPEN.match(text, p).end() if text.startswith("```", p) else p


def _values(text: str, i: int) -> tuple[list, int, int | None]:
    """The value at i (an object, or the items of an array), where reading stopped, and where it
    failed (None when everything was read). Array items before a broken one are kept."""
    try:
        value, end = decode(text, i)
        return (value if isinstance(value, list) else [value]), end, None
    except ValueError:
        pass
    if text[i] != "[":
        return [], i, i
    items, j = [], i + 1
    while True:
        j = skip_ws(text, j)
        try:
            value, j = decode(text, j)
        except ValueError:
            return items, j, j
        items.append(value)
        j = skip_ws(text, j)
        if text.startswith(",", j):
            j += 1
        elif text.startswith("]", j):
            return items, j + 1, None
        else:
            return items, j, j


def json_calls(text: str, i: int, shape=to_call, stop: int | None = None, per_line: bool = False,
               named=partial_name) -> tuple[list[ToolCall], bool, int]:
    """Calls from the objects/arrays at i, separated by whitespace, commas or semicolons. A value
    that cannot be read ends the calls, or with `per_line` only its own line. Returns (calls,
    malformed, index after the last value read); `named` recovers a cut-off call's name before `stop`."""
    calls, bad, n = [], False, len(text)
    while True:
        i = _SEPARATORS.match(text, i).end()
        if i >= n or text[i] not in "{[":
            return calls, bad, i
        values, i, failed = _values(text, i)
        for value in values:
            call = shape(value)
            bad = bad or call is None or call.arguments is None
            if call is not None:
                calls.append(call)
        if failed is None:
            continue
        line_end = text.find("\n", failed) if per_line else -1
        name = named(text, failed, line_end if line_end >= 0 else n if stop is None else stop)
        if name:
            calls.append(ToolCall(name, None))
        if line_end < 0:
            return calls, True, failed
        bad, i = True, line_end


def tagged_json(label: str, tag: str, starts: str = "{[", shape=to_call, fallback: bool = False,
                per_line: bool = False, named=partial_name) -> Format:
    """A format whose calls are JSON after `tag` (the scan reads repeated tags one by one). The
    payload must start with one of `starts`, else the text belongs to another format sharing the
    tag, unless this format is the tag's `fallback`, which then reports a garbled call or a mention."""
    def parse(text, i, schema):
        p = skip_fence(text, skip_ws(text, i + len(tag)))
        if p >= len(text) or text[p] not in starts:
            return unreadable(text, p, label) if fallback else None
        nxt = text.find(tag, p)
        calls, bad, end = json_calls(text, p, shape, nxt if nxt >= 0 else None, per_line, named)
        return result(label, calls, bad, end)
    return Format(label, (tag,), parse, needs=starts if len(starts) == 1 and not fallback else "",
                  follows={} if fallback else {tag: starts + "`"})  # a fence may open the payload (skip_fence)
