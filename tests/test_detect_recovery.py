"""Detection, second round: recovered closers, every call of mixed and repeated blocks, complete
calls before a cut inside a list, the format variants of the research notes, Python-literal XML
values, tool results in harmony, stray brackets and fences inside native markers. One row per
case: (id, output, outcome, format, calls); the outputs are written for this project."""
import json

import pytest

from harness.detect import ToolCall, detect

SKY = {"place": "Bergen"}
HOUR = {"zone": "CET"}
NOTE = {"title": "groceries", "items": ["milk", "eggs"]}


def j(obj) -> str:
    return json.dumps(obj)


def hermes(name, args) -> str:
    return f"<tool_call>\n{j({'name': name, 'arguments': args})}\n</tool_call>"


def coder(name, body) -> str:
    return f"<tool_call>\n<function={name}>\n{body}</function>\n</tool_call>"


def m2(invokes) -> str:
    return f"<minimax:tool_call>\n{invokes}</minimax:tool_call>"


CASES = [
    # 1. closers missing or garbled in XML formats
    ("qwen3_coder_xml_param_left_open", coder("forecast", "<parameter=place>\nBergen\n<parameter=days>\n2\n</parameter>\n"),
     "call", "qwen3_coder_xml", [("forecast", {"place": "Bergen", "days": 2})]),
    ("qwen3_coder_xml_closer_with_slash", coder("forecast", "<parameter=place>\nBergen\n</parameter/>\n"),
     "call", "qwen3_coder_xml", [("forecast", SKY)]),
    ("qwen3_coder_xml_closer_with_digit", coder("forecast", "<parameter=place>\nBergen\n</parameter1>\n<parameter=days>\n4\n"
                                                "</parameter2>\n"), "call", "qwen3_coder_xml",
     [("forecast", {"place": "Bergen", "days": 4})]),
    ("qwen3_coder_xml_closer_doubled", coder("forecast", "<parameter=place>\nBergen\n</parameter>\n</parameter>\n"),
     "call", "qwen3_coder_xml", [("forecast", SKY)]),
    ("qwen3_coder_xml_function_closer_missing", "<tool_call>\n<function=forecast>\n<parameter=place>\nBergen\n</parameter>\n"
     "</tool_call>", "call", "qwen3_coder_xml", [("forecast", SKY)]),
    ("qwen3_coder_xml_every_closer_missing", "<tool_call>\n<function=forecast>\n<parameter=place>\nBergen\n</tool_call>",
     "call", "qwen3_coder_xml", [("forecast", SKY)]),
    ("qwen3_coder_xml_literal_header_mid_line_stays", coder("doc", "<parameter=text>\nwrite <parameter=x> tags\n</parameter>\n"),
     "call", "qwen3_coder_xml", [("doc", {"text": "write <parameter=x> tags"})]),
    ("glm47_value_left_open", "<tool_call>forecast<arg_key>place</arg_key><arg_value>Bergen<arg_key>days</arg_key>"
     "<arg_value>3</arg_value></tool_call>", "call", "glm47", [("forecast", {"place": "Bergen", "days": 3})]),
    ("glm45_key_closer_doubled", "<tool_call>forecast\n<arg_key>place</arg_key></arg_key>\n<arg_value>Bergen</arg_value>\n"
     "</tool_call>", "call", "glm45", [("forecast", SKY)]),
    ("glm45_value_closer_doubled", "<tool_call>forecast\n<arg_key>place</arg_key>\n<arg_value>Bergen</arg_value></arg_value>\n"
     "</tool_call>", "call", "glm45", [("forecast", SKY)]),
    ("glm45_value_closer_garbled", "<tool_call>forecast\n<arg_key>place</arg_key>\n<arg_value>Bergen</arg_value/>\n"
     "</tool_call>", "call", "glm45", [("forecast", SKY)]),
    ("minimax_m2_parameter_left_open", m2('<invoke name="forecast">\n<parameter name="place">Bergen\n<parameter name="days">5'
                                          "</parameter>\n</invoke>\n"), "call", "minimax_m2",
     [("forecast", {"place": "Bergen", "days": 5})]),
    ("minimax_m2_invoke_closer_missing", m2('<invoke name="forecast">\n<parameter name="place">Bergen</parameter>\n'),
     "call", "minimax_m2", [("forecast", SKY)]),
    ("anthropic_xml_next_invoke_ends_call", '<function_calls>\n<invoke name="forecast">\n<parameter name="place">Bergen'
     '</parameter>\n<invoke name="clock">\n<parameter name="zone">CET</parameter>\n</invoke>\n</function_calls>',
     "call", "anthropic_xml", [("forecast", SKY), ("clock", HOUR)]),
    # 2. repeated blocks and mixed formats: every complete call counts
    ("lfm2_two_blocks", '<|tool_call_start|>[forecast(place="Bergen")]<|tool_call_end|>Checking the hour too.'
     '<|tool_call_start|>[clock(zone="CET")]<|tool_call_end|>', "call", "lfm2", [("forecast", SKY), ("clock", HOUR)]),
    ("hermes_json_then_qwen3_coder_xml", hermes("forecast", SKY) + "\n" + coder("clock", "<parameter=zone>\nCET\n</parameter>\n"),
     "call", "hermes_json", [("forecast", SKY), ("clock", HOUR)]),
    ("qwen3_coder_xml_then_hermes_json", coder("clock", "<parameter=zone>\nCET\n</parameter>\n") + "\n" + hermes("forecast", SKY),
     "call", "qwen3_coder_xml", [("clock", HOUR), ("forecast", SKY)]),
    ("function_tag_json_then_python_tag", f"<function=forecast>{j(SKY)}</function>\n<|python_tag|>"
     + j({"name": "clock", "parameters": HOUR}), "call", "function_tag_json", [("forecast", SKY), ("clock", HOUR)]),
    ("mistral_v0_two_lists", f"[TOOL_CALLS] [{j({'name': 'forecast', 'arguments': SKY})}] and also "
     f"[TOOL_CALLS] [{j({'name': 'clock', 'arguments': HOUR})}]", "call", "mistral_v0", [("forecast", SKY), ("clock", HOUR)]),
    ("mistral_v11_then_v0", f"[TOOL_CALLS]forecast[ARGS]{j(SKY)}[TOOL_CALLS][{j({'name': 'clock', 'arguments': HOUR})}]",
     "call", "mistral_v11", [("forecast", SKY), ("clock", HOUR)]),
    ("gemma4_then_hermes_json", '<|tool_call>call:forecast{place:<|"|>Bergen<|"|>}<tool_call|>' + hermes("clock", HOUR),
     "call", "gemma4", [("forecast", SKY), ("clock", HOUR)]),
    ("glm45_then_glm45", "<tool_call>forecast\n<arg_key>place</arg_key>\n<arg_value>Bergen</arg_value>\n</tool_call>\n"
     "<tool_call>clock\n<arg_key>zone</arg_key>\n<arg_value>CET</arg_value>\n</tool_call>", "call", "glm45",
     [("forecast", SKY), ("clock", HOUR)]),
    ("kimi_k2_then_hermes_json", "<|tool_calls_section_begin|><|tool_call_begin|>functions.forecast:0<|tool_call_argument_begin|>"
     + j(SKY) + "<|tool_call_end|><|tool_calls_section_end|>" + hermes("clock", HOUR), "call", "kimi_k2",
     [("forecast", SKY), ("clock", HOUR)]),
    ("hermes_json_then_marker_in_prose", hermes("forecast", SKY) + "\nI wrapped it in <tool_call> tags as asked.",
     "call", "hermes_json", [("forecast", SKY)]),
    ("hermes_json_then_cut_qwen3_coder_xml", hermes("forecast", SKY) + "\n<tool_call>\n<function=clock>\n<parameter=zone>\nCE",
     "malformed", "hermes_json", [("forecast", SKY), ("clock", None)]),
    # 3. a cut inside a list keeps the complete calls before it
    ("json_list_cut_after_first", f'[{j({"name": "forecast", "arguments": SKY})}, {{"name": "clock", "argu',
     "malformed", "json_list", [("forecast", SKY), ("clock", None)]),
    ("json_list_cut_before_second_name", f'[{j({"name": "forecast", "arguments": SKY})}, {{"na',
     "malformed", "json_list", [("forecast", SKY)]),
    ("phi4_functools_cut_after_first", f'functools[{j({"name": "forecast", "arguments": SKY})}, {{"name": "clock"',
     "malformed", "phi4_functools", [("forecast", SKY), ("clock", None)]),
    ("nemotron_toolcall_cut_after_first", f'<TOOLCALL>[{j({"name": "forecast", "arguments": SKY})}, {{"name": "clock", "arguments": {{',
     "malformed", "nemotron_toolcall", [("forecast", SKY), ("clock", None)]),
    ("minimax_m1_broken_line_before_good", "<tool_calls>\n{\"name\": \"forecast\", \"arguments\": {place: \"Ber\n"
     + j({"name": "clock", "arguments": HOUR}) + "\n</tool_calls>", "malformed", "minimax_m1",
     [("forecast", None), ("clock", HOUR)]),
    ("minimax_m1_unnamed_broken_line_before_good", "<tool_calls>\n{oops}\n" + j({"name": "clock", "arguments": HOUR})
     + "\n</tool_calls>", "malformed", "minimax_m1", [("clock", HOUR)]),
    ("apertus_second_call_cut", f'<|tools_prefix|>[{j({"forecast": SKY})}, {{"clock": {{"zone": "CE',
     "malformed", "apertus", [("forecast", SKY), ("clock", None)]),
    ("pythonic_cut_after_first", '[forecast(place="Bergen"), clock(zone="CE', "malformed", "pythonic",
     [("forecast", SKY), ("clock", None)]),
    ("granite_cut_after_first", f'<|tool_call|>[{j({"name": "forecast", "arguments": SKY})}, {{"name": "clock", "arguments": {{"zo',
     "malformed", "granite", [("forecast", SKY), ("clock", None)]),
    # 4. format variants from the research notes
    ("step3_with_function_sep", "<｜tool_calls_begin｜><｜tool_call_begin｜>function<｜tool_sep｜><steptml:invoke name=\"forecast\">"
     '<steptml:parameter name="place">Bergen</steptml:parameter></steptml:invoke><｜tool_call_end｜><｜tool_calls_end｜>',
     "call", "step3", [("forecast", SKY)]),
    ("step3_without_function_sep", "<｜tool_calls_begin｜><｜tool_call_begin｜><steptml:invoke name=\"forecast\">"
     '<steptml:parameter name="place">Bergen</steptml:parameter></steptml:invoke><｜tool_call_end｜><｜tool_calls_end｜>',
     "call", "step3", [("forecast", SKY)]),
    ("step3_two_calls", "<｜tool_calls_begin｜><｜tool_call_begin｜>function<｜tool_sep｜><steptml:invoke name=\"forecast\">"
     '<steptml:parameter name="place">Bergen</steptml:parameter></steptml:invoke><｜tool_call_end｜>'
     "<｜tool_call_begin｜>function<｜tool_sep｜><steptml:invoke name=\"clock\"><steptml:parameter name=\"zone\">CET"
     "</steptml:parameter></steptml:invoke><｜tool_call_end｜><｜tool_calls_end｜>", "call", "step3",
     [("forecast", SKY), ("clock", HOUR)]),
    ("qwen3_coder_xml_json_body", f"<tool_call>\n<function=forecast>\n{j(SKY)}\n</function>\n</tool_call>",
     "call", "qwen3_coder_xml", [("forecast", SKY)]),
    ("function_tag_json_name_attribute", f'<function name="forecast">{j(SKY)}</function>', "call", "function_tag_json",
     [("forecast", SKY)]),
    ("function_tag_json_name_attribute_two", f"<function name='forecast'>{j(SKY)}</function>\n"
     f'<function name="clock">{j(HOUR)}</function>', "call", "function_tag_json", [("forecast", SKY), ("clock", HOUR)]),
    ("deepseek_v3_short_section_token", "<｜tool▁calls｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>forecast\n```json\n"
     + j(SKY) + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "call", "deepseek_v3", [("forecast", SKY)]),
    ("deepseek_v3_short_section_no_call_token", "<｜tool▁calls｜>function<｜tool▁sep｜>forecast\n```json\n" + j(SKY)
     + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "call", "deepseek_v3", [("forecast", SKY)]),
    ("deepseek_v3_escaped_underscores", "<｜tool\\_calls\\_begin｜><｜tool\\_call\\_begin｜>function<｜tool\\_sep｜>forecast\n"
     "```json\n" + j(SKY) + "\n```<｜tool\\_call\\_end｜><｜tool\\_calls\\_end｜>", "call", "deepseek_v3", [("forecast", SKY)]),
    ("deepseek_v3_spaces", "<｜tool calls begin｜><｜tool call begin｜>function<｜tool sep｜>forecast\n```json\n" + j(SKY)
     + "\n```<｜tool call end｜><｜tool calls end｜>", "call", "deepseek_v3", [("forecast", SKY)]),
    ("anthropic_xml_legacy_tool_name", "<function_calls>\n<invoke>\n<tool_name>forecast</tool_name>\n<parameters>\n"
     "<place>Bergen</place>\n<days>2</days>\n</parameters>\n</invoke>\n</function_calls>", "call", "anthropic_xml",
     [("forecast", {"place": "Bergen", "days": 2})]),
    ("anthropic_xml_legacy_two_invokes", "<function_calls><invoke><tool_name>forecast</tool_name><parameters><place>Bergen"
     "</place></parameters></invoke><invoke><tool_name>clock</tool_name></invoke></function_calls>", "call",
     "anthropic_xml", [("forecast", SKY), ("clock", {})]),
    ("anthropic_xml_legacy_cut", "<function_calls>\n<invoke>\n<tool_name>forecast</tool_name>\n<parameters>\n<place>Ber",
     "malformed", "anthropic_xml", [("forecast", None)]),
    ("functionary_v2", "<|from|>assistant\n<|recipient|>forecast\n<|content|>" + j(SKY), "call", "functionary_v2",
     [("forecast", SKY)]),
    ("functionary_v2_two_calls", "<|from|>assistant\n<|recipient|>forecast\n<|content|>" + j(SKY) + "<|stop|>\n"
     "<|from|>assistant\n<|recipient|>clock\n<|content|>" + j(HOUR), "call", "functionary_v2",
     [("forecast", SKY), ("clock", HOUR)]),
    ("functionary_v2_answer_then_call", "<|from|>assistant\n<|recipient|>all\n<|content|>Let me look.\n<|from|>assistant\n"
     "<|recipient|>forecast\n<|content|>" + j(SKY), "call", "functionary_v2", [("forecast", SKY)]),
    ("functionary_v2_answer_only", "<|from|>assistant\n<|recipient|>all\n<|content|>It will rain.", "none", None, []),
    ("functionary_v2_cut", "<|from|>assistant\n<|recipient|>forecast\n<|content|>{\"place\": \"Ber", "malformed",
     "functionary_v2", [("forecast", None)]),
    # 5. values: Python literals in XML values map to JSON
    ("qwen3_coder_xml_python_dict_value", coder("save", "<parameter=note>\n{'title': 'groceries', 'items': ['milk', 'eggs']}\n"
                                                "</parameter>\n<parameter=opts>\n{'pin': True, 'due': None}\n</parameter>\n"),
     "call", "qwen3_coder_xml", [("save", {"note": NOTE, "opts": {"pin": True, "due": None}})]),
    ("glm47_python_list_value", "<tool_call>save<arg_key>items</arg_key><arg_value>['milk', 'eggs']</arg_value></tool_call>",
     "call", "glm47", [("save", {"items": ["milk", "eggs"]})]),
    ("minimax_m2_python_dict_value", m2('<invoke name="save">\n<parameter name="note">{\'title\': \'groceries\', '
                                        "'items': ['milk', 'eggs']}</parameter>\n</invoke>\n"), "call", "minimax_m2",
     [("save", {"note": NOTE})]),
    ("anthropic_xml_shell_braces_stay_text", '<invoke name="sh"><parameter name="cmd">{a,b}</parameter></invoke>',
     "call", "anthropic_xml", [("sh", {"cmd": "{a,b}"})]),
    # 6. roles: a harmony message from a tool is a result, not a call
    ("harmony_tool_result_only", "<|start|>functions.forecast to=assistant<|channel|>commentary<|message|>"
     '{"rain": true}<|end|>', "none", None, []),
    ("harmony_tool_result_then_call", "<|start|>functions.forecast to=assistant<|channel|>commentary<|message|>"
     '{"rain": true}<|end|><|start|>assistant<|channel|>commentary to=functions.clock <|constrain|>json<|message|>'
     + j(HOUR) + "<|call|>", "call", "harmony", [("clock", HOUR)]),
    # 7. recovery: a stray `]`, a fence inside a native marker
    ("json_list_stray_bracket", f"[{j({'name': 'forecast', 'arguments': SKY})}]]", "call", "json_list", [("forecast", SKY)]),
    ("pythonic_stray_bracket", '[forecast(place="Bergen")]]', "call", "pythonic", [("forecast", SKY)]),
    ("mistral_v0_stray_bracket", f"[TOOL_CALLS] [{j({'name': 'forecast', 'arguments': SKY})}]]", "call", "mistral_v0",
     [("forecast", SKY)]),
    ("hermes_json_fenced_inside_marker", "<tool_call>\n```json\n" + j({"name": "forecast", "arguments": SKY}) + "\n```\n"
     "</tool_call>", "call", "hermes_json", [("forecast", SKY)]),
    ("hermes_json_bare_fence_inside_marker", "<tool_call>```" + j({"name": "forecast", "arguments": SKY}) + "```</tool_call>",
     "call", "hermes_json", [("forecast", SKY)]),
    ("jamba_fenced_inside_marker", "<tool_calls>\n```json\n" + j([{"name": "forecast", "arguments": SKY}]) + "\n```\n"
     "</tool_calls>", "call", "jamba", [("forecast", SKY)]),
    ("hermes_json_fence_outside_marker_is_illustration", "Like this:\n```\n" + hermes("forecast", SKY) + "\n```",
     "none", None, []),
]


