import pytest

from harness.detect.base import Detection, ToolCall
from harness.expect import parse_expectation
from harness.scoring import not_judged, score


def calls(*pairs, outcome="call"):
    return Detection([ToolCall(name, args) for name, args in pairs], "hermes_json", outcome)


def judge(raw, detection, tools=None):
    return score(parse_expectation(raw, "test"), detection, tools)


def levels(v):
    return v.passed, v.level, v.reason, (v.decision, v.tool, v.call)


NONE = Detection()
READ = {"call": "read_file", "arguments": {"path": "a.py"}}


def test_direct_case():
    assert levels(judge("direct", NONE)) == (True, None, None, (True, True, True))
    v = judge("direct", calls(("read_file", {})))
    assert levels(v) == (False, "decision", "unexpected_call", (False, False, False))
    assert "'read_file'" in v.detail
    assert judge("direct", calls(outcome="malformed")).reason == "malformed_call"


def test_no_call_mentions_a_near_miss():
    v = judge(READ, Detection(near_miss="fenced JSON call"))
    assert levels(v) == (False, "decision", "no_call", (False, False, False))
    assert "fenced JSON call" in v.detail


def test_any_tool():
    assert judge("tool", calls(("x", {}))).passed
    assert levels(judge("tool", calls(("x", None), outcome="malformed")))[:3] == (False, "call", "malformed_call")
    assert levels(judge("tool", calls(outcome="malformed")))[:3] == (False, "tool", "malformed_call")


def test_malformed_tool_case_never_says_no_call():
    v = judge(READ, calls(("read_file", None), outcome="malformed"))
    assert levels(v) == (False, "call", "malformed_call", (True, True, False))
    v = judge(READ, calls(outcome="malformed"))
    assert levels(v) == (False, "tool", "malformed_call", (True, False, False))
    # the second call was cut off before its name: a count mismatch explained by truncation
    v = judge({"calls": [READ, READ]}, calls(("read_file", {"path": "a.py"}), outcome="malformed"))
    assert (v.level, v.reason) == ("tool", "malformed_call")


def test_call_without_arguments_checks_only_the_name():
    assert judge({"call": "read_file"}, calls(("read_file", {"anything": 1}))).passed
    v = judge({"call": "read_file"}, calls(("write_file", {})))
    assert levels(v) == (False, "tool", "wrong_tool", (True, False, False))
    assert v.detail == "expected a call to 'read_file', got a call to 'write_file'"


def test_argument_reasons():
    assert judge(READ, calls(("read_file", {"path": "a.py"}))).passed
    v = judge(READ, calls(("read_file", {"path": "b.py"})))
    assert levels(v) == (False, "call", "wrong_value", (True, True, False))
    assert v.detail == "argument 'path': expected 'a.py', got 'b.py'"
    assert judge(READ, calls(("read_file", {}))).reason == "missing_argument"
    v = judge(READ, calls(("read_file", {"path": "a.py", "mode": "r"})))
    assert (v.reason, v.detail) == ("unexpected_argument", "unexpected argument 'mode' = 'r'")
    allow = {**READ, "extra_arguments": "allow"}
    assert judge(allow, calls(("read_file", {"path": "a.py", "mode": "r"}))).passed
    assert judge(READ, calls(("read_file", {"path": 5}))).reason == "wrong_type"


def test_numbers_and_booleans():
    exp = {"call": "f", "arguments": {"n": 5, "x": 2.5, "flag": True}}
    assert judge(exp, calls(("f", {"n": 5.0, "x": 2.5, "flag": True}))).passed
    assert judge(exp, calls(("f", {"n": "5", "x": 2.5, "flag": True}))).reason == "wrong_type"
    assert judge(exp, calls(("f", {"n": 5, "x": 2.5, "flag": 1}))).reason == "wrong_type"
    assert judge(exp, calls(("f", {"n": 6, "x": 2.5, "flag": True}))).reason == "wrong_value"


def test_declared_type_turns_wrong_value_into_wrong_type():
    exp = {"call": "f", "arguments": {"n": {"one_of": [1, 2]}}}
    tools = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"n": {"type": "integer"}}}}}]
    assert judge(exp, calls(("f", {"n": 1.5})), tools).reason == "wrong_type"
    assert judge(exp, calls(("f", {"n": 1.5}))).reason == "wrong_value"
    assert judge(exp, calls(("f", {"n": 3})), tools).reason == "wrong_value"


