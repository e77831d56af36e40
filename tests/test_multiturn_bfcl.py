"""BFCL multi_turn_base, imported per turn from the gold prefix: the environments run at import time
only, every turn's case validates, and the ground truth replayed scores 100% at the call level."""
import importlib.util
import json
import os

import pytest

from conftest import run_cli
from harness.suite import load_suite

DATA = os.path.join(os.path.dirname(__file__), "data", "bfcl")


def _wheel() -> str | None:
    if os.environ.get("BFCL_WHEEL"):
        return os.environ["BFCL_WHEEL"]
    return None if importlib.util.find_spec("bfcl_eval") is None else ""


@pytest.mark.skipif(_wheel() is not None, reason="bfcl-eval is available here")
def test_without_bfcl_eval_the_import_is_one_clear_line_exit_2(tmp_path):
    r = run_cli("import", "bfcl", "--data", DATA, "--category", "multi_turn_base", "-o", str(tmp_path / "s.jsonl"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "install bfcl-eval" in r.stderr, r.stderr


@pytest.mark.skipif(_wheel() is None, reason="no bfcl-eval: set BFCL_WHEEL to the bfcl-eval .whl, or install it")
def test_multi_turn_base_per_turn_ground_truth_scores_100_percent(tmp_path):
    suite, truth = tmp_path / "mt.jsonl", tmp_path / "truth.jsonl"
    args = ["--data", _wheel()] if _wheel() else []
    r = run_cli("import", "bfcl", *args, "--category", "multi_turn_base", "-o", str(suite), "--ground-truth", str(truth))
    assert r.returncode == 0, r.stderr
    cases = {c.id: c for c in load_suite(suite).cases}  # every gold prefix validates
    assert len(cases) >= 500
    first = [c for i, c in cases.items() if i.endswith("-turn-0")]
    assert all(not any(m["role"] == "tool" for m in c.messages) for c in first)
    # turn k of an entry holds k answered turns: calls with results from BFCL's environment classes
    later = cases["multi_turn_base_0-turn-1"]
    results = [m["content"] for m in later.messages if m["role"] == "tool"]
    calls = [c["function"]["name"] for m in later.messages for c in m.get("tool_calls") or []]
    assert calls == ["cd", "mkdir", "mv"] and len(results) == 3 and all(isinstance(x, str) and x for x in results)
    assert "document" in results[0]  # cd's result names the folder it moved into
    run_dir = tmp_path / "run"
    r = run_cli("run", str(suite), "--replay", str(truth), "--run-dir", str(run_dir), "--quiet", "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["overall"]["call"]["accuracy"] == 1.0 and report["overall"]["total"] == len(cases)
