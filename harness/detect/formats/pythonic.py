"""Pythonic calls `[get_weather(city="Oslo"), get_time(tz="UTC")]` (Llama 3.2/4, ToolACE, BFCL
prompts), also inside LFM2 markers, Llama 4 `<|python_start|>` and Olmo 3 `<function_calls>`
(newline-separated)."""
from harness.detect.json_calls import json_calls
from harness.detect.python_calls import read_calls, starts_call_list
from harness.detect.spec import NAME, Format, result, skip_ws


def _whole_answer(s, i, schema):
    if not starts_call_list(s, 0):
        return None
    calls, bad, end = read_calls(s, 1, "]")
    if end < len(s) and not bad and s[end:].strip("] \t\n"):
        return None  # prose after the list: a mention, not the answer (a stray `]` is convention 6)
    return result("pythonic", calls, bad, len(s))


def _in_tag(label: str, tag: str, close: str) -> Format:
    """Pythonic calls after a tag: a `[...]` list or bare newline-separated calls up to `close`."""
    def parse(text, i, schema):
        p = skip_ws(text, i + len(tag))
        if starts_call_list(text, p):
            calls, bad, end = read_calls(text, p + 1, "]")
        elif text.startswith(("{", "["), p):  # LFM2 also writes JSON inside the same markers
            calls, bad, end = json_calls(text, p)
        elif p < len(text) and not NAME.match(text, p):
            return None
        else:
            calls, bad, end = read_calls(text, p, close)
        return result(label, calls, bad, end)
    return Format(label, (tag,), parse)


PYTHONIC = Format("pythonic", (), _whole_answer, starts="[")
LLAMA4 = _in_tag("pythonic", "<|python_start|>", "<|python_end|>")
LFM2 = _in_tag("lfm2", "<|tool_call_start|>", "<|tool_call_end|>")
OLMO3 = _in_tag("olmo3", "<function_calls>", "</function_calls>")
