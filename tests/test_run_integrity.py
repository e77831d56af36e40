"""Run folders never mislead: one run per folder, resume only the same run, statistics over cases not
samples, honest status everywhere, early stop on a dead backend, distinct exit codes. Through the CLI."""
import json
import os
import resource
import signal
import subprocess
import sys

import pytest

from conftest import REFERENCE_SUITE, ROOT, run_cli
from fault_server import FaultServer
from harness import runner
from harness.cli import main as cli_main
from harness.models import spec_from_entry
from harness.records import Manifest
from harness.results import RunLock, read_manifest, read_records, write_manifest
from harness.suite import load_suite
from replay_runs import make_run, passing_output

SUITE = load_suite(REFERENCE_SUITE)


def replay_file(path, samples=1, output=None):
    lines = [{"id": c.id, "sample": s, "output": output(c, s) if output else passing_output(c),
              "latency_s": 0.5, "completion_tokens": 10} for c in SUITE.cases for s in range(samples)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_default_folders_of_runs_started_together_never_collide(tmp_path):
    replay = replay_file(tmp_path / "r.jsonl")
    cmd = [sys.executable, "-m", "harness.cli", "run", str(REFERENCE_SUITE), "--replay", str(replay),
           "--out", str(tmp_path / "reports"), "--quiet", "--format", "json"]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    folders = sorted((tmp_path / "reports").iterdir())
    assert len(folders) == 3
    for folder in folders:
        n = len(SUITE.cases)
        assert len(read_records(folder)) == n and len((folder / "results.jsonl").read_text().splitlines()) == n


def test_a_second_writer_of_one_run_folder_is_refused_with_the_pid(tmp_path):
    replay = replay_file(tmp_path / "r.jsonl")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with RunLock(run_dir):
        r = run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(run_dir))
    assert r.returncode == 2 and f"pid {__import__('os').getpid()}" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not (run_dir / "results.jsonl").exists()


@pytest.mark.parametrize("first, second, differs", [
    (["--max-tokens", "64"], ["--max-tokens", "20"], "max_tokens: 64 -> 20"),
    ([], ["--samples", "2"], "samples: 1 -> 2"),
])
def test_resume_with_other_settings_is_refused_naming_what_differs(tmp_path, first, second, differs):
    replay = replay_file(tmp_path / "r.jsonl", samples=2)
    run_dir = tmp_path / "run"
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(run_dir), *first).returncode == 0
    r = run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(run_dir), *second)
    assert r.returncode == 2 and differs in r.stderr and "new --run-dir" in r.stderr
    assert "already" not in r.stderr


def test_resume_of_an_edited_suite_is_refused(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text(REFERENCE_SUITE.read_text())
    replay = replay_file(tmp_path / "r.jsonl")
    run_dir = tmp_path / "run"
    assert run_cli("run", str(suite), "--replay", str(replay), "--run-dir", str(run_dir)).returncode == 0
    suite.write_text(REFERENCE_SUITE.read_text().replace("Type-check", "Typecheck", 1))
    r = run_cli("run", str(suite), "--replay", str(replay), "--run-dir", str(run_dir))
    assert r.returncode == 2 and "suite_sha256" in r.stderr


def _json_report(run_dir):
    r = run_cli("report", str(run_dir), "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_identical_samples_do_not_narrow_the_interval_or_the_diff_p_value(tmp_path):
    one = tmp_path / "one"
    three = tmp_path / "three"
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay_file(tmp_path / "a.jsonl")), "--run-dir", str(one)).returncode == 0
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay_file(tmp_path / "b.jsonl", samples=3)),
                   "--run-dir", str(three), "--samples", "3").returncode == 0
    a, b = _json_report(one), _json_report(three)
    assert b["overall"]["total"] == len(SUITE.cases) and b["overall"]["records"] == 3 * len(SUITE.cases)
    assert b["overall"]["ci95"] == a["overall"]["ci95"]
    assert b["overall"]["pass_all_k"] == 1.0 and b["overall"]["flip_rate"] == 0.0
    # a broken model with identical samples: the paired test sees the cases, not 3x as many records
    broken = tmp_path / "broken"
    bad = replay_file(tmp_path / "c.jsonl", samples=3, output=lambda c, s: "no idea" if c.category == "lint" else passing_output(c))
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(bad), "--run-dir", str(broken), "--samples", "3").returncode == 0
    single = tmp_path / "single"
    bad1 = replay_file(tmp_path / "d.jsonl", output=lambda c, s: "no idea" if c.category == "lint" else passing_output(c))
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(bad1), "--run-dir", str(single)).returncode == 0
    p3 = json.loads(run_cli("diff", str(three), str(broken), "--format", "json").stdout)["mcnemar_p"]
    p1 = json.loads(run_cli("diff", str(one), str(single), "--format", "json").stdout)["mcnemar_p"]
    assert p3 == p1 == pytest.approx(0.25)  # 3 broken, 0 fixed


