"""Reports at scale: time and peak memory of `harness report` (each format), `diff A B` and
`gate --baseline` on two synthetic run folders of N records (default 100,000), each command in its own
process, as a user runs them.

    .venv/bin/python benchmarks/report_scale.py [--records 100000] [--keep DIR]

Records are realistic: outputs of 200-2,000 characters (5% of 20 KB), calls in a few formats, 5 categories,
some failures and backend errors. Goals: report < 1.5 s, diff and gate --baseline < 3 s, each < 300 MiB.
"""
import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"report": (1.5, 300), "diff": (3.0, 300), "gate": (3.0, 300)}


def record(i: int, rng: random.Random, fail_rate: float) -> dict:
    category = ["typecheck", "lint", "test", "read_search", "direct"][i % 5]
    size = 20_000 if rng.random() < 0.05 else rng.randint(200, 2000)
    passed = rng.random() > fail_rate
    error = rng.random() < 0.002
    call = {"name": "execute_code", "arguments": {"code": "mypy src/"}}
    output = ("<tool_call>\n" + json.dumps(call) + "\n</tool_call>" if category != "direct" else "") + "x" * size
    return {
        "id": f"case-{i}", "sample": 0, "category": category, "tags": [], "output": output, "tool_calls": None,
        "detection": {"outcome": "call" if category != "direct" else "none", "format": "hermes_json" if category != "direct" else None,
                      "calls": [call] if category != "direct" else [], "near_miss": None},
        "passed": passed and not error, "level": None if passed else "call",
        "reason": "backend_error" if error else (None if passed else "wrong_value"), "detail": "" if passed else "argument 'code'",
        "decision": None if error else True, "tool": None if error else True, "call": None if error else passed,
        "expect": "direct" if category == "direct" else {"call": "execute_code", "arguments": {"code": {"regex": "mypy"}}},
        "expects_call": category != "direct", "latency_s": rng.uniform(0.1, 2.0), "ttft_s": None, "timing": "batched",
        "prompt_tokens": 900, "completion_tokens": 40, "tokens_per_s": None, "finish_reason": "stop",
        "error": "HTTP 500" if error else None, "prompt_sha256": "0" * 64,
        "sampler": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 64, "seed": 0}, "finished_at": "2026-12-02T00:00:00+00:00",
    }


def make_run(folder: Path, n: int, seed: int, fail_rate: float) -> Path:
    folder.mkdir(parents=True)
    rng = random.Random(seed)
    with (folder / "results.jsonl").open("w") as f:
        for i in range(n):
            f.write(json.dumps(record(i, rng, fail_rate)) + "\n")
    manifest = {"run_dir": str(folder), "status": "complete", "suite": {"name": "scale", "path": "scale.toml", "cases": n},
                "model": {"name": folder.name, "backend": "mlx", "load_s": 1.0, "size_bytes": 10**9, "peak_memory_bytes": 2 * 10**9},
                "sampler": {"temperature": 0.0}, "samples": 1, "generation": {"mode": "batched", "batch_size": 32,
                "throughput": {"tokens_per_s": 100.0, "cases_per_s": 3.0}}, "schema_version": 2,
                "coverage": {"expected": n, "judged": n, "not_judged": 0}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


# A fresh wrapper per command runs it as its child, so the children's peak RSS is that command's alone.
WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True); "
           "sys.stderr.write(r.stderr.decode()[-500:]); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")


def timed(args: list[str]) -> tuple[float, float, int]:
    """Wall seconds of the command (with the wrapper's start), its peak RSS in MiB, its exit code."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", WRAPPER, sys.executable, "-m", "harness.cli", *args], cwd=ROOT,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode not in (0, 1):
        sys.exit(f"{' '.join(args)} failed: {r.stderr[-500:]}")
    return wall, int(r.stdout.split()[-1]) / 1024, r.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--keep", help="build the run folders here (and keep them)")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="report-scale-"))
    a, b = root / "a", root / "b"
    if not a.exists():
        t0 = time.perf_counter()
        make_run(a, args.records, 1, 0.2)
        make_run(b, args.records, 2, 0.25)
        print(f"built two runs of {args.records} records in {time.perf_counter() - t0:.1f} s "
              f"({(a / 'results.jsonl').stat().st_size / 2**20:.0f} MiB each)")
    rules = root / "gate.toml"
    rules.write_text("[overall]\nmin_accuracy = 0.5\n[baseline]\nmax_accuracy_drop = 0.2\n[budgets]\nmax_backend_errors = 1000\n")
    html = root / "report.html"
    commands = {
        "report": ["report", str(b)],
        "report --format json": ["report", str(b), "--format", "json"],
        "report --format md": ["report", str(b), "--format", "md"],
        "report --format html": ["report", str(b), "--format", "html", "-o", str(html)],
        "diff A B": ["diff", str(a), str(b)],
        "gate --baseline": ["gate", str(b), "--rules", str(rules), "--baseline", str(a)],
    }
    missed = 0
    for label, cmd in commands.items():
        wall, rss, _ = timed(cmd)
        goal_s, goal_mib = GOALS[label.split()[0]]
        ok = wall < goal_s and rss < goal_mib
        missed += not ok
        print(f"{label:<24} {wall:6.2f} s (goal < {goal_s} s)  peak {rss:6.0f} MiB (goal < {goal_mib})  "
              f"{'ok' if ok else 'MISSED'}")
    print(f"{len(commands) - missed} of {len(commands)} commands within their goals ({args.records} records per run)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
