"""Apertus `<|tools_prefix|>[{"get_weather": {"city": "Oslo"}}]<|tools_suffix|>`: the short form,
where an object's only key is the tool name."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import as_arguments, tagged_json, to_call

_CUT_NAME = re.compile(r"""\{\s*["']([^"'\\]+)["']\s*:""")  # a cut-off short-form call: its key is the name


def _short_form(obj) -> ToolCall | None:
    if isinstance(obj, dict) and len(obj) == 1 and "name" not in obj:
        (name, args), = obj.items()
        return ToolCall(name, as_arguments(args)) if name.strip() else None
    return to_call(obj)


def _cut_name(text: str, start: int, stop: int) -> str | None:
    m = _CUT_NAME.match(text, start, stop)
    return m.group(1).strip() or None if m else None


FORMAT = tagged_json("apertus", "<|tools_prefix|>", shape=_short_form, named=_cut_name)