def test_flip_rate_and_pass_at_k_when_samples_disagree(tmp_path):
    flaky = replay_file(tmp_path / "f.jsonl", samples=2,
                        output=lambda c, s: "no idea" if c.category == "lint" and s == 1 else passing_output(c))
    run_dir = tmp_path / "run"
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(flaky), "--run-dir", str(run_dir), "--samples", "2").returncode == 0
    lint = _json_report(run_dir)["categories"]["lint"]
    assert lint["accuracy"] == 0.5 and lint["pass_at_k"] == 1.0 and lint["pass_all_k"] == 0.0 and lint["flip_rate"] == 1.0
    rules = tmp_path / "gate.toml"
    rules.write_text("[categories.lint]\nmin_pass_all = 0.5\n")
    r = run_cli("gate", str(run_dir), "--rules", str(rules))
    assert r.returncode == 1 and "lint pass^k accuracy 0.0%" in r.stdout


def test_greedy_samples_warn(tmp_path):
    replay = replay_file(tmp_path / "r.jsonl", samples=2)
    r = run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(tmp_path / "run"), "--samples", "2")
    assert r.returncode == 0 and "warning: --samples 2 at temperature 0" in r.stderr


def test_partial_and_interrupted_runs_fail_the_gate_and_say_so(tmp_path):
    rules = tmp_path / "gate.toml"
    rules.write_text("[overall]\nmin_accuracy = 0.5\n")
    partial = make_run(tmp_path / "partial", missing={"lint-1", "test-2"})
    r = run_cli("gate", str(partial), "--rules", str(rules))
    assert r.returncode == 1 and "FAIL  [run] complete" in r.stdout and "--allow-partial" in r.stdout
    assert "PARTIAL RUN" in run_cli("report", str(partial)).stdout
    rules.write_text("[overall]\nmin_accuracy = 0.5\n[budgets]\nmax_backend_errors = 2\n")
    assert run_cli("gate", str(partial), "--rules", str(rules), "--allow-partial").returncode == 0

    interrupted = make_run(tmp_path / "interrupted")
    manifest = read_manifest(interrupted)
    manifest.status = "interrupted"
    write_manifest(interrupted, manifest)
    r = run_cli("gate", str(interrupted), "--rules", str(rules))
    assert r.returncode == 1 and "run status interrupted" in r.stdout
    assert "status: interrupted" in run_cli("report", str(interrupted)).stdout
    md = run_cli("report", str(interrupted), "--format", "md").stdout
    assert "PARTIAL RUN" in md.split("| category")[0]


def test_a_run_killed_after_its_last_record_is_finalized_on_resume(tmp_path):
    run_dir = make_run(tmp_path / "run", suite=REFERENCE_SUITE)
    manifest = read_manifest(run_dir)
    manifest.status = "running"
    write_manifest(run_dir, manifest)
    r = run_cli("run", str(REFERENCE_SUITE), "--replay", str(tmp_path / "run.replay.jsonl"), "--run-dir", str(run_dir))
    assert r.returncode == 0 and "status complete" in r.stderr, r.stderr
    assert read_manifest(run_dir).status == "complete"


