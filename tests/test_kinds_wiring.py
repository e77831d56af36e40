"""Response kinds reach every report: the confusion matrix and rates in report (table, md, json, html),
side by side in diff, and [kinds] rules in the gate."""
import json

from conftest import run_cli
from replay_runs import make_run


def _runs(tmp_path):
    good = make_run(tmp_path / "good")
    bad = make_run(tmp_path / "bad", fail={"ask-1", "ask-2", "decline-1"})
    return good, bad


def test_report_has_the_confusion_matrix_and_rates_in_every_format(tmp_path):
    good, bad = _runs(tmp_path)
    data = json.loads(run_cli("report", str(bad), "--format", "json").stdout)
    kinds = data["kinds"]
    assert kinds["recall"]["ask"] < 1.0 and kinds["recall"]["decline"] < 1.0
    assert kinds["confusion"]["ask"]["ask"] == 1 and sum(kinds["confusion"]["ask"].values()) == 3
    assert json.loads(run_cli("report", str(good), "--format", "json").stdout)["kinds"]["macro_f1"] == 1.0
    text = run_cli("report", str(bad)).stdout
    assert "expected (rows) vs produced (columns)" in text and "macro-F1" in text and "tool hallucination" in text
    page = tmp_path / "r.html"
    assert run_cli("report", str(bad), "--format", "html", "-o", str(page)).returncode == 0
    assert "Response kinds" in page.read_text()


def test_diff_puts_kind_figures_side_by_side(tmp_path):
    good, bad = _runs(tmp_path)
    text = run_cli("diff", str(good), str(bad)).stdout
    assert "response kinds macro-F1" in text and "tool hallucination rate" in text


def test_gate_rules_on_kinds(tmp_path):
    good, bad = _runs(tmp_path)
    rules = tmp_path / "gate.toml"
    rules.write_text("[kinds]\nmin_ask_recall = 0.9\nmax_tool_hallucination_rate = 0.0\n")
    assert run_cli("gate", str(good), "--rules", str(rules)).returncode == 0
    r = run_cli("gate", str(bad), "--rules", str(rules))
    assert r.returncode == 1 and "FAIL  [kinds] min_ask_recall: ask recall 33.3%" in r.stdout
    rules.write_text("[kinds]\nmin_ask_recal = 0.9\n")
    bad_rules = run_cli("gate", str(good), "--rules", str(rules))
    assert bad_rules.returncode == 2 and "min_ask_recal" in bad_rules.stderr