@pytest.mark.parametrize("text,outcome,fmt,calls", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_recovery(text, outcome, fmt, calls):
    found = detect(text)
    assert (found.outcome, found.format) == (outcome, fmt), found
    assert found.calls == [ToolCall(n, a) for n, a in calls]


NEW_VARIANTS = [c for c in CASES if c[2] == "call" and c[0].split("_")[0] in (
    "step3", "deepseek", "functionary", "anthropic", "function", "qwen3", "glm45", "glm47", "minimax", "lfm2", "hermes")]


@pytest.mark.parametrize("text", [c[1] for c in NEW_VARIANTS], ids=[c[0] for c in NEW_VARIANTS])
def test_every_cut_keeps_complete_calls_and_names(text):
    """Cut at every position, an output yields a prefix of the full output's calls: each complete
    call as in the full output, a cut call only by its full name with unknown arguments."""
    full = detect(text).calls
    for cut in range(len(text)):
        found = detect(text[:cut])
        assert found.outcome != "call" or len(found.calls) <= len(full), (cut, found)
        for got, want in zip(found.calls, full):
            assert got.name == want.name and got.arguments in (None, want.arguments), (cut, found)
        assert len(found.calls) <= len(full), (cut, found)


@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x1c", "\x7f", "\u2028", "\ud800", "\x0b\x0c"])
@pytest.mark.parametrize("template", [
    coder("f", "<parameter=v>\n1{c}2\n</parameter>\n"),
    "<tool_call>f<arg_key>v</arg_key><arg_value>1{c}2</arg_value></tool_call>",
    '<invoke name="f"><parameter name="v">1{c}2</parameter></invoke>',
    '<tool_call>{{"name": "f", "arguments": {{"v": "1{c}2"}}}}</tool_call>',
    '[f(v="1{c}2")]',
])
def test_control_characters_in_values_never_raise(template, control):
    text = template.replace("{c}", control).replace("{{", "{").replace("}}", "}")
    found = detect(text, [{"name": "f", "parameters": {"properties": {"v": {"type": "integer"}}}}])
    assert not (found.near_miss or "").startswith("detector error"), found
    assert [c.name for c in found.calls] == ["f"]
