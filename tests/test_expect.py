import tomllib

import pytest

from harness.errors import InputError
from harness.expect import UNSET, Matcher, is_tool_expected, parse_expectation, parse_matcher

WHERE = "suites/x.toml: case 'c1'"


def parse(raw):
    return parse_expectation(raw, WHERE)


def test_simple_forms():
    assert parse("direct").kind == "direct"
    assert parse("tool").kind == "tool"
    exp = parse({"call": "read_file"})
    assert exp.kind == "call" and exp.calls[0].name == "read_file" and exp.calls[0].arguments is None


def test_toml_form_round_trips():
    text = """
[[case]]
[case.expect]
call = "read_file"
extra_arguments = "allow"
[case.expect.arguments]
path = { regex = '\\.py$' }
lines = 10
mode = { one_of = ["r", "rb"] }
opts = { fields = { follow = true }, optional = true }
cursor = { absent = true }
"""
    raw = tomllib.loads(text)["case"][0]["expect"]
    exp = parse(raw)
    args = exp.calls[0].arguments
    assert args["path"].regex == r"\.py$"
    assert args["lines"] == Matcher(equals=10)
    assert args["opts"].optional and args["opts"].fields["follow"].equals is True
    assert args["cursor"].absent
    assert exp.calls[0].extra_arguments == "allow"


@pytest.mark.parametrize("raw", [
    "direct",
    {"calls": [{"call": "a", "arguments": {"x": 1}}, {"call": "b"}], "order": "exact"},
    {"calls": [{"call": "a"}]},
    {"any_of": ["direct", {"call": "a", "arguments": {"x": {"approx": 1.5, "tol": 0.1}}}]},
    {"call": "f", "arguments": {
        "n": None, "s": {"one_of": ["a b", ["x"], {"k": 1}], "normalize": "bfcl", "optional": True},
        "t": {"type": "integer"}, "c": {"contains": "needle"},
        "items": {"items": [{"fields": {"a": 1}, "extra_fields": "allow"}, 2]}}},
])
def test_every_form_parses_to_its_kind(raw):
    kind = raw if isinstance(raw, str) else next(k for k in ("calls", "any_of", "call") if k in raw)
    assert parse(raw).kind == kind


def test_null_is_a_literal_and_approx_has_a_default_tolerance():
    assert parse_matcher(None, WHERE, "x").equals is None
    assert Matcher().equals is UNSET
    assert parse_matcher({"approx": 2.0}, WHERE, "x").tol == 1e-6


def test_is_tool_expected():
    assert not is_tool_expected(parse("direct"))
    assert is_tool_expected(parse("tool"))
    assert is_tool_expected(parse({"calls": [{"call": "a"}]}))
    assert is_tool_expected(parse({"any_of": ["tool", {"call": "a"}]}))
    assert not is_tool_expected(parse({"any_of": ["direct", {"call": "a"}]}))


@pytest.mark.parametrize("raw, field, words", [
    ("directly", "expect", "unknown expectation 'directly'"),
    (5, "expect", "expected a string or a table"),
    ({"call": "a", "calls": []}, "expect", "exactly one of call, calls or any_of"),
    ({"call": "a", "args": {}}, "expect.args", "unknown key"),
    ({"call": ""}, "expect.call", "empty"),
    ({"call": 3}, "expect.call", "expected a string"),
    ({"call": "a", "arguments": {"path": {"regx": "a"}}}, "expect.arguments.path", "unknown matcher key 'regx'; use one of one_of, normalize, regex"),
    ({"call": "a", "arguments": {"path": {"regex": "("}}}, "expect.arguments.path.regex", "bad regular expression"),
    ({"call": "a", "arguments": {"p": {}}}, "expect.arguments.p", "empty matcher"),
    ({"call": "a", "arguments": {"p": {"type": "int"}}}, "expect.arguments.p.type", "unknown value 'int'"),
    ({"call": "a", "arguments": {"p": {"one_of": []}}}, "expect.arguments.p.one_of", "non-empty list"),
    ({"call": "a", "arguments": {"p": {"normalize": "bfcl", "regex": "x"}}}, "expect.arguments.p.normalize", "together with one_of"),
    ({"call": "a", "arguments": {"p": {"tol": 0.1}}}, "expect.arguments.p.tol", "together with approx"),
    ({"call": "a", "arguments": {"p": {"approx": "1"}}}, "expect.arguments.p.approx", "expected a number"),
    ({"call": "a", "arguments": {"p": {"absent": True, "optional": True}}}, "expect.arguments.p", "absent = true cannot be combined"),
    ({"call": "a", "arguments": {"p": {"optional": "yes"}}}, "expect.arguments.p.optional", "true or false"),
    ({"call": "a", "arguments": {"p": {"fields": [1]}}}, "expect.arguments.p.fields", "expected a table"),
    ({"call": "a", "arguments": {"p": {"items": {"a": 1}}}}, "expect.arguments.p.items", "expected a list"),
    ({"call": "a", "arguments": {"p": {"fields": {"q": {"regx": 1}}}}}, "expect.arguments.p.fields.q", "unknown matcher key"),
    ({"call": "a", "arguments": {"p": [1, float("nan")]}}, "expect.arguments.p[1]", "not a JSON value"),
    ({"call": "a", "arguments": [1]}, "expect.arguments", "expected a table"),
    ({"call": "a", "extra_arguments": "deny"}, "expect.extra_arguments", "use one of forbid, allow"),
    ({"calls": [{"call": "a"}], "order": "sorted"}, "expect.order", "use one of any, exact"),
    ({"calls": [{"call": "a"}, "b"]}, "expect.calls[1]", "expected a table"),
    ({"any_of": ["direct", "maybe"]}, "expect.any_of[1]", "unknown expectation"),
])
def test_errors_name_the_field(raw, field, words):
    with pytest.raises(InputError) as err:
        parse(raw)
    assert str(err.value).startswith(f"{WHERE}: field {field!r}: ")
    assert words in str(err.value)


def test_toml_datetime_is_not_a_literal():
    raw = tomllib.loads("expect = { call = 'a', arguments = { when = 2024-01-01 } }")["expect"]
    with pytest.raises(InputError, match="'expect.arguments.when': date"):
        parse(raw)
