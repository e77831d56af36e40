"""Response-kind expectations (answer, ask, decline, call, malformed, { ask = { about } }, any_of
across kinds): parsed with clear errors, scored by the classified kind, and recorded by the runner."""
import json

import pytest

from conftest import run_cli
from harness.backends.base import Generation
from harness.detect import detect
from harness.errors import InputError
from harness.expect import intended_kinds, parse_expectation
from harness.models import ModelSpec
from harness.records import Record
from harness.scoring import REASONS, judge, score
from harness.suite import Case

WHERE = "suites/x.toml: case 'c1'"
TOOLS = [{"name": "read_file", "description": "Read a file.",
          "parameters": {"type": "object", "required": ["path"],
                         "properties": {"path": {"type": "string", "description": "Path relative to the repository root."}}}}]
CALL = '<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>'
INVENTED = '<tool_call>\n{"name": "delete_repo", "arguments": {}}\n</tool_call>'


def verdict(raw, text, tools=TOOLS):
    return score(parse_expectation(raw, WHERE), detect(text, tools), tools, output=text)


@pytest.mark.parametrize("raw, kinds", [
    ("ask", {"ask"}), ("decline", {"decline"}), ("answer", {"answer"}), ("call", {"call"}),
    ("malformed", {"malformed"}), ({"ask": {"about": ["path"]}}, {"ask"}), ("direct", {"answer"}),
    ("tool", {"call"}), ({"call": "read_file"}, {"call"}), ({"any_of": ["answer", "decline", "ask"]}, {"answer", "decline", "ask"}),
])
def test_forms_parse_to_their_intended_kinds(raw, kinds):
    assert intended_kinds(parse_expectation(raw, WHERE)) == kinds


@pytest.mark.parametrize("raw, field, words", [
    ("asks", "expect", "unknown expectation 'asks'; use one of 'direct', 'tool', 'retry', 'answer', 'ask', 'decline'"),
    ({"ask": 3}, "expect.ask", "expected a table, got int"),
    ({"ask": {}}, "expect.ask.about", "expected a non-empty list"),
    ({"ask": {"about": []}}, "expect.ask.about", "expected a non-empty list"),
    ({"ask": {"about": [1]}}, "expect.ask.about[0]", "expected a string, got int"),
    ({"ask": {"about": [""]}}, "expect.ask.about[0]", "empty"),
    ({"ask": {"about": ["x"], "why": 1}}, "expect.ask.why", "unknown key"),
    ({"ask": {"about": ["x"]}, "call": "f"}, "expect", "exactly one of call, calls or any_of (or answer, retry, steps, ask)"),
    ({"any_of": ["ask", "unsure"]}, "expect.any_of[1]", "unknown expectation 'unsure'"),
])
def test_errors_name_the_field(raw, field, words):
    with pytest.raises(InputError) as err:
        parse_expectation(raw, WHERE)
    assert str(err.value).startswith(f"{WHERE}: field {field!r}: ") and words in str(err.value)


