"""Start-up: wall and CPU time of `harness --help`, `harness detect -` on empty input and `harness report
--help`, each a fresh process run as a user runs it (the venv's `harness` script), the fastest of --runs.
Goal (issue 19): `harness --help` < 0.1 s.

    .venv/bin/python benchmarks/startup.py [--runs 10]
"""
import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 0.1
COMMANDS = {"harness --help": ["--help"], "harness detect - (empty input)": ["detect", "-"],
            "harness report --help": ["report", "--help"]}


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; its output is discarded."""
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command; the fastest counts")
    args = parser.parse_args()
    script = Path(sys.executable).with_name("harness")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "harness.cli"]
    print(f"{' '.join(launcher)}: fastest of {args.runs} runs each")
    walls = {}
    for label, argv in COMMANDS.items():
        runs = [timed(launcher + argv) for _ in range(args.runs)]
        walls[label] = min(w for w, _ in runs)
        print(f"  {label:32} {walls[label] * 1000:6.1f} ms wall  {min(c for _, c in runs) * 1000:6.1f} ms CPU")
    help_s = walls["harness --help"]
    print(f"harness --help: {help_s * 1000:.1f} ms (goal < {GOAL_S * 1000:.0f} ms): {'met' if help_s < GOAL_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
