"""Bare JSON calls with no marker (Llama 3.x JSON mode, xLAM and other JSON-list fine-tunes). They
count only as the whole visible answer, and every object needs `name` plus `arguments` or
`parameters`: a lone `name` key is data."""
import re

from harness.detect.json_calls import json_calls, to_call
from harness.detect.spec import Format, result

# A cut-off answer counts only when it already shows an arguments key: without a marker, a
# truncated `{"name": ...` could as well be data.
_ARGS_KEY = re.compile(r"""["'](?:arguments|parameters)["']\s*:""")


def _call(obj):
    return to_call(obj, require_args=True)


def _parse(s, i, schema):
    if not (s.startswith("{") or s.startswith("[") and s[1:].lstrip().startswith("{")):
        return None  # calls are objects: `[name(` is pythonic, `[1, 2]` is data
    calls, bad, end = json_calls(s, 0, _call)
    if not calls or (end < len(s) and not bad and s[end:].strip("] \t\n")):
        return None  # data, or JSON followed by prose (a stray `]` is convention 6)
    if any(c.arguments is None for c in calls) and not _ARGS_KEY.search(s):
        return None
    return result("json_list" if s[0] == "[" else "llama3_json", calls, bad, len(s))


FORMAT = Format("llama3_json", (), _parse, starts="{[")