def test_validate_rejects_a_bad_kind_in_one_line(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('[[cases]]\nid = "a"\ncategory = "ask"\nprompt = "Read it."\nexpect = { ask = { about = "path" } }\n')
    r = run_cli("validate", str(suite))
    assert r.returncode == 2 and "field 'expect.ask.about': expected a non-empty list" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


@pytest.mark.parametrize("raw, text, reason", [
    ("ask", "Which file should I read?", None),
    ("ask", "Here is the answer: it prints 3.", "no_ask"),
    ("ask", "I'm sorry, I can't do that.", "no_ask"),
    ("ask", CALL, "unexpected_call"),
    ({"ask": {"about": ["path"]}}, "Which path should I open?", None),
    ({"ask": {"about": ["path"]}}, "Which file relative to the repository root?", None),  # its description
    ({"ask": {"about": ["path"]}}, "Could you tell me more about what you need?", "vague_ask"),
    ("decline", "Sorry, none of my tools can book flights.", None),
    ("decline", "Flights to Rome leave at 9.", "no_decline"),
    ("decline", "Which date?", "no_decline"),
    ("decline", INVENTED, "unexpected_call"),
    ("decline", '<tool_call>\n{"name": "read_file", "arguments": {"pa', "malformed_call"),
    ("answer", "It prints 3.", None),
    ("answer", "I cannot do that.", "wrong_kind"),
    ("answer", "", "wrong_kind"),  # an empty reply is no answer
    ("call", INVENTED, None),  # any call, even to a tool not offered
    ("call", "Which file?", "no_call"),
    ({"any_of": ["answer", "decline", "ask"]}, "It prints 3.", None),
    ({"any_of": ["answer", "decline", "ask"]}, "I can't help with that.", None),
    ({"any_of": ["answer", "decline", "ask"]}, "Which file?", None),
    ({"any_of": ["answer", "decline", "ask"]}, CALL, "unexpected_call"),
    ({"any_of": ["direct", "malformed"]}, '<tool_call>\n{"name": "read_file", "arguments": {"pa', None),  # BFCL's rule
    ({"any_of": ["tool", "ask"]}, "Which file?", None),
    ({"any_of": ["tool", "ask"]}, CALL, None),
    ("tool", INVENTED, "hallucinated_tool"),
    ("tool", CALL, None),
])
def test_scoring_by_kind(raw, text, reason):
    v = verdict(raw, text)
    assert (v.passed, v.reason) == (reason is None, reason), v.detail
    assert v.reason is None or v.reason in REASONS


def test_kind_failures_are_decision_failures_and_say_what_came():
    v = verdict("decline", "Flights to Rome leave at 9.")
    assert (v.level, v.decision, v.tool, v.call) == ("decision", False, False, False)
    assert v.detail.startswith("expected a refusal, got an answer: no call, question or refusal")
    v = verdict("tool", INVENTED)
    assert (v.level, v.decision, v.tool) == ("tool", True, False) and "'delete_repo'" in v.detail


def test_tool_passes_a_known_tool_when_the_tools_are_not_given():
    # callers that do not pass the case's tools cannot tell invented tools apart, as before
    assert score(parse_expectation("tool", WHERE), detect(INVENTED)).passed


def test_records_carry_kind_cue_and_hallucinations():
    case = Case(id="c1", category="ask", messages=[{"role": "user", "content": "Read it."}], tools=TOOLS,
                expect=parse_expectation("ask", WHERE), expect_raw="ask")
    sampler = ModelSpec(name="m").sampler()
    rec = judge(case, Generation(case_id="c1", sample=0, output="Which file do you mean?"), sampler)
    assert (rec.response_kind, rec.passed) == ("ask", True)
    assert rec.kind_cue == "asks the user: 'Which file do you mean?'"
    assert (rec.hallucinated_tools, rec.hallucinated_arguments, rec.tools_offered) == ([], [], 1)
    text = '<tool_call>\n{"name": "read_file", "arguments": {"path": "a", "mode": "rb"}}\n</tool_call>' + INVENTED
    rec = judge(case, Generation(case_id="c1", sample=0, output=text), sampler)
    assert rec.response_kind == "call" and rec.reason == "unexpected_call"
    assert rec.hallucinated_tools == ["delete_repo"] and rec.hallucinated_arguments == ["read_file.mode"]
    # the fields survive the trip through results.jsonl
    assert Record.from_json(json.loads(json.dumps(rec.to_json()))) == rec
    rec = judge(case, Generation(case_id="c1", sample=0, output="", error="boom"), sampler)
    assert rec.response_kind == "unsure" and rec.reason == "backend_error"


def test_bfcl_irrelevance_takes_any_reply_but_a_call_or_bfcls_own_rule(tmp_path):
    from pathlib import Path

    from harness.bfcl import load_bfcl

    data = str(Path(__file__).parent / "data" / "bfcl")
    reply = {i.case["id"]: i.case for i in load_bfcl(data, ["irrelevance"])}["irrelevance_0"]
    bfcl = {i.case["id"]: i.case for i in load_bfcl(data, ["irrelevance"], "bfcl")}["irrelevance_0"]
    cut = '<tool_call>\n{"name": "calculate_triangle_area", "arguments": {"ba'
    for text, by_reply, by_bfcl in (("I can't compute that with these tools.", True, True),
                                    ("Which triangle do you mean?", True, True), ("It is 42.", True, True),
                                    ("", False, True),  # no reply at all is no decline, but no call either
                                    (cut, False, True),  # BFCL counts a call it cannot decode as abstaining
                                    (hermes_call(), False, False)):
        assert verdict(reply["expect"], text, reply["tools"]).passed is by_reply, text
        assert verdict(bfcl["expect"], text, bfcl["tools"]).passed is by_bfcl, text
    r = run_cli("import", "bfcl", "--data", data, "--category", "irrelevance", "--irrelevance", "bfcl",
                "-o", str(tmp_path / "irr.jsonl"))
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "irr.jsonl").read_text().splitlines()[0])["expect"] == {"any_of": ["direct", "malformed"]}


def hermes_call() -> str:
    return '<tool_call>\n{"name": "calculate_triangle_area", "arguments": {"base": 1, "height": 2}}\n</tool_call>'
