"""The pytest plugin, run as a user runs it: `pytest SUITE --harness-replay FILE` (or --harness-model)
in a subprocess, in a fresh folder; outcomes read from pytest's -rA summary and its --junitxml."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import REFERENCE_SUITE
from harness.results import read_manifest, read_records
from replay_runs import call

TOOLS = """
name = "plugin-check"
system = "You are a coding assistant."

[[tools]]
name = "execute_code"
description = "Run a shell command."
parameters = { type = "object", properties = { code = { type = "string" } }, required = ["code"] }

[[tools]]
name = "read_file"
description = "Read a file."
parameters = { type = "object", properties = { path = { type = "string" } }, required = ["path"] }
"""
# id, category, prompt, expect, extra keys
CASES = [
    ("lint-ok", "lint", "Run ruff.", '{ call = "execute_code" }', 'tags = ["smoke"]'),
    ("lint-bad", "lint", "Run ruff on src.", '{ call = "execute_code" }', ""),
    ("read-known", "read", "Show me setup.cfg.", '{ call = "read_file" }',
     'xfail = "the model confuses reading with running"'),
    ("read-fixed", "read", "Open README.md.", '{ call = "read_file" }', "xfail = true"),
    ("direct-ok", "direct", "What is a list comprehension?", '"direct"', 'tags = ["smoke", "general"]'),
    ("lost", "direct", "What is a tuple?", '"direct"', ""),
]
SUITE = TOOLS + "".join(f'\n[[cases]]\nid = "{i}"\ncategory = "{c}"\nprompt = "{p}"\nexpect = {e}\n{x}\n'
                        for i, c, p, e, x in CASES)
# "lost" has no recorded output: a backend error, which pytest reports as an ERROR, not a failure
OUTPUTS = {
    "lint-ok": call("execute_code", code="ruff check ."),
    "lint-bad": "I would rather explain ruff than run it.\x1b[2J",  # a terminal escape from the model
    "read-known": call("execute_code", code="cat setup.cfg"),
    "read-fixed": call("read_file", path="README.md"),
    "direct-ok": "A list comprehension builds a list from an iterable in one expression.",
}
GATE = """
[overall]
min_decision = 0.5
[categories.lint]
min_accuracy = 1.0
"""
CASE_IDS = [case[0] for case in CASES]
RULE_ITEMS = ["gate[run.complete]", "gate[overall.min_decision]", "gate[categories.lint.min_accuracy]",
              "gate[budgets.max_backend_errors]"]
# "lost" is a backend error: the run is partial and has lost a case, which two of the rules fail
RULE_OUTCOMES = dict(zip(RULE_ITEMS, ["FAILED", "PASSED", "FAILED", "FAILED"]))


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "suite.toml").write_text(SUITE)
    (tmp_path / "replay.jsonl").write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in OUTPUTS.items()))
    (tmp_path / "gate.toml").write_text(GATE)
    return tmp_path


def pytest_run(cwd: Path, *args: str, timeout: float = 300) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run pytest as a user would; returns the process and item name -> outcome from the -rA summary.
    Hypothesis's pytest plugin is left out: it costs seconds of import per run and plays no part."""
    r = subprocess.run([sys.executable, "-m", "pytest", "-rA", "-q", "-p", "no:hypothesispytest", *args],
                       capture_output=True, text=True, cwd=cwd, timeout=timeout)
    outcomes = {}
    for line in r.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "XFAIL", "XPASS", "ERROR", "SKIPPED") and "::" in rest:
            outcomes[rest.split("::", 1)[1].split(" - ")[0].strip()] = word
    return r, outcomes


def replay_args(*extra: str) -> list[str]:
    return ["suite.toml", "--harness-replay", "replay.jsonl", "--harness-run-dir", "run", *extra]


