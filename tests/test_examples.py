"""The shipped examples work as shipped: the gate rules pass on a fresh demo run with a JUnit free of
failures, the workflow's steps are the script's steps in its order, the script runs them locally,
and the committed baseline is a complete run of the current reference suite that git keeps."""
import hashlib
import os
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import REFERENCE_SUITE, ROOT, run_cli
from harness.reporting.gate import load_rules
from harness.results import read_manifest, read_records
from harness.suite import load_suite

EXAMPLES = ROOT / "examples"
BASELINE = ROOT / "reports" / "baseline-demo"
SCRIPT = ROOT / "scripts" / "run_example_workflow.sh"


def _junit_totals(path) -> tuple[int, int, int]:
    """tests, failures, errors over the file's testsuites (pytest's and the gate's alike)."""
    suites = list(ET.parse(path).getroot().iter("testsuite"))
    return tuple(sum(int(s.get(attr)) for s in suites) for attr in ("tests", "failures", "errors"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, demo_model):
    run = tmp_path_factory.mktemp("examples") / "run"
    r = run_cli("run", str(REFERENCE_SUITE), "--model", "demo", "--run-dir", str(run), "--quiet", "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    return run


def test_example_gates_pass_on_a_fresh_demo_run(demo_run, tmp_path):
    junit = tmp_path / "junit.xml"
    r = run_cli("gate", str(demo_run), "--rules", str(EXAMPLES / "gate.toml"), "--junit", str(junit), "--junit-cases")
    assert r.returncode == 0, r.stdout + r.stderr
    tests, failures, errors = _junit_totals(junit)
    assert tests == len(read_records(demo_run)) + r.stdout.count("PASS  ") and failures == errors == 0
    junit = tmp_path / "junit-baseline.xml"
    r = run_cli("gate", str(demo_run), "--rules", str(EXAMPLES / "gate-baseline.toml"), "--baseline", str(BASELINE),
                "--junit", str(junit))
    assert r.returncode == 0, r.stdout + r.stderr
    assert _junit_totals(junit)[1:] == (0, 0)


def test_gate_toml_has_no_baseline_rules_and_gate_baseline_does():
    plain, baseline = load_rules(EXAMPLES / "gate.toml"), load_rules(EXAMPLES / "gate-baseline.toml")
    assert "baseline" not in plain and plain["overall"]
    assert set(baseline["baseline"]) == {"max_broken", "max_accuracy_drop"}
    # the gate form without --baseline works on gate.toml (it is what a new user tries first)
    r = run_cli("gate", str(BASELINE), "--rules", str(EXAMPLES / "gate.toml"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_workflow_steps_are_the_scripts_steps_in_order():
    workflow = (EXAMPLES / "github-actions.yml").read_text()
    runs = re.findall(r"^\s+run: (.+)$", workflow, flags=re.M)
    assert runs and all(r.startswith("bash scripts/run_example_workflow.sh ") for r in runs), runs
    steps = [r.split()[-1] for r in runs]
    script_steps = re.search(r"^STEPS=\((.+)\)$", SCRIPT.read_text(), flags=re.M)[1].split()
    assert steps == script_steps
    # caches: the venv by pyproject.toml, the demo model by its recipe hash (the recipe step's output)
    assert "path: .venv" in workflow and "hashFiles('pyproject.toml')" in workflow
    assert "path: ~/.cache/toolcall-harness" in workflow and "${{ steps.recipe.outputs.hash }}" in workflow
    assert workflow.index("id: recipe") < workflow.index("path: ~/.cache/toolcall-harness") < workflow.index("sh demo")
    assert "reports/report.html" in workflow and "actions/upload-artifact" in workflow


def test_unknown_step_is_an_input_error():
    r = subprocess.run(["bash", str(SCRIPT), "deploy"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "unknown step 'deploy'" in r.stderr and "setup recipe demo" in r.stderr


@pytest.mark.slow
def test_workflow_runs_locally_and_passes(tmp_path, demo_model):
    """Every step after setup (the venv is this one), in order, as CI runs them."""
    from harness.demo.build import demo_recipe_hash

    env = dict(os.environ, REPORTS=str(tmp_path), RUN=str(tmp_path / "ci"))
    env.pop("GITHUB_OUTPUT", None), env.pop("GITHUB_STEP_SUMMARY", None)
    r = subprocess.run(["bash", str(SCRIPT), "recipe", "demo", "pytest", "gate", "reports"], capture_output=True,
                       text=True, cwd=ROOT, env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert [line for line in r.stderr.splitlines() if line.startswith("== ")] == [
        "== recipe", "== demo", "== pytest", "== gate", "== reports"]
    assert (tmp_path / "github-output.txt").read_text() == f"hash={demo_recipe_hash()}\n"
    for junit in ("pytest-junit.xml", "junit.xml", "junit-baseline.xml"):
        tests, failures, errors = _junit_totals(tmp_path / junit)
        assert tests > 0 and failures == errors == 0, junit
    assert read_manifest(tmp_path / "ci").sessions == 1  # the gate form reused the pytest form's run
    assert "<html" in (tmp_path / "report.html").read_text() and "<html" in (tmp_path / "diff.html").read_text()
    assert "## Gate ✅ passed" in (tmp_path / "step-summary.md").read_text()


def test_committed_baseline_is_a_complete_run_of_the_reference_suite():
    manifest = read_manifest(BASELINE)
    assert manifest.status == "complete" and manifest.model["name"] == "demo"
    # same suite bytes, or the diff compares other cases: refresh the baseline (reports/README.md)
    assert manifest.suite["sha256"] == hashlib.sha256(REFERENCE_SUITE.read_bytes()).hexdigest()
    assert manifest.suite["cases"] == len(load_suite(REFERENCE_SUITE).cases)
    assert manifest.coverage["judged"] == manifest.coverage["expected"] == manifest.suite["cases"]


def test_git_keeps_the_baseline_and_ignores_other_runs():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")

    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0

    assert not ignored("reports/README.md") and not ignored("reports/baseline-demo/results.jsonl")
    assert ignored("reports/coding-tools-demo-20260101-000000/results.jsonl") and ignored("reports/report.html")
