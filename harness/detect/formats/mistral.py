"""Mistral: pre-v11 `[TOOL_CALLS] [{json}, ...]` and v11+ `[TOOL_CALLS]name[ARGS]{json}` repeated
per call, each read on its own by the scan (`[ARGS]` disappears when special tokens are skipped; some versions add `[CALL_ID]id`)."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at, tagged_json
from harness.detect.spec import NAME, Format, result, skip_ws, unreadable

_TAG = "[TOOL_CALLS]"
_BETWEEN = re.compile(r"\s*(?:\[CALL_ID\]\w*)?\s*(?:\[ARGS\])?\s*")


def _v11(text, i, schema):
    n, label = len(text), "mistral_v11"
    p = skip_ws(text, i + len(_TAG))
    if p < n and text[p] in "[{":
        return None  # the pre-v11 JSON list
    m = NAME.match(text, p)
    if not m and p < n:
        return unreadable(text, p, label)
    if not m or m.end() >= n:  # no name, or one that may be cut off
        return result(label, [], True, n)
    q = _BETWEEN.match(text, m.end()).end()
    if q >= n or text[q] != "{":
        if q < n and text[q] != "[":
            return unreadable(text, p, label)  # `[TOOL_CALLS] token` written in prose
        return result(label, [ToolCall(m.group(), None)], True, n)
    args, end = arguments_at(text, q)
    return result(label, [ToolCall(m.group(), args)], args is None, end if args is not None else n)


V0 = tagged_json("mistral_v0", _TAG, starts="[{")
V11 = Format("mistral_v11", (_TAG,), _v11)
