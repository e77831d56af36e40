"""Helpers for the multi-turn tests: replay files keyed by turn, and runs of the multi-turn fixture
suite through the real CLI (replay backend, in process)."""
import json
from pathlib import Path

from harness.cli import main as cli_main
from harness.results import read_records
from replay_runs import call

MULTITURN_SUITE = Path(__file__).resolve().parent / "data" / "multiturn" / "suite.toml"
DEMO_ROLLOUTS = MULTITURN_SUITE.with_name("demo_rollouts.toml")


def write_replay(path: Path, outputs: dict) -> Path:
    """`outputs`: case id -> output (a one-turn case) or case id -> [output per turn] (a rollout)."""
    lines = []
    for case_id, out in outputs.items():
        if isinstance(out, list):
            lines += [{"id": case_id, "turn": t, "output": o} for t, o in enumerate(out)]
        else:
            lines.append({"id": case_id, "output": out})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def replay_run(run_dir: Path, outputs: dict, suite: Path = MULTITURN_SUITE, replay_name: str = "replay.jsonl") -> dict:
    """Run `suite` on the recorded outputs; returns {(id, turn or "episode"): record}."""
    replay = write_replay(run_dir.parent / replay_name, outputs)
    assert cli_main(["run", str(suite), "--replay", str(replay), "--run-dir", str(run_dir), "--quiet",
                     "--format", "json"]) == 0
    return by_turn(run_dir)


def by_turn(run_dir: Path) -> dict:
    """{(id, turn or "episode"): the record as written (JSON)}."""
    return {(r.id, "episode" if r.episode else r.turn): r.to_json() for r in read_records(run_dir)}


# Outputs under which every case of the fixture suite passes.
PASSING = {
    "gold-read-after-pytest": call("read_file", path="src/ledger.py"),
    "gold-mypy-summary": "mypy found 3 errors in 2 files.",
    "gold-from-result": call("read_file", path="orders/parse.py"),
    "gold-search-retry": call("search_code", query="LedgerTotal"),
    "gold-no-repeat": "ruff reports no problems in api.",
    "rollout-fix-test": [call("execute_code", code="pytest tests/test_ledger.py"),
                         call("read_file", path="src/ledger.py"),
                         "total() subtracts 1, so the assertion at line 42 fails."],
    "rollout-search-error": [call("search_code", query="parse_order("),
                             call("search_code", query="def parse_order"),
                             "It is defined in orders/parse.py."],
}

