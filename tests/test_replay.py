"""Replay is checked against the suite it re-scores, and a replayed run keeps the original's settings
and figures. Runs are made in process by the replay backend (tests/replay_runs.py)."""
import json
import shutil

import pytest

from conftest import REFERENCE_SUITE, run_cli
from harness.cli import main as cli_main
from harness.results import read_manifest, read_records, write_manifest
from harness.suite import load_suite
from replay_runs import make_run

ORIGINAL = {"sampler": {"temperature": 0.7, "top_p": 0.9, "max_tokens": 64, "seed": 7},
            "generation": {"mode": "batched", "batch_size": 8,
                           "throughput": {"generated_tokens": 9320, "cases": 20, "wall_s": 10.0, "tokens_per_s": 932.0,
                                          "cases_per_s": 2.0, "measured": "generated tokens / wall time"}},
            "model": {"load_s": 3.5, "size_bytes": 123_456_789, "peak_memory_bytes": 987_654_321}}


def replay(source, run_dir, suite=REFERENCE_SUITE, *extra) -> dict:
    """Replay `source` into `run_dir`; the JSON report."""
    r = run_cli("run", str(suite), "--replay", str(source), "--run-dir", str(run_dir), "--format", "json", *extra)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def set_manifest(run_dir, **fields):
    manifest = read_manifest(run_dir)
    for key, value in fields.items():
        setattr(manifest, key, value if key == "generation" else {**getattr(manifest, key), **value})
    write_manifest(run_dir, manifest)


def rewrite_records(run_dir, edit):
    path = run_dir / "results.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(edit(r)) + "\n" for r in records))


@pytest.fixture
def original(tmp_path):
    run_dir = make_run(tmp_path / "original", fail=["lint-2"])
    set_manifest(run_dir, **ORIGINAL)
    rewrite_records(run_dir, lambda r: {**r, "sampler": ORIGINAL["sampler"]})
    return run_dir


@pytest.mark.parametrize("source", ["folder", "results.jsonl"])
def test_replayed_run_keeps_original_sampler_and_figures(original, tmp_path, source):
    report = replay(original if source == "folder" else original / "results.jsonl", tmp_path / "again")
    manifest = read_manifest(tmp_path / "again")
    assert manifest.sampler == ORIGINAL["sampler"]  # not the replay spec's defaults (max_tokens 256)
    assert {k: v for k, v in manifest.generation.items() if k != "replayed_from"} == ORIGINAL["generation"]
    assert {k: manifest.model[k] for k in ORIGINAL["model"]} == ORIGINAL["model"]
    assert all(r.sampler == ORIGINAL["sampler"] for r in read_records(tmp_path / "again"))
    assert report["tokens_per_s"] == 932.0
    assert report["overall"]["passed"] == 25 and report["warnings"] == []


def test_results_without_manifest_keep_the_sampler_their_records_state(original, tmp_path):
    bare = tmp_path / "copied" / "results.jsonl"
    bare.parent.mkdir()
    shutil.copy(original / "results.jsonl", bare)
    replay(bare, tmp_path / "again")
    assert read_manifest(tmp_path / "again").sampler == ORIGINAL["sampler"]


def test_unknown_ids_are_counted_in_the_warnings(tmp_path):
    lines = [{"id": c.id, "output": "A direct answer."} for c in load_suite(REFERENCE_SUITE).cases]
    lines += [{"id": "ghost-1", "output": "x"}, {"id": "ghost-2", "output": "y"}, {"id": "ghost-2", "sample": 1, "output": "z"}]
    path = tmp_path / "outputs.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = replay(path, tmp_path / "run")
    assert report["overall"]["total"] == len(lines) - 3
    [warning] = report["warnings"]
    assert warning.startswith("replay: 2 recorded case ids are not in suite 'coding-tools'")
    assert "ghost-1, ghost-2" in warning
    assert read_manifest(tmp_path / "run").warnings == [warning]


def test_samples_of_one_case_are_not_duplicates(tmp_path):
    path = tmp_path / "outputs.jsonl"
    path.write_text('{"id": "direct-1", "output": "a"}\n{"id": "direct-1", "sample": 1, "output": "b"}\n')
    replay(path, tmp_path / "run", REFERENCE_SUITE, "--samples", "2")
    outputs = {r.key: r.output for r in read_records(tmp_path / "run")}
    assert outputs[("direct-1", 0)] == "a" and outputs[("direct-1", 1)] == "b"


def _edited_suite(tmp_path):
    text = REFERENCE_SUITE.read_text()
    edited = tmp_path / "coding_tools.toml"
    edited.write_text(text.replace("Type-check src/payments/ledger.py", "Type-check src/payments/refunds.py", 1))
    assert load_suite(edited).sha256 != load_suite(REFERENCE_SUITE).sha256
    return edited


def test_an_edited_suite_without_case_hashes_is_refused(original, tmp_path):
    rewrite_records(original, lambda r: {k: v for k, v in r.items() if k != "case_sha256"})  # an older run's records
    r = run_cli("run", str(_edited_suite(tmp_path)), "--replay", str(original), "--run-dir", str(tmp_path / "again"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "recorded with another version of" in r.stderr and "no case hashes" in r.stderr


def test_an_edited_suite_with_case_hashes_counts_the_changed_cases(original, tmp_path):
    report = replay(original, tmp_path / "again", _edited_suite(tmp_path))
    [warning] = report["warnings"]
    assert warning.startswith("replay: 1 cases changed") and "typecheck-1" in warning
    # the same records against the suite they were made with: nothing to warn about
    assert replay(original, tmp_path / "same")["warnings"] == []


def test_case_hash_of_a_plain_file_is_checked_too(tmp_path):
    case = load_suite(REFERENCE_SUITE).cases[0]
    path = tmp_path / "outputs.jsonl"
    path.write_text(json.dumps({"id": case.id, "output": "x", "case_sha256": case.sha256}) + "\n"
                    + json.dumps({"id": "direct-1", "output": "y", "case_sha256": "0" * 64}) + "\n")
    [warning] = replay(path, tmp_path / "run")["warnings"]
    assert warning.startswith("replay: 1 cases changed") and "direct-1" in warning


def test_a_case_retried_on_resume_is_replayed_from_its_last_record(tmp_path):
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text('{"id": "direct-1", "output": "A tuple is immutable."}\n')
    run_dir = tmp_path / "resumed"
    assert cli_main(["run", str(REFERENCE_SUITE), "--replay", str(outputs), "--run-dir", str(run_dir), "--quiet"]) == 0
    with outputs.open("a") as f:  # the missing output turns up; resuming appends a record for direct-2
        f.write('{"id": "direct-2", "output": "A decorator wraps a function."}\n')
    assert cli_main(["run", str(REFERENCE_SUITE), "--replay", str(outputs), "--run-dir", str(run_dir), "--quiet"]) == 0
    cases = len(load_suite(REFERENCE_SUITE).cases)
    # each errored case was retried: direct-2's second line is its output
    assert len((run_dir / "results.jsonl").read_text().splitlines()) == cases + cases - 1
    report = replay(run_dir, tmp_path / "again")
    assert report["overall"]["total"] == 2 and report["overall"]["passed"] == 2
    assert report["backend_errors"]["count"] == cases - 2
