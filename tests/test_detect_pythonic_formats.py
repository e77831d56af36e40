"""Pythonic and Gemma-style formats: Python call syntax, Gemma 4 token-quoted objects, tool_code fences."""
import pytest

from harness.detect import ToolCall, detect

W = {"city": "Oslo"}
CODE = 'print("</tool_call>")\nd = {"a": [1, 2]}\n'

CASES = [
    ("pythonic_single", '[get_weather(city="Oslo")]', "call", "pythonic", [("get_weather", W)]),
    ("pythonic_parallel_literals", "[get_weather(city='Oslo', days=3, metric=True, hint=None), get_time(tz=\"UTC\")]",
     "call", "pythonic", [("get_weather", {"city": "Oslo", "days": 3, "metric": True, "hint": None}),
                          ("get_time", {"tz": "UTC"})]),
    ("pythonic_nested", '[search(filters={"tags": ["a", "b"], "range": (1, 5)}, limit=-2.5)]', "call", "pythonic",
     [("search", {"filters": {"tags": ["a", "b"], "range": [1, 5]}, "limit": -2.5})]),
    ("pythonic_code_string", f"[run(code={CODE!r})]", "call", "pythonic", [("run", {"code": CODE})]),
    ("pythonic_dotted_name", '[spotify.play(song="x")]', "call", "pythonic", [("spotify.play", {"song": "x"})]),
    ("pythonic_no_args", "[get_time()]", "call", "pythonic", [("get_time", {})]),
    ("pythonic_end_token", '[get_weather(city="Oslo")]<|eot_id|>', "call", "pythonic", [("get_weather", W)]),
    ("pythonic_truncated", '[get_weather(city="Os', "malformed", "pythonic", [("get_weather", None)]),
    ("pythonic_missing_bracket", '[get_weather(city="Oslo")', "call", "pythonic", [("get_weather", W)]),
    ("pythonic_positional_args", '[get_weather("Oslo")]', "malformed", "pythonic", [("get_weather", None)]),
    ("llama4_python_start", '<|python_start|>[get_weather(city="Oslo")]<|python_end|>', "call", "pythonic",
     [("get_weather", W)]),
    ("lfm2_pythonic", '<|tool_call_start|>[get_weather(city="Oslo"), get_time(tz="UTC")]<|tool_call_end|>', "call",
     "lfm2", [("get_weather", W), ("get_time", {"tz": "UTC"})]),
    ("lfm2_json", '<|tool_call_start|>[{"name": "get_weather", "arguments": {"city": "Oslo"}}]<|tool_call_end|>', "call",
     "lfm2", [("get_weather", W)]),
    ("olmo3", '<function_calls>get_weather(city="Oslo")\nget_time(tz="UTC", dst=false)</function_calls>', "call",
     "olmo3", [("get_weather", W), ("get_time", {"tz": "UTC", "dst": False})]),
    ("llama_builtin", '<|python_tag|>brave_search.call(query="weather in Oslo")<|eom_id|>', "call", "llama3_builtin",
     [("brave_search", {"query": "weather in Oslo"})]),
    ("llama_code_interpreter", "<|python_tag|>import math\nprint(math.pi)<|eom_id|>", "call", "llama3_builtin",
     [("python", {"code": "import math\nprint(math.pi)"})]),
    # Gemma 4
    ("gemma4", '<|tool_call>call:get_weather{city:<|"|>Oslo<|"|>,days:3}<tool_call|>', "call", "gemma4",
     [("get_weather", {"city": "Oslo", "days": 3})]),
    ("gemma4_nested_and_braces_in_strings", '<|tool_call>call:manim-video{scene:{title:<|"|>a {b} c, d<|"|>,'
     'tags:[<|"|>x<|"|>,<|"|>y<|"|>],on:true}}<tool_call|>', "call", "gemma4",
     [("manim-video", {"scene": {"title": "a {b} c, d", "tags": ["x", "y"], "on": True}})]),
    ("gemma4_back_to_back", '<|tool_call>call:get_weather{city:<|"|>Oslo<|"|>}call:get_time{tz:<|"|>UTC<|"|>}<tool_call|>',
     "call", "gemma4", [("get_weather", W), ("get_time", {"tz": "UTC"})]),
    ("gemma4_separate_blocks", '<|tool_call>call:get_weather{city:<|"|>Oslo<|"|>}<tool_call|>'
     '<|tool_call>call:get_time{tz:<|"|>UTC<|"|>}<tool_call|>', "call", "gemma4",
     [("get_weather", W), ("get_time", {"tz": "UTC"})]),
    ("gemma4_parenthesised", '<|tool_call>call:get_weather(city="Oslo")<tool_call|>', "call", "gemma4",
     [("get_weather", W)]),
    ("gemma4_after_thinking", '<|channel>thought\nweather needed<channel|><|tool_call>call:get_weather{city:<|"|>Oslo<|"|>}'
     "<tool_call|>", "call", "gemma4", [("get_weather", W)]),
    ("gemma4_truncated", '<|tool_call>call:get_weather{city:<|"|>Os', "malformed", "gemma4", [("get_weather", None)]),
    ("functiongemma", "<start_function_call>call:get_weather{city:<escape>Oslo, {NO}<escape>,days:3}<end_function_call>",
     "call", "functiongemma", [("get_weather", {"city": "Oslo, {NO}", "days": 3})]),
    # Gemma 2/3 tool_code fence: the fence is the marker
    ("gemma_tool_code", 'Let me check.\n```tool_code\nget_weather(city="Oslo")\nget_time(tz="UTC")\n```', "call",
     "gemma_tool_code", [("get_weather", W), ("get_time", {"tz": "UTC"})]),
    ("gemma_python_fence_is_illustration", '```python\nget_weather(city="Oslo")\n```', "none", None, []),
]


@pytest.mark.parametrize("text,outcome,fmt,calls", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_pythonic_formats(text, outcome, fmt, calls):
    found = detect(text)
    assert (found.outcome, found.format) == (outcome, fmt), found
    assert found.calls == [ToolCall(n, a) for n, a in calls]


@pytest.mark.parametrize("text", [
    "[citation needed] is a common tag.",
    "[1, 2, 3]",
    "[link](https://example.com) and [foo(bar)] text",
    "Call get_weather(city='Oslo') to get the weather.",
])
def test_prose_that_looks_pythonic_is_not_a_call(text):
    assert detect(text).outcome == "none"
