"""Run folders with chosen outcomes, made by the replay backend in process: no model, fast.

Used by the diff, gate and HTML tests: every case passes unless named in `fail`; cases named in
`missing` have no recorded output and become backend errors.
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


# replies of the kinds the reference suite's ask and decline cases expect
REPLIES = {"direct": "A direct answer.", "ask": "Which file do you mean? Give me its path or the text to search for.",
           "decline": "Sorry, I can't do that with the tools I have."}


def passing_output(expect) -> str:
    if isinstance(expect, dict) and "call" in expect:
        return call(expect["call"], **ARGUMENTS[expect["call"]])
    return REPLIES["ask" if isinstance(expect, dict) else expect]


def failing_output(expect) -> str:
    if isinstance(expect, dict) and "call" in expect:
        return "I would rather not use a tool."
    return call("read_file", path="x")


def make_run(run_dir: Path, fail=(), missing=(), outputs=None, latency=1.0, suite=REFERENCE_SUITE,
             model: dict | None = None) -> Path:
    """`latency`: seconds for every case, or a dict id -> seconds (others 1.0). `model`: manifest
    model fields to set (replay runs have no size, load time or peak memory of their own)."""
    outputs = outputs or {}
    lines = []
    for case in load_suite(suite).cases:
        if case.id in missing:
            continue
        output = outputs.get(case.id) or (failing_output if case.id in fail else passing_output)(case.expect_raw)
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