def test_items_outcomes_messages_and_junit(project):
    r, outcomes = pytest_run(project, *replay_args("--harness-gate=gate.toml", "--junitxml", "junit.xml"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert outcomes == {"lint-ok": "PASSED", "lint-bad": "FAILED", "read-known": "XFAIL", "read-fixed": "XPASS",
                        "direct-ok": "PASSED", "lost": "ERROR", **RULE_OUTCOMES}
    # the failure names the verdict, what was expected, what was detected and shows the output
    assert "lint-bad: no_call at level decision" in r.stdout
    assert 'expected: {"call": "execute_code"}' in r.stdout
    assert "I would rather explain ruff than run it.\\x1b[2J" in r.stdout and "\x1b" not in r.stdout
    assert "FAIL  [categories.lint] min_accuracy: lint accuracy 50.0%" in r.stdout
    assert "lost: backend_error: no recorded output" in r.stdout
    assert "Traceback" not in r.stdout and "pytest_plugin.py" not in r.stdout

    junit = ET.parse(project / "junit.xml").getroot()
    cases = {tc.get("name"): tc for tc in junit.iter("testcase")}
    assert list(cases) == CASE_IDS + RULE_ITEMS
    assert cases["lint-bad"].find("failure") is not None and "no_call" in cases["lint-bad"].find("failure").get("message")
    assert cases["read-known"].find("skipped").get("type") == "pytest.xfail"
    assert cases["lost"].find("error") is not None
    assert all((cases[n].find("failure") is not None) == (o == "FAILED") for n, o in RULE_OUTCOMES.items())
    assert all(len(cases[n]) == 0 for n in ("lint-ok", "direct-ok", "read-fixed", "gate[overall.min_decision]"))

    # one batched generation for the session, into a normal run folder
    assert read_manifest(project / "run").sessions == 1
    lines = (project / "run" / "results.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(CASE_IDS)


def test_k_and_m_select_and_only_selected_cases_are_generated(project):
    r, outcomes = pytest_run(project, *replay_args("-k", "lint"))
    assert outcomes == {"lint-ok": "PASSED", "lint-bad": "FAILED"}, r.stdout
    assert sorted(rec.id for rec in read_records(project / "run")) == ["lint-bad", "lint-ok"]

    # tags and categories are markers; a second run folder shows -m's selection alone was generated
    r, outcomes = pytest_run(project, "suite.toml", "--harness-replay", "replay.jsonl", "--harness-run-dir", "run-m",
                             "-m", "smoke and not general", "--strict-markers")
    assert outcomes == {"lint-ok": "PASSED"}, r.stdout + r.stderr
    assert [rec.id for rec in read_records(project / "run-m")] == ["lint-ok"]
    r, outcomes = pytest_run(project, *replay_args("-m", "read", "--harness-gate=gate.toml"))
    assert outcomes == {"read-known": "XFAIL", "read-fixed": "XPASS"}, r.stdout
    r, outcomes = pytest_run(project, *replay_args("-m", "harness_case and not read and not lint"))
    assert outcomes == {"direct-ok": "PASSED", "lost": "ERROR"}, r.stdout


def test_last_failed_reruns_only_the_failures(project):
    r, first = pytest_run(project, *replay_args())
    assert first["lint-bad"] == "FAILED" and r.returncode == 1
    assert set(first) == set(CASE_IDS)  # without --harness-gate there are no rule items
    r, again = pytest_run(project, "suite.toml", "--harness-replay", "replay.jsonl", "--harness-run-dir", "run-lf", "--lf")
    assert again == {"lint-bad": "FAILED", "lost": "ERROR"}, r.stdout  # errors count as failed for --lf
    assert sorted(rec.id for rec in read_records(project / "run-lf")) == ["lint-bad", "lost"]


def test_exitfirst_stops_at_the_first_failure(project):
    r, outcomes = pytest_run(project, *replay_args("-x"))
    assert r.returncode == 1
    assert outcomes == {"lint-ok": "PASSED", "lint-bad": "FAILED"}, r.stdout
    assert "stopping after 1 failures" in r.stdout


def test_gate_rules_alone_judge_the_whole_suite(project):
    r, outcomes = pytest_run(project, *replay_args("--harness-gate=gate.toml", "-m", "harness_gate"))
    assert outcomes == RULE_OUTCOMES, r.stdout
    assert len(read_records(project / "run")) == len(CASE_IDS)


def test_suites_are_not_collected_without_a_model(project):
    r, outcomes = pytest_run(project, ".")
    assert r.returncode == 5 and outcomes == {}, r.stdout  # 5: pytest collected nothing
    assert not (project / "run").exists() and not (project / "reports").exists()


@pytest.mark.parametrize("args, message", [
    (["--harness-model", "no-such-model"], "unknown model 'no-such-model'"),
    (["--harness-replay", "replay.jsonl", "--harness-gate=bad.toml"], "bad.toml: unknown section [overal]"),
    (["--harness-replay", "replay.jsonl", "--harness-gate=base.toml"], "give --harness-baseline RUN"),
    (["--harness-replay", "missing.jsonl"], "missing.jsonl: cannot read the replay file"),
])
def test_bad_input_is_a_one_line_error(project, args, message):
    (project / "bad.toml").write_text("[overal]\nmin_accuracy = 0.5\n")
    (project / "base.toml").write_text("[baseline]\nmax_broken = 0\n")
    r, _ = pytest_run(project, "suite.toml", *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr


@pytest.mark.parametrize("extra, message", [
    ('expect = "sometimes"', "broken.toml: case 'a': field 'expect': unknown expectation 'sometimes'"),
    ('expect = "direct"\nxfail = 1', "broken.toml: case 'a': field 'xfail' must be true, false or a reason string"),
])
def test_a_broken_suite_file_is_a_collection_error(project, extra, message):
    (project / "broken.toml").write_text(f'[[cases]]\nid = "a"\ncategory = "x"\nprompt = "p"\n{extra}\n')
    r, _ = pytest_run(project, "broken.toml", "--harness-replay", "replay.jsonl")
    assert r.returncode == 2 and message in r.stdout, r.stdout
    assert "Traceback" not in r.stdout


def test_demo_model_once_per_session(tmp_path, demo_model):
    """Real mlx generation: outcomes agree with the run folder's verdicts, generated in one session."""
    suite = tmp_path / "coding_tools.toml"
    suite.write_text(REFERENCE_SUITE.read_text())
    r, outcomes = pytest_run(tmp_path, suite.name, "--harness-model", "demo", "--harness-run-dir", "run",
                             "--junitxml", "junit.xml", "-k", "typecheck or lint or direct")
    assert r.returncode in (0, 1), r.stdout + r.stderr
    records = {rec.id: rec for rec in read_records(tmp_path / "run")}
    assert outcomes and set(outcomes) == set(records)
    assert all(i.startswith(("typecheck-", "lint-", "direct-")) for i in outcomes)
    assert {i: o == "PASSED" for i, o in outcomes.items()} == {i: rec.passed for i, rec in records.items()}
    manifest = read_manifest(tmp_path / "run")
    assert manifest.sessions == 1 and manifest.model["backend"] == "mlx" and manifest.status == "complete"
    assert len((tmp_path / "run" / "results.jsonl").read_text().splitlines()) == len(records)
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    assert int(junit.find("testsuite").get("failures")) == sum(not rec.passed for rec in records.values())


def test_samples_are_items_and_node_ids_select(project):
    (project / "replay.jsonl").write_text("".join(json.dumps({"id": k, "output": v, "sample": s}) + "\n"
                                                  for k, v in OUTPUTS.items() for s in (0, 1)))
    r, outcomes = pytest_run(project, "suite.toml::lint-ok[1]", "suite.toml::lint-bad[0]", "--harness-replay",
                             "replay.jsonl", "--harness-samples", "2", "--harness-run-dir", "run")
    assert outcomes == {"lint-ok[1]": "PASSED", "lint-bad[0]": "FAILED"}, r.stdout + r.stderr
    assert sorted((rec.id, rec.sample) for rec in read_records(project / "run")) == [
        ("lint-bad", 0), ("lint-bad", 1), ("lint-ok", 0), ("lint-ok", 1)]  # a case's samples run together


def test_a_folder_walk_collects_toml_and_jsonl_suites_only(project):
    tools = [{"name": "execute_code", "description": "Run a shell command.",
              "parameters": {"type": "object", "properties": {"code": {"type": "string"}}}}]
    lines = [{"id": "j-lint", "category": "lint", "prompt": "Run ruff.", "expect": {"call": "execute_code"}, "tools": tools},
             {"id": "j-direct", "category": "direct", "prompt": "What is a set?", "expect": "direct"}]
    (project / "more.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    with (project / "replay.jsonl").open("a") as f:
        f.write(json.dumps({"id": "j-lint", "output": call("execute_code", code="ruff check .")}) + "\n")
        f.write(json.dumps({"id": "j-direct", "output": "An unordered collection."}) + "\n")
    (project / "models.toml").write_text('[models.x]\nbackend = "mlx"\npath = "nowhere"\n')
    # gate.toml, models.toml and replay.jsonl are not suites: a walk leaves them alone
    r, outcomes = pytest_run(project, ".", "--harness-replay", "replay.jsonl", "--harness-run-dir", "runs", "-k", "lint or j-")
    assert outcomes == {"j-lint": "PASSED", "j-direct": "PASSED", "lint-ok": "PASSED", "lint-bad": "FAILED"}, r.stdout
    # several suite files in one session: a run folder each, under --harness-run-dir
    assert sorted(rec.id for rec in read_records(project / "runs" / "more")) == ["j-direct", "j-lint"]
    assert sorted(rec.id for rec in read_records(project / "runs" / "suite")) == ["lint-bad", "lint-ok"]


def test_baseline_rules_compare_with_a_baseline_run(project):
    pytest_run(project, "suite.toml", "--harness-replay", "replay.jsonl", "--harness-run-dir", "base")
    broken = dict(OUTPUTS, **{"lint-ok": "No tool today."})
    (project / "worse.jsonl").write_text("".join(json.dumps({"id": k, "output": v}) + "\n" for k, v in broken.items()))
    (project / "base.toml").write_text("[baseline]\nmax_broken = 0\nmax_accuracy_drop = 0.5\n")
    r, outcomes = pytest_run(project, "suite.toml", "--harness-replay", "worse.jsonl", "--harness-run-dir", "new",
                             "--harness-gate=base.toml", "--harness-baseline", "base", "-m", "harness_gate")
    baseline_items = {k: v for k, v in outcomes.items() if k.startswith("gate[baseline.")}
    assert baseline_items == {"gate[baseline.max_broken]": "FAILED", "gate[baseline.max_accuracy_drop]": "PASSED"}, r.stdout
    assert "FAIL  [baseline] max_broken: cases broken vs baseline 1, limit <= 0" in r.stdout