@pytest.mark.parametrize("matcher, good, bad, reason", [
    ({"one_of": ["a.py", "./a.py"]}, "./a.py", "b.py", "wrong_value"),
    ({"one_of": ["New York, NY"], "normalize": "bfcl"}, "new york ny", "Boston", "wrong_value"),
    ({"one_of": [["a b", "c"]], "normalize": "bfcl"}, ["AB", "c"], ["c", "ab"], "wrong_value"),
    ({"one_of": ["it's"], "normalize": "bfcl"}, 'it"s', "its", "wrong_value"),
    ({"regex": r"\.py$"}, "src/a.py", "a.pyc", "wrong_value"),
    ({"regex": "py"}, "a.py", 7, "wrong_type"),
    ({"contains": "TODO"}, "fix TODO now", "fix it", "wrong_value"),
    ({"type": "integer"}, 3, 3.5, "wrong_type"),
    ({"type": "array"}, [1], {"a": 1}, "wrong_type"),
    ({"type": "null"}, None, "None", "wrong_type"),
    ({"approx": 3.14, "tol": 0.01}, 3.141, 3.2, "wrong_value"),
    ({"approx": 3.14}, 3.14, "3.14", "wrong_type"),
    ([1, [2, {"k": "v"}]], [1.0, [2, {"k": "v"}]], [1, [2, {"k": "w"}]], "wrong_value"),
    ({"fields": {"k": 1, "opt": {"optional": True, "one_of": [2]}}}, {"k": 1}, {"k": 1, "opt": 3}, "wrong_value"),
    ({"fields": {"k": 1}}, {"k": 1}, {"k": 1, "j": 2}, "unexpected_argument"),
    ({"fields": {"k": 1}}, {"k": 1}, {}, "missing_argument"),
    ({"fields": {"k": 1}, "extra_fields": "allow"}, {"k": 1, "j": 2}, [1], "wrong_type"),
    ({"items": [{"fields": {"a": 1}}, 2]}, [{"a": 1}, 2], [{"a": 1}], "wrong_value"),
    ({"items": [{"regex": "x"}]}, ["x"], "x", "wrong_type"),
])
def test_matchers(matcher, good, bad, reason):
    exp = {"call": "f", "arguments": {"p": matcher}}
    assert judge(exp, calls(("f", {"p": good}))).passed
    v = judge(exp, calls(("f", {"p": bad})))
    assert (v.level, v.reason) == ("call", reason), v.detail


def test_nested_details_name_the_path():
    exp = {"call": "f", "arguments": {"body": {"fields": {"mode": "COOL"}}, "rows": {"items": [{"fields": {"n": 1}}]}}}
    v = judge(exp, calls(("f", {"body": {"mode": "HEAT"}, "rows": [{"n": 1}]})))
    assert v.detail == "argument 'body.mode': expected 'COOL', got 'HEAT'"
    v = judge(exp, calls(("f", {"body": {"mode": "COOL"}, "rows": [{"n": 1, "m": 2}]})))
    assert v.detail == "unexpected argument 'rows[0].m' = 2"


def test_optional_and_absent():
    exp = {"call": "f", "arguments": {"unit": {"optional": True, "one_of": ["m"]}, "debug": {"absent": True}}}
    assert judge(exp, calls(("f", {}))).passed
    assert judge(exp, calls(("f", {"unit": "m"}))).passed
    assert judge(exp, calls(("f", {"unit": "km"}))).reason == "wrong_value"
    v = judge(exp, calls(("f", {"debug": False})))
    assert (v.reason, v.detail) == ("unexpected_argument", "unexpected argument 'debug' = False")
    assert judge({"call": "f", "arguments": {"x": {"optional": True}}}, calls(("f", {"x": [1]}))).passed


PARALLEL = {"calls": [{"call": "f", "arguments": {"x": {"one_of": [1, 2]}}},
                      {"call": "f", "arguments": {"x": 1}},
                      {"call": "g"}]}


def test_parallel_any_order_finds_an_assignment_greedy_matching_misses():
    # greedy pairing gives f(x=1) to the first expectation and leaves nothing for x=1
    assert judge(PARALLEL, calls(("g", {}), ("f", {"x": 1}), ("f", {"x": 2}))).passed


def test_parallel_reasons():
    v = judge(PARALLEL, calls(("f", {"x": 1}), ("f", {"x": 3}), ("g", {})))
    assert levels(v) == (False, "call", "wrong_value", (True, True, False))
    assert v.detail.startswith("call 'f': argument 'x'")
    v = judge(PARALLEL, calls(("f", {"x": 1}), ("g", {})))
    assert (v.level, v.reason) == ("tool", "wrong_count")
    assert v.detail == "expected 3 calls ('f', 'f', 'g'), got 2 calls ('f', 'g')"
    v = judge(PARALLEL, calls(("f", {"x": 1}), ("f", {"x": 1}), ("h", {})))
    assert (v.level, v.reason) == ("tool", "wrong_tool")


def test_parallel_exact_order():
    exp = {"calls": [{"call": "a"}, {"call": "b", "arguments": {"n": 1}}], "order": "exact"}
    assert judge(exp, calls(("a", {}), ("b", {"n": 1}))).passed
    v = judge(exp, calls(("b", {"n": 1}), ("a", {})))
    assert (v.level, v.reason) == ("call", "wrong_tool")
    assert judge(exp, calls(("a", {}), ("b", {"n": 2}))).reason == "wrong_value"


def test_any_of_reports_the_alternative_that_got_furthest():
    exp = {"any_of": ["direct", {"call": "search", "arguments": {"q": "cats"}}]}
    assert judge(exp, NONE).passed
    assert judge(exp, calls(("search", {"q": "cats"}))).passed
    v = judge(exp, calls(("search", {"q": "dogs"})))
    assert levels(v) == (False, "call", "wrong_value", (True, True, False))
    two = {"any_of": [{"call": "a", "arguments": {"n": 1}}, {"call": "b"}]}
    assert levels(judge(two, NONE))[:3] == (False, "decision", "no_call")
    assert judge(two, calls(("b", {"n": 9}))).passed


def test_backend_error_verdict():
    v = not_judged("backend_error", "HTTP 500")
    assert levels(v) == (False, None, "backend_error", (None, None, None))
    assert v.detail == "HTTP 500"
