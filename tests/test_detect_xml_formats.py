"""XML-style formats (one tag per parameter) and schema-aware typing of their raw values."""
import pytest

from harness.detect import ToolCall, detect

W = {"city": "Oslo"}
CODE = 'def f(s):\n    if "</parameter>" in s or "</function>" in s:\n        return {"a": [1, 2]}\n    return s\n'


def qwen(name, **params):
    body = "".join(f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in params.items())
    return f"<tool_call>\n<function={name}>\n{body}</function>\n</tool_call>"


def invoke(name, ns="", **params):
    body = "".join(f'<{ns}parameter name="{k}">{v}</{ns}parameter>\n' for k, v in params.items())
    return f'<{ns}invoke name="{name}">\n{body}</{ns}invoke>'


CASES = [
    # Qwen3-Coder / Qwen3.5 XML
    ("qwen_single", qwen("get_weather", city="Oslo"), "call", "qwen3_coder_xml", [("get_weather", W)]),
    ("qwen_parallel", qwen("get_weather", city="Oslo") + "\n" + qwen("get_time", tz="UTC"), "call", "qwen3_coder_xml",
     [("get_weather", W), ("get_time", {"tz": "UTC"})]),
    ("qwen_json_typed_values", qwen("f", n="3", ok="true", xs="[1, 2]", obj='{"a": {"b": null}}', s="hello"),
     "call", "qwen3_coder_xml", [("f", {"n": 3, "ok": True, "xs": [1, 2], "obj": {"a": {"b": None}}, "s": "hello"})]),
    ("qwen_code_with_closing_tags", qwen("write", path="a.py", content=CODE), "call", "qwen3_coder_xml",
     [("write", {"path": "a.py", "content": CODE})]),
    ("qwen_multiline_keeps_inner_newlines", qwen("note", text="\nline one\n\nline two\n"), "call", "qwen3_coder_xml",
     [("note", {"text": "\nline one\n\nline two\n"})]),
    ("qwen_text_before", "I'll look that up.\n\n" + qwen("get_weather", city="Oslo"), "call", "qwen3_coder_xml",
     [("get_weather", W)]),
    ("qwen_without_wrapper", "<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>", "call",
     "qwen3_coder_xml", [("get_weather", W)]),
    ("qwen_zero_params", "<tool_call>\n<function=get_time>\n</function>\n</tool_call>", "call", "qwen3_coder_xml",
     [("get_time", {})]),
    ("qwen_missing_parameter_close", "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</function>\n</tool_call>",
     "call", "qwen3_coder_xml", [("get_weather", W)]),
    ("qwen_iso_date_stays_string", qwen("book", date="2026-01-15", version="3.10.5-beta"), "call", "qwen3_coder_xml",
     [("book", {"date": "2026-01-15", "version": "3.10.5-beta"})]),
    ("qwen_missing_function_close", "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n",
     "malformed", "qwen3_coder_xml", [("get_weather", None)]),
    ("qwen_truncated_value", "<tool_call>\n<function=get_weather>\n<parameter=city>\nOs", "malformed",
     "qwen3_coder_xml", [("get_weather", None)]),
    ("qwen_truncated_name", "<tool_call>\n<function=get_wea", "malformed", "qwen3_coder_xml", []),
    ("qwen_parallel_second_truncated", qwen("get_weather", city="Oslo") + "\n<tool_call>\n<function=get_time>\n<param",
     "malformed", "qwen3_coder_xml", [("get_weather", W), ("get_time", None)]),
    ("seed_oss", "<seed:think>Weather needed.</seed:think><seed:tool_call>\n<function=get_weather>\n"
     "<parameter=city>Oslo</parameter>\n</function>\n</seed:tool_call>", "call", "seed_oss", [("get_weather", W)]),
    # GLM
    ("glm45", "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n"
     "<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n</tool_call>", "call", "glm45",
     [("get_weather", {"city": "Oslo", "days": 3})]),
    ("glm47", "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Oslo</arg_value></tool_call>"
     "<tool_call>get_time<arg_key>tz</arg_key><arg_value>UTC</arg_value></tool_call>", "call", "glm47",
     [("get_weather", W), ("get_time", {"tz": "UTC"})]),
    ("glm47_zero_args", "<tool_call>get_time</tool_call>", "call", "glm47", [("get_time", {})]),
    ("glm_code_value", "<tool_call>write<arg_key>content</arg_key><arg_value>" + CODE + "</arg_value></tool_call>",
     "call", "glm47", [("write", {"content": CODE[:-1]})]),  # one trailing newline belongs to the markup
    ("glm_truncated", "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Os", "malformed", "glm45",
     [("get_weather", None)]),
    ("hunyuan", "<tool_calls>\n<tool_call>get_weather<tool_sep>\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n"
     "</tool_call>\n</tool_calls>", "call", "hunyuan", [("get_weather", W)]),
    ("longcat", "<longcat_tool_call>get_weather\n<longcat_arg_key>city</longcat_arg_key>\n"
     "<longcat_arg_value>Oslo</longcat_arg_value>\n</longcat_tool_call>", "call", "longcat", [("get_weather", W)]),
    ("longcat_truncated_name", "<longcat_tool_call>get_wea", "malformed", "longcat", []),
    # <invoke> family
    ("anthropic", "<function_calls>\n" + invoke("get_weather", city="Oslo") + "\n" + invoke("get_time", tz="UTC")
     + "\n</function_calls>", "call", "anthropic_xml", [("get_weather", W), ("get_time", {"tz": "UTC"})]),
    ("anthropic_json_values", "<function_calls>\n" + invoke("f", xs="[1, 2]", opts='{"deep": true}') + "\n</function_calls>",
     "call", "anthropic_xml", [("f", {"xs": [1, 2], "opts": {"deep": True}})]),
    ("anthropic_bare_invoke", invoke("get_weather", city="Oslo"), "call", "anthropic_xml", [("get_weather", W)]),
    ("anthropic_truncated_header", '<function_calls>\n<invoke name="get_we', "malformed", "anthropic_xml", []),
    ("anthropic_missing_invoke_close", '<function_calls>\n<invoke name="get_weather">\n<parameter name="city">Oslo</parameter>\n',
     "malformed", "anthropic_xml", [("get_weather", None)]),
    ("minimax_m2", "<think>Need weather.</think>\n<minimax:tool_call>\n" + invoke("get_weather", city="Oslo") + "\n"
     + invoke("get_time", tz="UTC") + "\n</minimax:tool_call>", "call", "minimax_m2",
     [("get_weather", W), ("get_time", {"tz": "UTC"})]),
    ("minimax_m2_code", "<minimax:tool_call>\n" + invoke("write", content=CODE.replace("parameter", "invoke"))
     + "\n</minimax:tool_call>", "call", "minimax_m2", [("write", {"content": CODE.replace("parameter", "invoke")[:-1]})]),
    ("minimax_m2_cut_after_wrapper", "<minimax:tool_call>\n", "malformed", "minimax_m2", []),
    ("dsml_v32", '<｜DSML｜function_calls>\n<｜DSML｜invoke name="f">\n<｜DSML｜parameter name="zip" string="true">01234'
     '</｜DSML｜parameter>\n<｜DSML｜parameter name="n" string="false">5</｜DSML｜parameter>\n</｜DSML｜invoke>\n'
     '</｜DSML｜function_calls>', "call", "deepseek_dsml", [("f", {"zip": "01234", "n": 5})]),
    ("dsml_v4_json_body", '<｜DSML｜tool_calls>\n<｜DSML｜invoke name="get_weather">{"city": "Oslo"}</｜DSML｜invoke>\n'
     '</｜DSML｜tool_calls>', "call", "deepseek_dsml", [("get_weather", W)]),
    ("step3", "<｜tool_calls_begin｜><｜tool_call_begin｜>function<｜tool_sep｜>" + invoke("get_weather", "steptml:", city="Oslo")
     + "<｜tool_call_end｜><｜tool_calls_end｜>", "call", "step3", [("get_weather", W)]),
]


