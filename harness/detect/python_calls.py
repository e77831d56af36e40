"""Calls written as Python `name(key=value, ...)`: the reader shared by the pythonic list, LFM2,
Llama 4, Olmo 3, Gemma `tool_code` and Llama built-ins. Keyword arguments only; values are Python
literals read without eval."""
import re

from harness.detect.base import ToolCall
from harness.detect.lenient import Incomplete, Invalid, decode
from harness.detect.spec import NAME, skip_ws

_SEPARATORS = re.compile(r"[\s,;]*")
_KEY = re.compile(r"[A-Za-z_]\w*")


def read_kwargs(text: str, i: int) -> tuple[dict, int]:
    """Keyword arguments after '(' through the matching ')'. Raises Incomplete or Invalid."""
    args, n = {}, len(text)
    while True:
        i = skip_ws(text, i)
        if i >= n:
            raise Incomplete("end of text")
        if text[i] == ")":
            return args, i + 1
        m = _KEY.match(text, i)
        j = skip_ws(text, m.end()) if m else i
        if j >= n:
            raise Incomplete("end of text")
        if not m or text[j] != "=":
            raise Invalid("only keyword arguments are calls")
        args[m.group()], i = decode(text, skip_ws(text, j + 1))
        i = skip_ws(text, i)
        if i >= n:
            raise Incomplete("end of text")
        if text[i] == ",":
            i += 1
        elif text[i] != ")":
            raise Invalid("expected ',' or ')'")


def read_calls(text: str, i: int, close: str | None = None) -> tuple[list[ToolCall], bool, int]:
    """Calls `name(k=v)` from i, separated by commas, semicolons or newlines, up to `close`.
    Returns (calls, malformed, index where reading stopped)."""
    calls, n = [], len(text)
    while True:
        i = _SEPARATORS.match(text, i).end()
        if i >= n:
            return calls, False, n
        if close and text.startswith(close, i):
            return calls, False, i + len(close)
        m = NAME.match(text, i)
        if not m:
            return calls, True, i
        j = skip_ws(text, m.end())
        if j >= n:
            return calls, True, n  # the name itself may be cut off
        if text[j] != "(":
            return calls, True, i
        try:
            args, i = read_kwargs(text, j + 1)
        except ValueError:  # cut off or not literal: the name is known, the arguments are not
            calls.append(ToolCall(m.group(), None))
            return calls, True, n
        calls.append(ToolCall(m.group(), args))


def starts_call_list(text: str, i: int) -> bool:
    """`[name(` at i: a pythonic list rather than a JSON array."""
    if not text.startswith("[", i):
        return False
    m = NAME.match(text, skip_ws(text, i + 1))
    return bool(m) and text.startswith("(", skip_ws(text, m.end()))
