"""Formats whose calls are JSON after a marker (or API JSON): one table row per output."""
import json

import pytest

from harness.detect import ToolCall, detect

W = {"city": "Oslo"}
T = {"tz": "UTC"}
# Code with quotes, braces, newlines and a closing-tag look-alike inside a string argument.
CODE = 'def f(s):\n    if "</tool_call>" in s or "}]" in s:\n        return {"a": [1, 2]}\n    return \'x\'\n'
NESTED = {"filter": {"and": [{"field": "age", "gt": 3}, {"field": "tags", "in": ["a", "b"]}]}, "limit": None}


def j(obj) -> str:
    return json.dumps(obj)


def call(name, args=None, key="arguments"):
    return j({"name": name, key: args if args is not None else {}})


CASES = [
    # Hermes / Qwen JSON in <tool_call>
    ("hermes_single", f"<tool_call>\n{call('get_weather', W)}\n</tool_call>", "call", "hermes_json", [("get_weather", W)]),
    ("hermes_parallel", f"<tool_call>\n{call('get_weather', W)}\n</tool_call>\n<tool_call>\n{call('get_time', T)}\n</tool_call>",
     "call", "hermes_json", [("get_weather", W), ("get_time", T)]),
    ("hermes_text_around", f"Let me check.\n<tool_call>\n{call('get_weather', W)}\n</tool_call>\nOne moment.",
     "call", "hermes_json", [("get_weather", W)]),
    ("hermes_nested", f"<tool_call>{call('search', NESTED)}</tool_call>", "call", "hermes_json", [("search", NESTED)]),
    ("hermes_code_with_closing_tag", f"<tool_call>\n{call('write', {'path': 'a.py', 'content': CODE})}\n</tool_call>",
     "call", "hermes_json", [("write", {"path": "a.py", "content": CODE})]),
    ("hermes_parameters_key", f"<tool_call>{call('get_weather', W, 'parameters')}</tool_call>", "call", "hermes_json",
     [("get_weather", W)]),
    ("hermes_arguments_first", '<tool_call>{"arguments": {"city": "Oslo"}, "name": "get_weather"}</tool_call>',
     "call", "hermes_json", [("get_weather", W)]),
    ("hermes_stringified_args", '<tool_call>{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}</tool_call>',
     "call", "hermes_json", [("get_weather", W)]),
    ("hermes_no_closing_tag_eos", f"<tool_call>\n{call('get_weather', W)}", "call", "hermes_json", [("get_weather", W)]),
    ("hermes_zero_args", '<tool_call>{"name": "get_time"}</tool_call>', "call", "hermes_json", [("get_time", {})]),
    ("hermes_single_quotes", "<tool_call>{'name': 'get_weather', 'arguments': {'city': 'Oslo', 'ok': True}}</tool_call>",
     "call", "hermes_json", [("get_weather", {"city": "Oslo", "ok": True})]),
    ("hermes_trailing_comma", '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo",},}</tool_call>',
     "call", "hermes_json", [("get_weather", W)]),
    ("hermes_raw_newline_in_string", '<tool_call>{"name": "note", "arguments": {"text": "a\nb"}}</tool_call>',
     "call", "hermes_json", [("note", {"text": "a\nb"})]),
    ("hermes_bad_escape", r'<tool_call>{"name": "grep", "arguments": {"pattern": "\d+"}}</tool_call>',
     "call", "hermes_json", [("grep", {"pattern": r"\d+"})]),
    ("hermes_shell_braces", '<tool_call>{"name": "sh", "arguments": {"cmd": "mkdir -p t/{a,b}"}}</tool_call>',
     "call", "hermes_json", [("sh", {"cmd": "mkdir -p t/{a,b}"})]),
    ("hermes_unicode", '<tool_call>{"name": "get_weather", "arguments": {"city": "北京"}}</tool_call>',
     "call", "hermes_json", [("get_weather", {"city": "北京"})]),
    ("hermes_end_token", f"<tool_call>{call('get_weather', W)}</tool_call><|im_end|>", "call", "hermes_json",
     [("get_weather", W)]),
    ("hermes_invalid_json", '<tool_call>{"name": "get_weather", "arguments": {city: Oslo}}</tool_call>',
     "malformed", "hermes_json", [("get_weather", None)]),
    ("hermes_not_call_shaped", '<tool_call>{"city": "Oslo"}</tool_call>', "malformed", "hermes_json", []),
    ("hermes_one_good_one_bad", f"<tool_call>{call('a', W)}</tool_call><tool_call>{{\"name\": \"b\", \"arguments\": {{oops</tool_call>",
     "malformed", "hermes_json", [("a", W), ("b", None)]),
    ("hermes_truncated_args", '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Os',
     "malformed", "hermes_json", [("get_weather", None)]),
    ("hermes_truncated_name", '<tool_call>\n{"name": "get_wea', "malformed", "hermes_json", []),
    ("hermes_empty_block", "<tool_call></tool_call>", "malformed", "hermes_json", []),
    # Granite
    ("granite30", f"<|tool_call|>[{call('get_weather', W)}, {call('get_time', T)}]", "call", "granite",
     [("get_weather", W), ("get_time", T)]),
    ("granite31_array_no_close", f"<tool_call>[{call('get_weather', W)}]", "call", "granite", [("get_weather", W)]),
    ("granite31_truncated_second", f'<tool_call>[{call("get_weather", W)}, {{"name": "get_time", "arguments": {{"tz',
     "malformed", "granite", [("get_weather", W), ("get_time", None)]),
    ("granite_20b_fc", f"<function_call> {call('get_weather', W)}\n<function_call> {call('get_time', T)}",
     "call", "granite", [("get_weather", W), ("get_time", T)]),
    # Llama 3.x
    ("llama_bare_parameters", call("get_weather", W, "parameters"), "call", "llama3_json", [("get_weather", W)]),
    ("llama_bare_semicolons", f"{call('get_weather', W, 'parameters')}; {call('get_time', T, 'parameters')}",
     "call", "llama3_json", [("get_weather", W), ("get_time", T)]),
    ("llama_bare_newlines", f"{call('get_weather', W)}\n{call('get_time', T)}", "call", "llama3_json",
     [("get_weather", W), ("get_time", T)]),
    ("llama_type_function", '{"type": "function", "name": "get_weather", "parameters": {"city": "Oslo"}}',
     "call", "llama3_json", [("get_weather", W)]),
    ("llama_python_tag", f"<|python_tag|>{call('get_weather', W, 'parameters')}<|eom_id|>", "call", "llama3_json",
     [("get_weather", W)]),
    ("llama_bare_truncated", '{"name": "get_weather", "parameters": {"city": "Os', "malformed", "llama3_json",
     [("get_weather", None)]),
    ("function_tag_json", f"<function=get_weather>{j(W)}</function>\n<function=get_time>{j(T)}</function>",
     "call", "function_tag_json", [("get_weather", W), ("get_time", T)]),
    ("function_tag_json_truncated", '<function=get_weather>{"city": "Os', "malformed", "function_tag_json",
     [("get_weather", None)]),
    # xLAM / plain JSON list
    ("json_list", f"[{call('get_weather', W)}, {call('get_time', T)}]", "call", "json_list",
     [("get_weather", W), ("get_time", T)]),
    ("json_list_python_tag_free_end_token", f"[{call('get_weather', W)}]<|eot_id|>", "call", "json_list",
     [("get_weather", W)]),
    # Mistral
    ("mistral_v0", f"[TOOL_CALLS] [{call('get_weather', W)}, {call('get_time', T)}]", "call", "mistral_v0",
     [("get_weather", W), ("get_time", T)]),
    ("mistral_v0_no_space_with_id", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo"}, "id": "Ab12Cd34E"}]',
     "call", "mistral_v0", [("get_weather", W)]),
    ("mistral_v0_trailing_text", f"[TOOL_CALLS] [{call('get_weather', W)}] I'll report back.", "call", "mistral_v0",
     [("get_weather", W)]),
    ("mistral_v0_content_before", f"Checking {{now}}. [TOOL_CALLS] [{call('get_weather', W)}]", "call", "mistral_v0",
     [("get_weather", W)]),
    ("mistral_v11", f"[TOOL_CALLS]get_weather[ARGS]{j(W)}", "call", "mistral_v11", [("get_weather", W)]),
    ("mistral_v11_parallel", f"[TOOL_CALLS]get_weather[ARGS]{j(W)}[TOOL_CALLS]get_time[ARGS]{j(T)}",
     "call", "mistral_v11", [("get_weather", W), ("get_time", T)]),
    ("mistral_v11_no_args_token", f"[TOOL_CALLS]get_weather{j(W)}", "call", "mistral_v11", [("get_weather", W)]),
    ("mistral_v11_nested", f"[TOOL_CALLS]search[ARGS]{j(NESTED)}", "call", "mistral_v11", [("search", NESTED)]),
    ("mistral_v11_code", f"[TOOL_CALLS]write[ARGS]{j({'content': CODE})}", "call", "mistral_v11",
     [("write", {"content": CODE})]),
    ("mistral_v11_truncated", '[TOOL_CALLS]get_weather[ARGS]{"city": "Os', "malformed", "mistral_v11",
     [("get_weather", None)]),
    ("mistral_v11_truncated_at_args_token", "[TOOL_CALLS]get_weather[ARG", "malformed", "mistral_v11",
     [("get_weather", None)]),
    ("mistral_v11_truncated_name", "[TOOL_CALLS]get_wea", "malformed", "mistral_v11", []),
    # Phi-4 functools (array-valued arguments must not cut the payload)
    ("phi4", f"functools[{call('plot', {'xs': [1, 2, 3], 'ys': [[1], [2]]})}]", "call", "phi4_functools",
     [("plot", {"xs": [1, 2, 3], "ys": [[1], [2]]})]),
    ("phi4_parameters", f" functools[{call('get_weather', W, 'parameters')}, {call('get_time', T)}]",
     "call", "phi4_functools", [("get_weather", W), ("get_time", T)]),
    # Tagged JSON families
    ("nemotron", f"<TOOLCALL>[{call('get_weather', W)}]</TOOLCALL>", "call", "nemotron_toolcall", [("get_weather", W)]),
    ("jamba", f"<tool_calls>[{call('get_weather', W)}, {call('get_time', T)}]</tool_calls>", "call", "jamba",
     [("get_weather", W), ("get_time", T)]),
    ("apriel", f"<thinking>plan</thinking><tool_calls>[{call('get_weather', W)}]</tool_calls>", "call", "jamba",
     [("get_weather", W)]),
    ("minimax_m1", f"<tool_calls>\n{call('get_weather', W)}\n{call('get_time', T)}\n</tool_calls>", "call",
     "minimax_m1", [("get_weather", W), ("get_time", T)]),
    ("internlm", f"Sure.<|action_start|><|plugin|>\n{call('get_weather', W, 'parameters')}<|action_end|>",
     "call", "internlm", [("get_weather", W)]),
    ("apertus_short_form", f"<|tools_prefix|>[{j({'get_weather': W})}, {j({'get_time': T})}]<|tools_suffix|>",
     "call", "apertus", [("get_weather", W), ("get_time", T)]),
    ("command_r_action", "Plan: look it up.\nAction: ```json\n"
     + j([{"tool_name": "get_weather", "parameters": W}, {"tool_name": "get_time", "parameters": T}]) + "\n```",
     "call", "command_r_action", [("get_weather", W), ("get_time", T)]),
    ("command_r_directly_answer", "Action: ```json\n" + j([{"tool_name": "directly_answer", "parameters": {}}]) + "\n```",
     "none", None, []),
    ("command_r7b", "<|START_THINKING|>Look it up.<|END_THINKING|><|START_ACTION|>"
     + j([{"tool_call_id": "0", "tool_name": "get_weather", "parameters": W}]) + "<|END_ACTION|>",
     "call", "command_r7b", [("get_weather", W)]),
    ("command_r7b_response_only", "<|START_RESPONSE|>It is sunny.<|END_RESPONSE|>", "none", None, []),
    # Kimi K2
    ("kimi", "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
     + j(W) + "<|tool_call_end|><|tool_call_begin|>functions.get_time:1<|tool_call_argument_begin|>" + j(T)
     + "<|tool_call_end|><|tool_calls_section_end|>", "call", "kimi_k2", [("get_weather", W), ("get_time", T)]),
    ("kimi_singular_section_no_prefix", "<|tool_call_section_begin|><|tool_call_begin|>get_weather:3"
     "<|tool_call_argument_begin|>" + j(W) + "<|tool_call_end|><|tool_call_section_end|>", "call", "kimi_k2",
     [("get_weather", W)]),
    ("kimi_dotted_name", "<|tool_calls_section_begin|><|tool_call_begin|>functions.fs.read:0<|tool_call_argument_begin|>"
     '{"path": "a"}<|tool_call_end|><|tool_calls_section_end|>', "call", "kimi_k2", [("fs.read", {"path": "a"})]),
    ("kimi_truncated", "<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
     '<|tool_call_argument_begin|>{"city": "Os', "malformed", "kimi_k2", [("get_weather", None)]),
    # DeepSeek
    ("deepseek_v3", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n" + j(W)
     + "\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_time\n```json\n" + j(T)
     + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "call", "deepseek_v3", [("get_weather", W), ("get_time", T)]),
    ("deepseek_r1_mangled", "<think>ok</think><｜tool_calls_begin｜><｜tool_call_begin｜>function<｜tool_sep｜>get_weather\n"
     "```json\n" + j(W) + "\n```<｜tool_call_end｜><｜tool_calls_end｜>", "call", "deepseek_v3", [("get_weather", W)]),
    ("deepseek_v31", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>" + j(W)
     + "<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "call", "deepseek_v31", [("get_weather", W)]),
    ("deepseek_v31_code", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>write<｜tool▁sep｜>" + j({"content": CODE})
     + "<｜tool▁call▁end｜><｜tool▁calls▁end｜>", "call", "deepseek_v31", [("write", {"content": CODE})]),
    ("deepseek_v3_truncated", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
     '{"city": "Os', "malformed", "deepseek_v3", [("get_weather", None)]),
    ("deepseek_v3_truncated_name", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_wea",
     "malformed", "deepseek_v3", []),
    # GPT-OSS harmony
    ("harmony", "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant<|channel|>commentary "
     "to=functions.get_weather <|constrain|>json<|message|>" + j(W) + "<|call|>", "call", "harmony", [("get_weather", W)]),
    ("harmony_recipient_before_channel", "<|start|>assistant to=functions.get_weather<|channel|>commentary json"
     "<|message|>" + j(W) + "<|call|>", "call", "harmony", [("get_weather", W)]),
    ("harmony_parallel", "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>" + j(W)
     + "<|call|><|start|>assistant<|channel|>commentary to=functions.get_time<|message|>" + j(T) + "<|call|>",
     "call", "harmony", [("get_weather", W), ("get_time", T)]),
    ("harmony_analysis_with_recipient", "<|channel|>analysis to=functions.get_weather code<|message|>" + j(W) + "<|call|>",
     "call", "harmony", [("get_weather", W)]),
    ("harmony_final_only", "<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant<|channel|>final<|message|>"
     "It is 4.<|return|>", "none", None, []),
    ("harmony_missing_call_token", "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>" + j(W),
     "call", "harmony", [("get_weather", W)]),
    ("harmony_truncated", "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\": \"Os",
     "malformed", "harmony", [("get_weather", None)]),
    ("harmony_truncated_recipient", "<|channel|>commentary to=functions.get_wea", "malformed", "harmony", []),
    # OpenAI native / llama.cpp generic
    ("openai_message", j({"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": j(W)}},
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}]}),
     "call", "openai_native", [("get_weather", W), ("get_time", {})]),
    ("openai_response", j({"choices": [{"message": {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": j(W)}}]},
        "finish_reason": "tool_calls"}]}), "call", "openai_native", [("get_weather", W)]),
    ("openai_bare_list", j([{"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": j(W)}}]),
     "call", "openai_native", [("get_weather", W)]),
    ("openai_legacy_function_call", j({"role": "assistant", "function_call": {"name": "get_weather", "arguments": j(W)}}),
     "call", "openai_native", [("get_weather", W)]),
    ("anthropic_tool_use", j({"role": "assistant", "content": [{"type": "text", "text": "Checking."},
                                                               {"type": "tool_use", "id": "t", "name": "get_weather", "input": W}]}),
     "call", "openai_native", [("get_weather", W)]),
    ("openai_truncated_arguments", j({"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Os'}}]}),
     "malformed", "openai_native", [("get_weather", None)]),
    ("openai_empty_tool_calls", j({"role": "assistant", "content": "Hi", "tool_calls": []}), "none", None, []),
    ("llamacpp_generic_tool_call", j({"tool_call": {"name": "get_weather", "arguments": W}}), "call",
     "llamacpp_generic", [("get_weather", W)]),
    ("llamacpp_generic_tool_calls", j({"tool_calls": [{"name": "get_weather", "arguments": W}]}), "call",
     "llamacpp_generic", [("get_weather", W)]),
    ("llamacpp_generic_response", j({"response": "It is sunny."}), "none", None, []),
    # Prompted and transcript forms
    ("qwen_bracket", f"[Calling tool: get_weather({j(W)})]", "call", "qwen_bracket", [("get_weather", W)]),
    ("react", f"Thought: I need the weather.\nAction: get_weather\nAction Input: {j(W)}\nObservation:",
     "call", "react", [("get_weather", W)]),
    ("react_plain_input", "Action: search\nAction Input: weather in Oslo", "call", "react",
     [("search", {"input": "weather in Oslo"})]),
    ("functionary_v32", f">>>get_weather\n{j(W)}>>>get_time\n{j(T)}>>>all\nChecking both.", "call",
     "functionary_v32", [("get_weather", W), ("get_time", T)]),
    ("functionary_v32_first_without_marker", f"get_weather\n{j(W)}", "call", "functionary_v32", [("get_weather", W)]),
    ("functionary_v32_python", ">>>python\nprint(2 + 2)", "call", "functionary_v32", [("python", {"code": "print(2 + 2)"})]),
]


@pytest.mark.parametrize("text,outcome,fmt,calls", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_json_formats(text, outcome, fmt, calls):
    found = detect(text)
    assert (found.outcome, found.format) == (outcome, fmt), found
    assert found.calls == [ToolCall(n, a) for n, a in calls]
    if outcome == "call":
        assert found.near_miss is None