@pytest.mark.parametrize("text,outcome,fmt,calls", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_xml_formats(text, outcome, fmt, calls):
    found = detect(text)
    assert (found.outcome, found.format) == (outcome, fmt), found
    assert found.calls == [ToolCall(n, a) for n, a in calls]


TOOLS = [
    {"name": "book", "description": "Book a room.", "parameters": {"type": "object", "properties": {
        "zip": {"type": "string"}, "nights": {"type": "integer"}, "price": {"type": "number"},
        "breakfast": {"type": "boolean"}, "guests": {"type": "array"}, "prefs": {"type": "object"},
        "note": {"type": ["string", "null"]}, "when": {"type": "integer"}, "level": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}}},
]


@pytest.mark.parametrize("raw,expected", [
    ({"zip": "01234"}, {"zip": "01234"}),
    ({"nights": "3"}, {"nights": 3}),
    ({"nights": "3.0"}, {"nights": 3}),
    ({"price": "99.5"}, {"price": 99.5}),
    ({"breakfast": "True"}, {"breakfast": True}),
    ({"guests": "['ann', 'bo']"}, {"guests": ["ann", "bo"]}),
    ({"prefs": "{'quiet': True, 'floor': None}"}, {"prefs": {"quiet": True, "floor": None}}),
    ({"note": "None"}, {"note": None}),
    ({"note": "42"}, {"note": "42"}),
    ({"when": "2026-01-15"}, {"when": "2026-01-15"}),  # does not fit: kept, the call is not dropped
    ({"level": "null"}, {"level": None}),
    ({"unknown": "7"}, {"unknown": 7}),
])
def test_schema_coerces_xml_values(raw, expected):
    text = "<tool_call>\n<function=book>\n" + "".join(
        f"<parameter={k}>\n{v}\n</parameter>\n" for k, v in raw.items()) + "</function>\n</tool_call>"
    assert detect(text, TOOLS).calls == [ToolCall("book", expected)]
    openai_style = [{"type": "function", "function": TOOLS[0]}]
    assert detect(text, openai_style).calls == [ToolCall("book", expected)]


def test_without_schema_zip_code_becomes_number():
    """The documented schema-less convention: json.loads when it parses."""
    assert detect("<tool_call>\n<function=book>\n<parameter=zip>\n10001\n</parameter>\n</function>").calls == [
        ToolCall("book", {"zip": 10001})]


@pytest.mark.parametrize("tools", [None, [], "not a list", [1, {"name": 3}, {"function": "x"}],
                                   [{"name": "book", "parameters": {"properties": {"zip": "weird"}}}]])
def test_odd_tool_lists_are_tolerated(tools):
    found = detect("<tool_call>\n<function=book>\n<parameter=zip>\n01234\n</parameter>\n</function>", tools)
    assert found.outcome == "call"
