"""Mistral: pre-v11 `[TOOL_CALLS] [{json}, ...]` and v11+ `[TOOL_CALLS]name[ARGS]{json}` repeated
per call (`[ARGS]` disappears when special tokens are skipped; some versions add `[CALL_ID]id`)."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at, tagged_json
from harness.detect.spec import NAME, Format, result, skip_ws, unreadable

_TAG = "[TOOL_CALLS]"
_BETWEEN = re.compile(r"\s*(?:\[CALL_ID\]\w*)?\s*(?:\[ARGS\])?\s*")


def _v11(text, i, schema):
    calls, bad, n = [], False, len(text)
    first = True
    while i >= 0:
        p = skip_ws(text, i + len(_TAG))
        if first and p < n and text[p] in "[{":
            return None  # the pre-v11 JSON list
        m = NAME.match(text, p)
        if not m and first and p < n:
            return unreadable(text, p, "mistral_v11")
        if not m or m.end() >= n:  # no name, or one that may be cut off
            bad = True
            break
        q = _BETWEEN.match(text, m.end()).end()
        if q >= n or text[q] != "{":
            if first and q < n and text[q] != "[":
                return unreadable(text, p, "mistral_v11")  # `[TOOL_CALLS] token` written in prose
            calls.append(ToolCall(m.group(), None))
            bad = True
            break
        first = False
        args, end = arguments_at(text, q)
        calls.append(ToolCall(m.group(), args))
        bad = bad or args is None
        i = text.find(_TAG, end)
    return result("mistral_v11", calls, bad)


V0 = tagged_json("mistral_v0", _TAG, starts="[{")
V11 = Format("mistral_v11", (_TAG,), _v11)