def test_a_dead_server_stops_the_run_early_with_exit_3_and_status_failed(tmp_path):
    models = tmp_path / "models.toml"
    with FaultServer(script=[None] * 3 + ["500"] * 200) as srv:
        models.write_text(f'[models.flaky]\nbackend = "openai"\nbase_url = "{srv.base_url}"\nmodel = "fake-model"\n'
                          f'max_retries = 0\nbackoff_s = 0.01\ntimeout_s = 2\n')
        r = run_cli("run", str(REFERENCE_SUITE), "--model", "flaky", "--models", str(models),
                    "--run-dir", str(tmp_path / "run"))
        requests = srv.requests
    assert r.returncode == 3, r.stderr
    assert "backend unavailable" in r.stderr and "--run-dir" in r.stderr and "Traceback" not in r.stderr
    assert requests < 20  # stopped instead of failing every remaining case
    manifest = read_manifest(tmp_path / "run")
    assert manifest.status == "failed" and manifest.coverage["judged"] == 3


def test_throughput_has_one_meaning_and_replay_keeps_the_original(tmp_path, demo_model):
    run_dir = tmp_path / "run"
    assert run_cli("run", str(REFERENCE_SUITE), "--model", "demo", "--run-dir", str(run_dir), "--max-tokens", "24").returncode == 0
    original = _json_report(run_dir)
    replayed_dir = tmp_path / "replayed"
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(run_dir / "results.jsonl"),
                   "--run-dir", str(replayed_dir)).returncode == 0
    replayed = _json_report(replayed_dir)
    assert original["tokens_per_s"] and replayed["tokens_per_s"] == original["tokens_per_s"]
    manifest = read_manifest(replayed_dir)
    assert manifest.sampler["max_tokens"] == 24  # the original run's settings, not the replay spec's default
    diff = run_cli("diff", str(run_dir), str(replayed_dir)).stdout
    assert "generated tokens/s" in diff and "1.00x" in diff.split("generated tokens/s")[1].splitlines()[0]


def test_a_detector_crash_is_a_harness_error_not_the_models_fault(tmp_path, monkeypatch, capsys):
    import harness.scoring

    def broken(text, tools=None):
        raise RuntimeError("detector bug")

    monkeypatch.setattr(harness.scoring, "detect", broken)
    replay = replay_file(tmp_path / "r.jsonl")
    assert cli_main(["run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(tmp_path / "run"),
                     "--quiet", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["harness_errors"]["count"] == len(SUITE.cases) and report["overall"]["total"] == 0
    assert "malformed_call" not in report["reasons"]
    assert all(r.reason == "harness_error" and "detector bug" in r.detail for r in read_records(tmp_path / "run"))


def test_an_internal_error_is_one_line_with_exit_4_and_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    import harness.commands.validate as validate

    monkeypatch.setattr(validate, "main", lambda args: 1 / 0)
    assert cli_main(["validate", str(REFERENCE_SUITE)]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        cli_main(["validate", str(REFERENCE_SUITE), "--debug"])


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (6000, 6000))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, writes fail with EFBIG instead of killing


def test_a_full_disk_ends_the_run_failed_with_exit_4_and_a_resumable_folder(tmp_path):
    replay = replay_file(tmp_path / "r.jsonl")
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(run_dir)]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, preexec_fn=_limit_file_size)
    assert r.returncode == 4, r.stderr
    assert "results.jsonl" in r.stderr and "errno" in r.stderr and "Traceback" not in r.stderr
    kept = read_records(run_dir)
    assert 0 < len(kept) < 20
    assert read_manifest(run_dir).status == "failed"
    resumed = run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(run_dir))
    assert resumed.returncode == 0 and len(read_records(run_dir)) == len(SUITE.cases)
    assert read_manifest(run_dir).status == "complete"


def test_the_report_names_the_failures(tmp_path):
    run_dir = make_run(tmp_path / "run", fail={f"direct-{i}" for i in range(1, 8)} | {"lint-1", "lint-2", "lint-3", "test-1"})
    text = run_cli("report", str(run_dir)).stdout
    assert "failed cases (11)" in text and "direct-1" in text and "(1 more: --failures all)" in text
    every = run_cli("report", str(run_dir), "--failures", "all").stdout
    assert all(f"direct-{i}" in every for i in range(1, 8)) and "more: --failures all" not in every
    data = _json_report(run_dir)
    assert len(data["failures"]) == 11 and {"id", "category", "reason", "detail", "output"} <= set(data["failures"][0])
    assert "| case | category | reason | output |" in run_cli("report", str(run_dir), "--format", "md").stdout
    bad = run_cli("report", str(run_dir), "--failures", "many")
    assert bad.returncode == 2 and "--failures" in bad.stderr


