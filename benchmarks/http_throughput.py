"""Throughput of the openai backend against a local server that takes a fixed time per request: the
whole run (HTTP, streaming, detection, scoring, writing results) at concurrency 1, 4 and 16. With a
50 ms server the ideal ratios to concurrency 1 are 4 and 16. The server (tests/fault_server.py) runs
in its own process, as a real one would, so it does not share the harness's interpreter lock.

    .venv/bin/python benchmarks/http_throughput.py [--delay 0.05] [--samples 8]
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import runner  # noqa: E402
from harness.models import spec_from_entry  # noqa: E402
from harness.results import read_records  # noqa: E402
from harness.suite import load_suite  # noqa: E402


def measure(concurrency: int, delay_s: float, samples: int) -> tuple[int, float, int]:
    """(cases written, seconds, most requests the server saw in flight at once)."""
    suite = load_suite(ROOT / "suites" / "coding_tools.toml")
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fault_server.py"), "--delay", str(delay_s)],
                              stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        spec = spec_from_entry("bench", {"backend": "openai", "base_url": base_url, "model": "fake",
                                         "concurrency": concurrency}, "benchmark")
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            runner.run(suite, spec, Path(tmp) / "run", samples=samples, progress=False)
            elapsed = time.perf_counter() - t0
            cases = len(read_records(Path(tmp) / "run"))
        stats = httpx.get(base_url.removesuffix("/v1") + "/stats").json()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return cases, elapsed, stats["max_in_flight"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--delay", type=float, default=0.05, help="server seconds per request (default 0.05)")
    ap.add_argument("--samples", type=int, default=8, help="samples per case of the 20-case suite (default 8)")
    args = ap.parse_args()
    print(f"server delay {args.delay * 1000:.0f} ms per request, {20 * args.samples} cases per run")
    print(f"{'concurrency':>11} {'cases':>6} {'seconds':>8} {'cases/s':>8} {'ratio':>6} {'max in flight':>13}")
    base = None
    for concurrency in (1, 4, 16):
        cases, elapsed, in_flight = measure(concurrency, args.delay, args.samples)
        rate = cases / elapsed
        base = base or rate
        print(f"{concurrency:>11} {cases:>6} {elapsed:>8.2f} {rate:>8.1f} {rate / base:>5.1f}x {in_flight:>13}")


if __name__ == "__main__":
    main()
