"""Reading a large streamed reply: the openai backend (one case, the whole path: SSE lines, JSON chunks,
assembly) against plain httpx reads of the same stream, from the same local server, side by side in
one run. The goal is the backend within 2x of a plain read at 10 MB in 20,000 chunks; the 1 MB row
shows that the backend's time grows linearly with the reply (10x the bytes, about 10x the time). The server
(tests/fault_server.py --big) runs in its own process, as a real one would.

    .venv/bin/python benchmarks/sse_read.py [--mb 10] [--chunks 20000] [--repeat 3]
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.backends.base import Request  # noqa: E402
from harness.backends.openai import OpenAIBackend  # noqa: E402
from harness.models import spec_from_entry  # noqa: E402
from harness.suite import load_suite  # noqa: E402


def plain_httpx_s(base_url: str, parse: bool) -> tuple[float, int]:
    """Seconds to read every line of the reply with httpx alone (and, with `parse`, json.loads of each
    chunk, as a minimal client does), and the bytes read. The client is connected first, as the
    backend's is by its check at load."""
    with httpx.Client(timeout=60) as client:
        client.get(f"{base_url}/models")
        t0 = time.perf_counter()
        size = 0
        with client.stream("POST", f"{base_url}/chat/completions", json={}) as r:
            for line in r.iter_lines():
                size += len(line) + 1
                if parse and line.startswith("data: {"):
                    json.loads(line[6:])
        return time.perf_counter() - t0, size


def backend_s(base_url: str, request: Request) -> tuple[float, int]:
    """Seconds for the backend to turn the reply into a Generation, and the characters of its output."""
    spec = spec_from_entry("bench", {"backend": "openai", "base_url": base_url, "model": "fake", "timeout_s": 60,
                                     "max_output_bytes": 1 << 30}, "benchmark")
    backend = OpenAIBackend(spec)
    backend.load()
    try:
        t0 = time.perf_counter()
        gen = next(iter(backend.generate([request])))
        elapsed = time.perf_counter() - t0
    finally:
        backend.close()
    if gen.error:
        raise SystemExit(f"backend error: {gen.error}")
    return elapsed, len(gen.output)


def measure(total_bytes: int, chunks: int, repeat: int, request: Request) -> tuple[float, float, int, int]:
    """Best of `repeat` for each reader, alternating them so both see the same machine load."""
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fault_server.py"), "--big", str(total_bytes),
                               str(chunks)], stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        plain, parsed, ours = [], [], []
        for _ in range(repeat):
            s, wire_bytes = plain_httpx_s(base_url, parse=False)
            plain.append(s)
            parsed.append(plain_httpx_s(base_url, parse=True)[0])
            s, output_chars = backend_s(base_url, request)
            ours.append(s)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return min(plain), min(parsed), min(ours), wire_bytes, output_chars


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=10.0, help="content size of the large reply in MB (default 10)")
    ap.add_argument("--chunks", type=int, default=20_000, help="SSE chunks of the large reply (default 20000)")
    ap.add_argument("--repeat", type=int, default=3, help="reads per reader; the best is shown (default 3)")
    args = ap.parse_args()
    request = Request(load_suite(ROOT / "suites" / "coding_tools.toml").cases[0])
    total = int(args.mb * 1_000_000)
    print(f"best of {args.repeat} reads of one streamed reply from a local server (127.0.0.1, own process)")
    print("columns: A = httpx iter_lines only; B = httpx iter_lines + json.loads of each chunk; backend = "
          "OpenAIBackend.generate of one case (SSE lines, strict JSON, every field type-checked, assembly)")
    print(f"{'content':>10} {'chunks':>7} {'wire MB':>8} {'A s':>7} {'B s':>7} {'backend s':>10} "
          f"{'backend/A':>10} {'backend/B':>10}")
    rows = []
    for size, chunks in ((total // 10, args.chunks // 10), (total, args.chunks)):
        plain, parsed, ours, wire, chars = measure(size, chunks, args.repeat, request)
        rows.append(ours)
        print(f"{chars / 1e6:>8.1f}MB {chunks:>7} {wire / 1e6:>8.1f} {plain:>7.3f} {parsed:>7.3f} {ours:>10.3f} "
              f"{ours / plain:>9.2f}x {ours / parsed:>9.2f}x")
    print(f"backend time, large reply / small reply: {rows[1] / rows[0]:.1f}x for 10x the bytes "
          f"(linear is 10x; quadratic would be 100x)")


if __name__ == "__main__":
    main()
