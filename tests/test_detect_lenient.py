"""The lenient value reader and XML value typing."""
import pytest

from harness.detect.lenient import Incomplete, Invalid, decode, loads
from harness.detect.values import coerce, strip_newline, xml_value


@pytest.mark.parametrize("text,expected", [
    ('{"a": 1}', {"a": 1}),
    ("{'a': 'b', 'c': True, 'd': None, 'e': False}", {"a": "b", "c": True, "d": None, "e": False}),
    ('{"a": [1, 2,], "b": {"c": 3,},}', {"a": [1, 2], "b": {"c": 3}}),
    ('{"s": "line\none"}', {"s": "line\none"}),
    (r'{"re": "\d+\s"}', {"re": r"\d+\s"}),
    ("{'t': (1, 2)}", {"t": [1, 2]}),
    ('{a: 1, b-c: "x"}', {"a": 1, "b-c": "x"}),
    ("'it\\'s'", "it's"),
    ('"""triple "quoted" text"""', 'triple "quoted" text'),
    ('"\\ud83d\\ude00"', "\U0001F600"),
    ("1_000", 1000),
    ("-2.5e3", -2500.0),
    ("  [1, 'two', None]  ", [1, "two", None]),
])
def test_loads_lenient(text, expected):
    assert loads(text) == expected


@pytest.mark.parametrize("text", ['{"a": 1', '{"a": "b', "[1, 2", "'abc", '{"a": tr', '"\\u00'])
def test_cut_off_values_are_incomplete(text):
    with pytest.raises(Incomplete):
        loads(text)


@pytest.mark.parametrize("text", ["{a b}", "[1 2]", "undefined", '{"a": 1} tail', "{" * 1000 + "}" * 1000])
def test_garbage_is_invalid(text):
    with pytest.raises(Invalid):
        loads(text)


def test_decode_stops_after_the_value():
    text = '<x>{"a": "</x>"}</x> more'
    value, end = decode(text, 3)
    assert value == {"a": "</x>"} and text[end:] == "</x> more"


def test_decode_with_token_delimited_strings():
    assert decode('{k:<|"|>a, "b"<|"|>,n:2}', 0, '<|"|>') == ({"k": 'a, "b"', "n": 2}, 24)


@pytest.mark.parametrize("raw,expected", [
    ("\nOslo\n", "Oslo"),
    ("\n\nOslo\n\n", "\nOslo\n"),
    ("Oslo", "Oslo"),
])
def test_strip_exactly_one_newline(raw, expected):
    assert strip_newline(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("\n5\n", 5), ("true", True), ("null", None), ('{"a": [1]}', {"a": [1]}),
    ("hello world", "hello world"), ("2026-01-15", "2026-01-15"), ("{'k': 'v', 'x': True}", {"k": "v", "x": True}),
    ("['a', None]", ["a", None]), ("{not python}", "{not python}"), ("[1, 2", "[1, 2"),
    ("{\"code\": \"a\nb\"}", {"code": "a\nb"}),
])
def test_xml_value_without_schema(raw, expected):
    assert xml_value(raw) == expected


def test_xml_value_string_flag_keeps_text():
    assert xml_value("5", ("integer",), is_string=True) == "5"


@pytest.mark.parametrize("text,types,expected", [
    ("5", ("string",), "5"),
    ("5", ("integer",), 5),
    ("-5", ("number",), -5),
    ("5.5", ("integer",), 5.5),  # does not fit an integer: the JSON reading is kept
    ("yes", ("boolean",), "yes"),
    ("FALSE", ("boolean",), False),
    ("None", ("object", "null"), None),
    ("[1, 'a']", ("array",), [1, "a"]),
    ("{'a': 1}", ("array",), {"a": 1}),  # not an array: the literal's reading is kept, as for 5.5
    ("x", ("madeup",), "x"),
])
def test_coerce(text, types, expected):
    assert coerce(text, types) == expected


def test_tool_schemas_are_prepared_once_per_list():
    from harness.detect.values import prepared_schema, schema_from_tools
    tools = [{"name": "f", "parameters": {"properties": {"n": {"type": "integer"}}}}]
    first = prepared_schema(tools)
    assert prepared_schema(tools) is first and first == schema_from_tools(tools)
    other = [{"name": "f", "parameters": {"properties": {"n": {"type": "string"}}}}]
    assert prepared_schema(other).types("f", "n") == ("string",)  # another list is read for itself
    assert prepared_schema(None) == prepared_schema([]) == schema_from_tools(None)
