"""`harness import when2call`: rows become cases (uuid ids, correct answers as categories, call /
ask / decline), --answers makes the candidate check that `harness run --replay` scores, and bad rows
are one clear line naming the line and the field, exit 2."""
import json
from pathlib import Path

import pytest

from conftest import run_cli
from harness.errors import InputError
from harness.reporting.kinds import kind_metrics
from harness.results import read_records
from harness.suite import load_suite
from harness.when2call import candidate_cases, load_when2call

SAMPLE = Path(__file__).parent / "data" / "when2call" / "when2call_sample.jsonl"
ROWS = [json.loads(line) for line in SAMPLE.read_text().splitlines()]


def test_rows_become_cases():
    rows = load_when2call(SAMPLE)
    cases = {case["id"]: case for case, _ in rows}
    assert list(cases) == [r["uuid"] for r in ROWS]
    assert [c["category"] for c in cases.values()] == [r["correct_answer"] for r in ROWS]
    first, ask, decline = (cases[ROWS[i]["uuid"]] for i in range(3))
    assert first["expect"] == {"call": "weather.get_forecast"}
    assert ask["expect"] == "ask" and decline["expect"] == "decline"
    assert first["messages"] == [{"role": "user", "content": ROWS[0]["question"]}]
    assert [t["name"] for t in first["tools"]] == ["weather.get_forecast", "fs.list_files"]
    movies = ask["tools"][0]["parameters"]
    assert movies["type"] == "object" and movies["properties"]["year"]["type"] == "number"  # BFCL's float
    assert decline["tools"] == []  # When2Call offers no tools on some cannot_answer rows


def test_cli_suite_validates_and_scores_the_right_answers(tmp_path):
    suite = tmp_path / "w2c.jsonl"
    r = run_cli("import", "when2call", str(SAMPLE), "-o", str(suite))
    assert r.returncode == 0, r.stderr
    assert f"{suite}: 6 cases" in r.stdout
    assert run_cli("validate", str(suite)).returncode == 0
    # replaying each row's correct candidate passes; the direct candidate never does
    for pick, passed in (("correct", True), ("direct", False)):
        replay = tmp_path / f"{pick}.jsonl"
        replay.write_text("".join(json.dumps({"id": row["uuid"], "output": row["answers"][
            row["correct_answer"] if pick == "correct" else "direct"]}) + "\n" for row in ROWS))
        run_dir = tmp_path / pick
        assert run_cli("run", str(suite), "--replay", str(replay), "--run-dir", str(run_dir), "--quiet").returncode == 0
        records = read_records(run_dir)
        assert [r.passed for r in records] == [passed] * 6, [(r.id, r.detail) for r in records]
    reasons = {r.category: r.reason for r in records}
    assert reasons == {"tool_call": "no_call", "request_for_info": "no_ask", "cannot_answer": "no_decline"}


def test_candidate_check_measures_the_classifier(tmp_path):
    out, answers = tmp_path / "candidates.jsonl", tmp_path / "answers.jsonl"
    r = run_cli("import", "when2call", str(SAMPLE), "-o", str(out), "--answers", str(answers))
    assert r.returncode == 0, r.stderr
    cases = load_suite(out).cases
    assert len(cases) == 24 and cases[0].id == f"{ROWS[0]['uuid']}:direct"
    assert [c.expect_raw for c in cases[:4]] == ["answer", "call", "ask", "decline"]
    assert cases[1].tags == ["row:tool_call", "correct"] and cases[0].tags == ["row:tool_call"]
    run_dir = tmp_path / "run"
    r = run_cli("run", str(out), "--replay", str(answers), "--run-dir", str(run_dir), "--quiet")
    assert r.returncode == 0, r.stderr
    records = read_records(run_dir)
    wrong = [(r.id, r.response_kind, r.kind_cue) for r in records if not r.passed]
    assert not wrong
    metrics = kind_metrics(records)
    assert metrics.macro_f1 == 1.0 and metrics.confusion["ask"] == {"ask": 6}
    # the tool_call candidates of the taxi and restaurant rows call tools those rows do not offer
    assert metrics.tool_hallucinations == 2
    assert metrics.no_tools_calls == 1 and metrics.no_tools_call_rate == 1 / 4  # the taxi row offers none


def test_candidates_keep_outputs_verbatim():
    rows = load_when2call(SAMPLE)
    _, replies = candidate_cases(rows)
    assert replies[3] == {"id": f"{ROWS[0]['uuid']}:cannot_answer", "output": ROWS[0]["answers"]["cannot_answer"]}


def _bad(tmp_path, row=None, text=None):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n" + (text if text is not None else json.dumps(row)) + "\n")
    return path


@pytest.mark.parametrize("change, words", [
    ({"uuid": 5}, "field 'uuid' is missing or not a non-empty string"),
    ({"correct_answer": "maybe"}, "field 'correct_answer' is 'maybe'; expected one of tool_call"),
    ({"tools": "[]"}, "field 'tools' is missing or not a list"),
    ({"tools": ["{not json"]}, "field 'tools[0]' is not valid JSON"),
    ({"tools": ['{"description": "no name"}']}, "field 'tools[0]' is not a tool with a 'name' string"),
    ({"answers": {"direct": "x"}}, "field 'answers.tool_call' is missing"),
    ({"target_tool": None}, "field 'target_tool' is empty on a tool_call row"),
    ({"target_tool": '{"name": "elsewhere"}'}, "names 'elsewhere', which is not among the row's tools"),
    ({"uuid": ROWS[0]["uuid"]}, "appears twice"),
])
def test_bad_rows_name_the_line_and_field(tmp_path, change, words):
    path = _bad(tmp_path, {**ROWS[0], "uuid": "other", **change})
    with pytest.raises(InputError) as err:
        load_when2call(path)
    assert str(err.value).startswith(f"{path}:2: ") and words in str(err.value)


def test_cli_errors_exit_2_in_one_line(tmp_path):
    r = run_cli("import", "when2call", str(_bad(tmp_path, text="{oops")), "-o", str(tmp_path / "x.jsonl"))
    assert r.returncode == 2 and "bad.jsonl:2: not valid JSON" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli("import", "when2call", "-o", str(tmp_path / "x.jsonl"))
    assert r.returncode == 2 and "give the When2Call test file" in r.stderr
    r = run_cli("import", "when2call", str(SAMPLE), "-o", str(tmp_path / "folder"))
    assert r.returncode == 2 and "-o must name a .jsonl file" in r.stderr
    r = run_cli("import", "when2call", str(tmp_path / "missing.jsonl"), "-o", str(tmp_path / "x.jsonl"))
    assert r.returncode == 2 and "no such file" in r.stderr
