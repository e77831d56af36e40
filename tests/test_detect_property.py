"""detect never raises and always returns a well-formed Detection: on arbitrary text, on realistic
outputs cut at every position, and on outputs with characters inserted or deleted."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.detect import Detection, ToolCall, detect

ARGS = '{"city": "Oslo", "n": [1, {"k": "</tool_call>"}], "code": "if x:\\n    y = \'}\'"}'
SAMPLES = [
    f'<think>plan</think><tool_call>\n{{"name": "get_weather", "arguments": {ARGS}}}\n</tool_call>',
    "<tool_call>\n<function=write>\n<parameter=path>\na.py\n</parameter>\n<parameter=content>\nprint('</parameter>')\n"
    "</parameter>\n</function>\n</tool_call>",
    "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n</tool_call>",
    f"[TOOL_CALLS]get_weather[ARGS]{ARGS}[TOOL_CALLS]get_time[ARGS]{{}}",
    f'[TOOL_CALLS] [{{"name": "get_weather", "arguments": {ARGS}}}]',
    '[get_weather(city="Oslo", days=3, hint=None), get_time(tz=\'UTC\')]',
    '<|tool_call>call:get_weather{city:<|"|>Oslo<|"|>,obj:{a:[1,2]}}<tool_call|>',
    "<start_function_call>call:f{a:<escape>x<escape>}<end_function_call>",
    "```tool_code\nget_weather(city=\"Oslo\")\n```",
    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n" + ARGS
    + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    '<｜DSML｜function_calls><｜DSML｜invoke name="f"><｜DSML｜parameter name="a" string="false">[1]</｜DSML｜parameter>'
    "</｜DSML｜invoke></｜DSML｜function_calls>",
    "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>" + ARGS
    + "<|tool_call_end|><|tool_calls_section_end|>",
    '<minimax:tool_call>\n<invoke name="f">\n<parameter name="a">1</parameter>\n</invoke>\n</minimax:tool_call>',
    "<|channel|>analysis<|message|>hm<|end|><|start|>assistant<|channel|>commentary to=functions.f <|constrain|>json"
    "<|message|>" + ARGS + "<|call|>",
    'Action: ```json\n[{"tool_name": "f", "parameters": {"a": 1}}]\n```',
    '{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}',
    '{"name": "f", "parameters": {"a": 1}}; {"name": "g", "parameters": {}}',
    "<|python_tag|>brave_search.call(query=\"x\")<|eom_id|>",
    ">>>f\n{\"a\": 1}>>>all\ntext",
    "<|START_THINKING|>x<|END_THINKING|><|START_ACTION|>[{\"tool_name\": \"f\", \"parameters\": {}}]<|END_ACTION|>",
    "<function_calls>\nf(a=1)\n</function_calls>",
]
PROSE = "Here is an example:\n```json\n{\"name\": \"f\", \"arguments\": {}}\n```\nand <tool_call> in prose."
# Marker fragments make random text reach the parsers instead of the prose fast path.
PIECES = ["<tool_call>", "</tool_call>", "{", "}", "[", "]", '"', "'", ":", ",", "name", "arguments", "(", ")", "=",
          "<function=", "<parameter=", "</parameter>", "</function>", "<think>", "</think>", "[TOOL_CALLS]", "[ARGS]",
          "```", "\n", "<|python_tag|>", "<invoke name=", "<|channel|>", "<|message|>", "to=functions.", "call:",
          '<|"|>', "<arg_key>", "<arg_value>", "functools", ">>>", "Action:", "1", "true", "None", "\\", "x"]


def assert_well_formed(found):
    assert isinstance(found, Detection)
    assert found.outcome in ("call", "malformed", "none")
    assert found.format is None or isinstance(found.format, str)
    assert found.near_miss is None or isinstance(found.near_miss, str)
    assert not (found.near_miss or "").startswith("detector error"), found.near_miss
    assert isinstance(found.calls, list)
    for call in found.calls:
        assert isinstance(call, ToolCall) and isinstance(call.name, str)
        assert call.arguments is None or isinstance(call.arguments, dict)
    if found.outcome == "call":
        assert found.calls and found.format and all(c.arguments is not None for c in found.calls)
    if found.outcome == "none":
        assert not found.calls
    json.dumps(found.to_dict())


def test_every_truncation_of_real_outputs():
    assert all(detect(sample).outcome == "call" for sample in SAMPLES)
    for sample in SAMPLES + [PROSE]:
        for cut in range(len(sample)):
            assert_well_formed(detect(sample[:cut]))


FAST = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    assert_well_formed(detect(text))


@FAST
@given(st.lists(st.sampled_from(PIECES), max_size=40).map("".join))
def test_marker_soup(text):
    assert_well_formed(detect(text))


# Every code point, lone surrogates and control characters included, between marker fragments.
ANY_CHAR = st.characters(blacklist_categories=(), codec=None)


@FAST
@given(st.lists(st.sampled_from(PIECES) | st.text(ANY_CHAR, max_size=3), max_size=40).map("".join))
def test_marker_soup_with_any_character(text):
    assert_well_formed(detect(text))


@FAST
@given(st.sampled_from(SAMPLES), st.integers(0, 10_000), st.text(ANY_CHAR, min_size=1, max_size=4))
def test_any_character_inside_real_outputs(sample, where, chars):
    at = where % (len(sample) + 1)
    assert_well_formed(detect(sample[:at] + chars + sample[at:]))


@FAST
@given(st.sampled_from(SAMPLES + [PROSE]), st.lists(st.tuples(st.booleans(), st.integers(0, 10_000), st.sampled_from(PIECES)),
                                          min_size=1, max_size=4))
def test_mutated_real_outputs(sample, edits):
    text = sample
    for insert, where, piece in edits:
        at = where % (len(text) + 1)
        text = text[:at] + piece + text[at:] if insert else text[:at] + text[at + 1:]
    assert_well_formed(detect(text))


LEAF = st.none() | st.sampled_from(["name", "f", "parameters", "properties", "type", "integer", "a"]) | st.integers()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SAMPLES), st.lists(st.dictionaries(LEAF.filter(lambda x: isinstance(x, str)), st.recursive(
    LEAF, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["type", "properties", "a"]), c),
    max_leaves=4)), max_size=3))
def test_arbitrary_tool_lists(sample, tools):
    assert_well_formed(detect(sample, tools))
