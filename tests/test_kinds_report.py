"""Response-kind figures from a real replayed run: the confusion matrix, per-kind precision and
recall, macro-F1, hallucination rates and the gate keys, checked against counts worked out by hand."""
import json

import pytest

from harness.cli import main as cli_main
from harness.reporting.kinds import GATE_KEYS, by_category, confusion_rows, expected_label, gate_value, kind_metrics
from harness.records import Record
from harness.results import read_records

READ = ('[[tools]]\nname = "read_file"\ndescription = "Read a file."\n'
        'parameters = { type = "object", properties = { path = { type = "string" } }, required = ["path"] }\n')
CASES = [  # id, category, expect (TOML), output
    ("call-1", "call", '{ call = "read_file" }', '<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>'),
    ("call-2", "call", '{ call = "read_file" }', "Which file do you mean?"),
    ("ask-1", "ask", '"ask"', "Which file do you mean?"),
    ("ask-2", "ask", '"ask"', "Sorry, I can't do that."),
    ("decline-1", "decline", '"decline"', "Sorry, I can't do that."),
    ("decline-2", "decline", '"decline"', '<tool_call>{"name": "delete_repo", "arguments": {}}</tool_call>'),
    ("answer-1", "answer", '"direct"', "It prints 3."),
    ("answer-2", "answer", '"answer"', '<tool_call>{"name": "read_file", "arguments": {"path": "a", "mode": "rb"}}</tool_call>'),
    ("irrelevant-1", "irrelevance", '{ any_of = ["answer", "decline", "ask"] }', "It prints 3."),
    ("lost-1", "answer", '"answer"', None),  # no recorded output: a backend error, left out
]


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("kinds")
    suite = root / "s.toml"
    body = "".join(f'[[cases]]\nid = "{i}"\ncategory = "{c}"\nprompt = "p"\nexpect = {e}\n' for i, c, e, _ in CASES)
    # a case that offers no tools and is answered with a call
    body += '[[cases]]\nid = "bare-1"\ncategory = "decline"\nprompt = "p"\nexpect = "decline"\ntools = []\n'
    suite.write_text(READ + body)
    replay = root / "replay.jsonl"
    outputs = [(i, o) for i, _, _, o in CASES if o is not None]
    outputs.append(("bare-1", '<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>'))
    replay.write_text("".join(json.dumps({"id": i, "output": o}) + "\n" for i, o in outputs))
    assert cli_main(["run", str(suite), "--replay", str(replay), "--run-dir", str(root / "run"), "--quiet"]) == 0
    return read_records(root / "run")


def test_confusion_precision_recall_and_macro_f1(records):
    m = kind_metrics(records)
    assert m.judged == 10
    assert m.confusion == {"call": {"call": 1, "ask": 1}, "answer": {"answer": 1, "call": 1},
                           "ask": {"ask": 1, "decline": 1}, "decline": {"decline": 1, "call": 2},
                           "answer|ask|decline": {"answer": 1}}
    assert m.precision == {"call": 1 / 4, "answer": 1.0, "ask": 1 / 2, "decline": 1 / 2}
    assert m.recall == {"call": 1 / 2, "answer": 1 / 2, "ask": 1 / 2, "decline": 1 / 3}
    assert m.f1 == pytest.approx({"call": 1 / 3, "answer": 2 / 3, "ask": 1 / 2, "decline": 2 / 5})
    assert m.macro_f1 == pytest.approx((1 / 3 + 2 / 3 + 1 / 2 + 2 / 5) / 4)
    rows = confusion_rows(m)
    assert rows[0] == ["expected \\ produced", "call", "answer", "ask", "decline", "recall"]
    assert rows[-1] == ["answer|ask|decline", "0", "1", "0", "0", "-"]


def test_hallucination_rates(records):
    m = kind_metrics(records)
    # delete_repo (not offered) and read_file in the case that offers no tools
    assert (m.tool_hallucinations, m.tool_hallucination_rate) == (2, 2 / 10)
    # of the two calls to the offered read_file, one adds an undeclared `mode`
    assert (m.argument_hallucinations, m.argument_hallucination_rate) == (1, 1 / 2)
    assert (m.no_tools_calls, m.no_tools_call_rate) == (1, 1.0)


def test_per_category_and_gate_keys(records):
    cats = by_category(records)
    assert set(cats) == {"call", "ask", "decline", "answer", "irrelevance"}
    assert cats["decline"].recall["decline"] == 1 / 3 and cats["decline"].no_tools_call_rate == 1.0
    assert cats["ask"].tool_hallucination_rate == 0.0
    assert cats["irrelevance"].macro_f1 is None  # no single-kind case to score
    m = kind_metrics(records)
    assert {"max_tool_hallucination_rate", "max_argument_hallucination_rate", "max_no_tools_call_rate",
            "min_ask_recall", "min_decline_recall", "min_macro_f1"} <= set(GATE_KEYS)
    assert gate_value("min_decline_recall", m) == 1 / 3 and gate_value("max_no_tools_call_rate", m) == 1.0
    assert gate_value("min_ask_precision", m) == 1 / 2


def test_records_without_kinds_or_with_foreign_expectations_are_handled():
    old = Record.from_json({"id": "x", "category": "c", "expect": "direct", "passed": True})  # a run from before kinds
    assert old.response_kind is None and kind_metrics([old]).judged == 0 and kind_metrics([]).macro_f1 is None
    assert expected_label(Record(id="y", expect={"weird": 1})) == "unknown"