def test_rescore_re_detects_into_a_new_folder_keeping_the_figures(tmp_path):
    run_dir = make_run(tmp_path / "run", fail={"lint-1"}, latency=0.7)
    out = tmp_path / "again"
    r = run_cli("rescore", str(run_dir), "-o", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    before, after = read_records(run_dir), read_records(out)
    assert [(x.id, x.passed, x.reason, x.latency_s) for x in before] == [(x.id, x.passed, x.reason, x.latency_s) for x in after]
    manifest = read_manifest(out)
    assert manifest.extra["rescored_from"] == str(run_dir) and manifest.status == "complete"
    assert manifest.sampler == read_manifest(run_dir).sampler
    # against an edited suite: lint-1 now expects a direct answer
    suite = tmp_path / "s.toml"
    suite.write_text(REFERENCE_SUITE.read_text())
    other = tmp_path / "other"
    assert run_cli("rescore", str(run_dir), "--suite", str(suite), "-o", str(other)).returncode == 0
    assert run_cli("rescore", str(run_dir), "-o", str(other)).returncode == 2  # exists


def test_manifest_reads_back_tolerantly_and_damage_is_named(tmp_path):
    run_dir = make_run(tmp_path / "run")
    raw = json.loads((run_dir / "manifest.json").read_text())
    raw["a_future_field"] = {"x": 1}
    (run_dir / "manifest.json").write_text(json.dumps(raw))
    assert Manifest.from_json(raw).extra["a_future_field"] == {"x": 1}
    assert run_cli("report", str(run_dir)).returncode == 0
    (run_dir / "manifest.json").write_text(json.dumps([1, 2]))
    r = run_cli("report", str(run_dir))
    assert r.returncode == 2 and "manifest.json" in r.stderr and "Traceback" not in r.stderr
    (run_dir / "manifest.json").write_text(json.dumps(raw))
    lines = (run_dir / "results.jsonl").read_text().splitlines()
    lines[4] = json.dumps({"id": "lint-2", "sample": "zero"})
    (run_dir / "results.jsonl").write_text("\n".join(lines) + "\n")
    r = run_cli("report", str(run_dir))
    assert r.returncode == 2 and "results.jsonl:5" in r.stderr and "--skip-damaged" in r.stderr
    r = run_cli("report", str(run_dir), "--skip-damaged")
    assert r.returncode == 0 and "1 damaged results lines skipped" in r.stdout


def test_runner_seeds_each_case_and_sample_apart():
    seeds = {runner.case_seed(0, c.id, s) for c in SUITE.cases for s in range(3)}
    assert len(seeds) == 3 * len(SUITE.cases) and runner.case_seed(0, "a", 1) == runner.case_seed(0, "a", 1)


def test_with_overrides_gives_a_new_spec():
    spec = spec_from_entry("m", {"backend": "replay", "file": "x.jsonl", "max_tokens": 64}, "[models.m]")
    other = spec.with_overrides(max_tokens=20)
    assert (spec.max_tokens, other.max_tokens) == (64, 20) and other.options == spec.options


@pytest.mark.parametrize("command", [["report", "{run}"], ["report", "{run}", "--format", "json"], ["models"],
                                     ["detect", "--text", "<tool_call>"]])
def test_any_command_whose_reader_left_ends_quietly_and_a_full_disk_is_named(tmp_path, command):
    """`harness ... | head`: the shell's SIGPIPE status, nothing on stderr; `> /dev/full`: one line naming it."""
    run = make_run(tmp_path / "run")
    argv = [sys.executable, "-m", "harness.cli", *(a.format(run=run) for a in command)]
    closed = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    closed.stdout.close()  # the reader leaves before the command writes a byte
    assert closed.wait(timeout=120) == 141
    assert closed.stderr.read() == b""
    if os.path.exists("/dev/full"):
        with open("/dev/full", "wb") as full:
            proc = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 4
        assert proc.stderr.strip().splitlines() == ["error: a write failed: No space left on device; free space, "
                                                    "or write elsewhere, and run again"]
