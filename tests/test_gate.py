"""`harness gate`: rules pass and fail on the right measurements, exit codes, JUnit and summary."""
import xml.etree.ElementTree as ET

import pytest

from conftest import run_cli
from harness.reporting.gate import Rule
from replay_runs import make_run

RULES = """
[overall]
min_accuracy = 0.9
min_call = 0.9
[categories.typecheck]
min_accuracy = 1.0
[categories.direct]
min_decision = 1.0
[baseline]
max_broken = 0
max_accuracy_drop = 0.03
[budgets]
max_latency_p95_s = 5.0
max_size_bytes = 20_000_000_000
max_peak_memory_bytes = 24_000_000_000
max_backend_errors = 0
"""
MODEL = {"size_bytes": 8_000_000_000, "peak_memory_bytes": 9_000_000_000, "load_s": 4.0}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate")
    rules = root / "gate.toml"
    rules.write_text(RULES)
    baseline = make_run(root / "baseline", model=MODEL)
    good = make_run(root / "good", model=MODEL)
    # typecheck-1 fails, test-3 is lost to a backend error, two cases are slow
    bad = make_run(root / "bad", fail=["typecheck-1"], missing=["test-3"], model=MODEL,
                   latency={"read-1": 9.0, "read-2": 8.0})
    return {"rules": rules, "baseline": baseline, "good": good, "bad": bad, "root": root}


def _gate(runs, name, *extra, rules=None):
    return run_cli("gate", str(runs[name]), "--rules", str(rules or runs["rules"]), *extra)


def test_gate_passes(runs):
    r = _gate(runs, "good", "--baseline", str(runs["baseline"]))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [line for line in r.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(lines) == 11 and all(line.startswith("PASS") for line in lines)  # 10 rules + the run is complete
    assert "PASS  [run] complete" in r.stdout and "gate passed: 11 of 11 rules passed" in r.stdout


def test_gate_fails_on_the_right_rules(runs, tmp_path):
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
    r = _gate(runs, "bad", "--baseline", str(runs["baseline"]), "--junit", str(junit), "--summary", str(summary))
    assert r.returncode == 1, r.stdout + r.stderr
    failed = {line.split(":")[0].removeprefix("FAIL  ") for line in r.stdout.splitlines() if line.startswith("FAIL")}
    assert failed == {"[categories.typecheck] min_accuracy", "[baseline] max_broken", "[baseline] max_accuracy_drop",
                      "[budgets] max_latency_p95_s", "[budgets] max_backend_errors", "[run] complete"}
    assert ("FAIL  [categories.typecheck] min_accuracy: typecheck accuracy 66.7%, limit >= 100.0% "
            "(short by 33.3 points)") in r.stdout
    assert "[budgets] max_latency_p95_s: latency p95 6.60 s, limit <= 5.00 s (over by 1.60 s)" in r.stdout
    # backend errors are not scored: 24/25 passed; against the baseline 25/25 on the same 25 cases
    assert "PASS  [overall] min_accuracy: overall accuracy 96.0%" in r.stdout
    assert "FAIL  [baseline] max_accuracy_drop: accuracy drop vs baseline 4.0 points" in r.stdout

    # the rules are the tests: the JUnit fails exactly where the gate does
    root = ET.parse(junit).getroot()
    (rules,) = root.findall("testsuite")
    assert len(rules.findall("testcase")) == 11 and len(rules.findall("testcase/failure")) == 6
    assert root.get("tests") == "11" and root.get("failures") == "6" and root.get("errors") == "0"

    md = summary.read_text()
    assert md.startswith("## Gate ❌ failed: 6 of 11 rules")
    assert "| ` [budgets] max_backend_errors ` | 1 | ≤ 0 | ❌ fail (over by 1) |" in md
    assert "**broken in B** (1)" in md and "` typecheck-1 `" in md


def test_junit_cases_never_fail_a_passing_gate(runs, tmp_path):
    rules, junit = tmp_path / "lenient.toml", tmp_path / "junit.xml"
    rules.write_text("[overall]\nmin_accuracy = 0.9\n[budgets]\nmax_backend_errors = 1\n")
    r = _gate(runs, "bad", "--junit", str(junit), "--junit-cases", "--allow-partial", rules=rules)
    assert r.returncode == 0, r.stdout + r.stderr
    root = ET.parse(junit).getroot()
    gate, cases = root.findall("testsuite")
    assert gate.get("tests") == "2" and gate.get("failures") == "0"
    assert (cases.get("tests"), cases.get("failures"), cases.get("errors"), cases.get("skipped")) == ("26", "0", "0", "2")
    assert root.get("failures") == "0" and root.get("errors") == "0"
    # the failed case and the backend error stay visible, with their reason and output
    skipped = cases.find("testcase[@name='typecheck-1']/skipped")
    assert skipped.get("type") == "no_call" and "case failed (not a gate rule" in skipped.get("message")
    assert "I would rather not use a tool." in cases.find("testcase[@name='typecheck-1']/system-out").text
    assert cases.find("testcase[@name='test-3']/skipped").get("type") == "backend_error"
    assert len(cases.findall("testcase[@name='lint-1']/*")) == 0
    assert _gate(runs, "bad", "--junit-cases", rules=rules).returncode == 2  # --junit-cases needs --junit


def test_accuracy_drop_rule(runs):
    drop = runs["root"] / "drop.toml"
    drop.write_text("[baseline]\nmax_accuracy_drop = 0.05\n[budgets]\nmax_backend_errors = 1\n")
    # compared on the 25 cases both runs scored: 25/25 -> 24/25, a drop of 4.0 points
    assert _gate(runs, "bad", "--baseline", str(runs["baseline"]), "--allow-partial", rules=drop).returncode == 0
    drop.write_text("[baseline]\nmax_accuracy_drop = 0.035\n[budgets]\nmax_backend_errors = 1\n")
    r = _gate(runs, "bad", "--baseline", str(runs["baseline"]), "--allow-partial", rules=drop)
    assert r.returncode == 1 and "over by 0.5 points" in r.stdout


def test_float_limits_are_not_missed_by_rounding():
    assert Rule("k", "drop", 0.05, 0.95 - 0.9, "points", "max").passed
    assert Rule("k", "acc", 0.7, 0.1 * 7, "fraction", "min").passed
    assert not Rule("k", "size", 10, None, "bytes", "max").passed  # not measured fails


@pytest.mark.parametrize("rules, message", [
    ("[overall]\nmin_acuracy = 0.9\n", "unknown key 'min_acuracy' in [overall]"),
    ("[budget]\nmax_size_bytes = 1\n", "unknown section [budget]"),
    ("[overall]\nmin_accuracy = 90\n", "[overall] min_accuracy = 90: give a fraction from 0 to 1"),
    ("[baseline]\nmax_broken = 0.5\n", "[baseline] max_broken = 0.5: give a whole number"),
    ("[budgets]\nmax_latency_p95_s = \"5s\"\n", "[budgets] max_latency_p95_s = '5s'"),
    ("[categories.typechek]\nmin_accuracy = 1.0\n", "[categories.typechek] names no category"),
    ("[baseline]\nmax_broken = 0\n", "[baseline] rules need a baseline run: give --baseline RUN"),
    ("[overall\n", "not valid TOML"),
    ("", "no rules"),
])
def test_bad_rules_are_input_errors(runs, tmp_path, rules, message):
    path = tmp_path / "rules.toml"
    path.write_text(rules)
    r = _gate(runs, "good", rules=path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and str(path) in r.stderr
