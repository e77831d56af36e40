"""End to end on the real mlx backend and the demo model: run, report, replay, resume after a kill."""
import json
import signal
import subprocess
import sys
import time

from conftest import REFERENCE_SUITE, ROOT, run_cli
from harness.results import read_records


def _records(run_dir):
    return read_records(run_dir)


def test_run_reference_suite_on_demo(tmp_path, demo_model):
    run_dir = tmp_path / "run"
    r = run_cli("run", str(REFERENCE_SUITE), "--model", "demo", "--run-dir", str(run_dir), "--format", "json")
    assert r.returncode == 0, r.stderr
    records = _records(run_dir)
    assert len(records) == 33
    assert len({rec.id for rec in records}) == 33
    for rec in records:
        assert rec.latency_s > 0 and rec.prompt_tokens > 100 and rec.completion_tokens >= 1
        assert rec.detection.outcome in ("call", "malformed", "none")
        assert rec.reason != "backend_error"
    report = json.loads(r.stdout)  # stdout is the report alone; the run folder goes to stderr
    assert report["overall"]["total"] == 33
    assert set(report["categories"]) == {"typecheck", "lint", "test", "read_search", "direct", "multi_turn", "ask", "decline"}
    assert report["model"]["size_bytes"] > 100_000 and report["model"]["load_s"] > 0
    assert report["latency"]["mean_s"] > 0
    # the demo model is trained to call tools for repository work: it must really do so
    assert report["tool_calls"]["made"] >= 7, report["tool_calls"]
    assert "hermes_json" in report["formats"]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["suite"]["sha256"] and manifest["model"]["peak_memory_bytes"] > 0
    assert manifest["versions"]["mlx-lm"] == "0.32.2"

    # re-scoring the run from its own results reproduces every verdict
    replay_dir = tmp_path / "replay"
    r2 = run_cli("run", str(REFERENCE_SUITE), "--replay", str(run_dir / "results.jsonl"), "--run-dir", str(replay_dir))
    assert r2.returncode == 0, r2.stderr
    original = {rec.id: (rec.passed, rec.reason, rec.detection) for rec in records}
    replayed = {rec.id: (rec.passed, rec.reason, rec.detection) for rec in _records(replay_dir)}
    assert replayed == original
    replay_manifest = json.loads((replay_dir / "manifest.json").read_text())
    assert replay_manifest["model"]["size_bytes"] == manifest["model"]["size_bytes"]

    # the human report names size, load time and latency
    r3 = run_cli("report", str(run_dir))
    assert f"run folder: {run_dir}" in r.stderr
    assert r3.returncode == 0 and "disk size" in r3.stdout and "load time" in r3.stdout and "latency" in r3.stdout


def test_kill_midway_then_resume_runs_each_case_once(tmp_path, demo_model):
    run_dir = tmp_path / "run"
    # small batches spread the finishes out in time, so the kill lands midway
    cmd = [sys.executable, "-m", "harness.cli", "run", str(REFERENCE_SUITE), "--model", "demo",
           "--run-dir", str(run_dir), "--quiet", "--batch-size", "4"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(_records(run_dir)) < 5:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = len(_records(run_dir))
    assert 5 <= first < 33, f"kill landed after {first} cases"
    r = run_cli("run", str(REFERENCE_SUITE), "--model", "demo", "--run-dir", str(run_dir), "--quiet")
    assert r.returncode == 0, r.stderr
    ids = [rec.id for rec in _records(run_dir)]
    assert len(ids) == 33 and len(set(ids)) == 33
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["sessions"] == 2


def test_resume_refuses_another_model(tmp_path):
    run_dir = tmp_path / "run"
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"id": "direct-1", "output": "A tuple is immutable."}\n')
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(run_dir)).returncode == 0
    r = run_cli("run", str(REFERENCE_SUITE), "--model", "demo", "--run-dir", str(run_dir))
    assert r.returncode == 2 and "use a new --run-dir" in r.stderr


def test_replay_of_missing_case_is_backend_error_not_failure(tmp_path):
    replay = tmp_path / "r.jsonl"
    replay.write_text('{"id": "direct-1", "output": "A tuple is immutable."}\n'
                      '{"id": "read-1", "output": "<tool_call>\\n{\\"name\\": \\"read_file\\", \\"arguments\\": {\\"path\\": \\"config/settings.yaml\\"}}\\n</tool_call>"}\n')
    r = run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(tmp_path / "run"), "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)  # stdout is the report alone; the run folder goes to stderr
    assert report["overall"] == {**report["overall"], "total": 2, "passed": 2}
    assert report["backend_errors"]["count"] == 31


def test_resume_retries_backend_errors(tmp_path):
    run_dir = tmp_path / "run"
    replay = tmp_path / "outputs.jsonl"
    replay.write_text('{"id": "direct-1", "output": "A tuple is immutable."}\n')
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(run_dir)).returncode == 0
    assert sum(r.reason == "backend_error" for r in _records(run_dir)) == 32
    # the missing output turns up (a flaky server recovered): resuming retries only the errored cases
    with replay.open("a") as f:
        f.write('{"id": "direct-2", "output": "A decorator wraps a function."}\n')
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay), "--run-dir", str(run_dir)).returncode == 0
    records = {r.id: r for r in _records(run_dir)}
    assert len(records) == 33
    assert records["direct-2"].passed is True and records["direct-1"].passed is True
    assert sum(r.reason == "backend_error" for r in records.values()) == 31


def test_flag_for_another_backend_is_an_input_error(tmp_path):
    replay = tmp_path / "outputs.jsonl"
    replay.write_text('{"id": "direct-1", "output": "x"}\n')
    r = run_cli("run", str(REFERENCE_SUITE), "--replay", str(replay), "--concurrency", "4")
    assert r.returncode == 2 and "--concurrency does not apply to backend 'replay'" in r.stderr


def test_ctrl_c_keeps_finished_cases_and_says_how_to_resume(tmp_path, demo_model):
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(REFERENCE_SUITE), "--model", "demo",
           "--latency-mode", "sequential", "--run-dir", str(run_dir), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not _records(run_dir):
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    kept = len(_records(run_dir))
    assert proc.returncode == 130 and f"--run-dir {run_dir}" in err
    assert 1 <= kept < 33
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "interrupted"
