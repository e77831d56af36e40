"""Run folders with chosen outcomes, made by the replay backend in process: no model, fast.

Used by the diff, gate and HTML tests: every case passes unless named in `fail`; cases named in
`missing` have no recorded output and become backend errors. By default they run the reference
suite's 20 single-turn cases, the runs those tests' figures were sized on (test_multiturn covers
its multi_turn cases).
"""
import json
from pathlib import Path

from conftest import REFERENCE_SUITE
from harness.cli import main as cli_main
from harness.results import read_manifest, write_manifest
from harness.suite import load_suite

ARGUMENTS = {"execute_code": {"code": "mypy ."}, "read_file": {"path": "README.md"}, "search_code": {"query": "x"}}


def call(name: str, **arguments) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


# The reference suite's multi_turn cases, judged on the turn after a tool result:
# (an output that passes, an output that fails, the reason it fails with).
REFERENCE_MULTI_TURN = {
    "multi-turn-1": (call("read_file", path="billing/invoice.py"), "The rounding is off.", "no_call"),
    "multi-turn-2": ("mypy found 3 errors in 2 files.", "mypy found some errors.", "wrong_answer"),
    "multi-turn-3": (call("search_code", query="RetryPolicy"), call("search_code", query="class RetryPolicy"),
                     "unchanged_arguments"),
    "multi-turn-4": (call("search_code", query="date_helpers"), "That file does not exist.", "no_call"),
    "multi-turn-5": ("ruff found no problems in cli.", "ruff ran.", "wrong_answer"),
    "multi-turn-6": (call("read_file", path="billing/parse.py"), call("read_file", path="billing/invoice.py"),
                     "wrong_value"),
    "multi-turn-7": ("All 42 tests pass.", call("execute_code", code="pytest orders"), "no_repeat"),
}


# replies of the kinds the reference suite's ask and decline cases expect
REPLIES = {"direct": "A direct answer.", "ask": "Which file do you mean? Give me its path or the text to search for.",
           "decline": "Sorry, I can't do that with the tools I have."}


def passing_output(case) -> str:
    if case.id in REFERENCE_MULTI_TURN:  # judged on the turn after a tool result: an output of its own
        return REFERENCE_MULTI_TURN[case.id][0]
    expect = case.expect_raw
    if isinstance(expect, dict) and "call" in expect:
        return call(expect["call"], **ARGUMENTS[expect["call"]])
    return REPLIES["ask" if isinstance(expect, dict) else expect]


def failing_output(case) -> str:
    if case.id in REFERENCE_MULTI_TURN:
        return REFERENCE_MULTI_TURN[case.id][1]
    expect = case.expect_raw
    return "I would rather not use a tool." if isinstance(expect, dict) and "call" in expect else call("read_file", path="x")


def single_turn_suite(folder: Path) -> Path:
    """The reference suite without its multi_turn cases, written into `folder`."""
    head, *cases = REFERENCE_SUITE.read_text().split("\n[[cases]]\n")
    kept = [c for c in cases if 'category = "multi_turn"' not in c]
    path = Path(folder) / "coding_tools_single_turn.toml"
    path.write_text("\n[[cases]]\n".join([head, *kept]))
    return path


def make_run(run_dir: Path, fail=(), missing=(), outputs=None, latency=1.0, suite=None,
             model: dict | None = None) -> Path:
    """`latency`: seconds for every case, or a dict id -> seconds (others 1.0). `model`: manifest
    model fields to set (replay runs have no size, load time or peak memory of their own)."""
    outputs = outputs or {}
    suite = suite or single_turn_suite(Path(run_dir).parent)
    lines = []
    for case in load_suite(suite).cases:
        if case.id in missing:
            continue
        output = outputs.get(case.id) or (failing_output if case.id in fail else passing_output)(case)
        seconds = latency.get(case.id, 1.0) if isinstance(latency, dict) else latency
        lines.append({"id": case.id, "output": output, "latency_s": seconds, "completion_tokens": 20})
    run_dir = Path(run_dir)
    replay = run_dir.with_name(run_dir.name + ".replay.jsonl")
    replay.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert cli_main(["run", str(suite), "--replay", str(replay), "--run-dir", str(run_dir), "--quiet", "--format", "json"]) == 0
    if model:
        manifest = read_manifest(run_dir)
        manifest.model.update(model)
        write_manifest(run_dir, manifest)
    return run_dir
