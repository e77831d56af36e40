"""Fuzz the detector: N outputs (default 1,000,000) made by mutating the realistic mix (cuts, spliced
markers from every format, control characters, lone surrogates, doubled and deleted spans, random
code points), each through `detect()` with and without tools. Counts crashes (any exception) and
malformed Detections; prints throughput and the slowest output. Exits 1 on any crash.

    .venv/bin/python benchmarks/detect_fuzz.py [--outputs 1000000] [--seed 0] [--workers 2]
"""
import argparse
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from detect_mix import mix  # noqa: E402

from harness.detect import detect  # noqa: E402
from harness.detect.base import Detection  # noqa: E402

MARKERS = ["<tool_call>", "</tool_call>", "<function=", "<parameter=", "</parameter>", "</function>", "[TOOL_CALLS]",
           "<|python_tag|>", "functools[", "<arg_key>", "</arg_value>", "<think>", "</think>", "<|channel|>",
           "to=functions.", "<｜tool▁calls▁begin｜>", "<｜tool▁sep｜>", "```json\n", "```tool_code\n", "Action:",
           "<invoke name=\"", "</invoke>", "<|tool_call_start|>", "[", "{", "\"name\": ", "\"arguments\": {"]
TOOLS = [{"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                                               "days": {"type": "integer"}}}}]


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        at = rng.randint(0, len(text))
        if op < 0.25:
            text = text[:at]
        elif op < 0.5:
            text = text[:at] + rng.choice(MARKERS) + text[at:]
        elif op < 0.65:
            text = text[:at] + chr(rng.choice([0, 1, 7, 8, 11, 12, 27, 127, 0xD800, 0xDFFF, 0xFEFF, 0x2028])) + text[at:]
        elif op < 0.8:
            end = min(len(text), at + rng.randint(1, 40))
            text = text[:at] + text[at:end] * 2 + text[end:]
        elif op < 0.9:
            text = text[:at] + text[at + rng.randint(1, 40):]
        else:
            text = text[:at] + "".join(chr(rng.randint(1, 0x10FFFF)) for _ in range(rng.randint(1, 8))) + text[at:]
    return text


def well_formed(d) -> bool:
    return (isinstance(d, Detection) and d.outcome in ("call", "malformed", "none")
            and all(isinstance(c.name, str) and (c.arguments is None or isinstance(c.arguments, dict)) for c in d.calls)
            and (d.outcome != "call" or d.calls))


def fuzz(args: tuple[int, int]) -> dict:
    seed, count = args
    rng = random.Random(seed)
    base = [text for _, text in mix(2000, seed)]
    crashes, bad, slowest = [], 0, (0.0, "")
    t0 = time.process_time()
    for i in range(count):
        text = mutate(rng, base[i % len(base)])
        start = time.perf_counter()
        try:
            found = detect(text, TOOLS if i % 2 else None)
        except Exception as e:  # the point of the exercise
            crashes.append(f"{type(e).__name__}: {e} on {text[:80]!r}")
            continue
        spent = time.perf_counter() - start
        if spent > slowest[0]:
            slowest = (spent, f"{len(text)} chars: {text[:60]!r}")
        bad += not well_formed(found)
    return {"crashes": crashes, "bad": bad, "cpu_s": time.process_time() - t0, "slowest": slowest, "count": count}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    share = -(-args.outputs // args.workers)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        parts = list(pool.map(fuzz, [(args.seed + w, share) for w in range(args.workers)]))
    wall = time.perf_counter() - t0
    total = sum(p["count"] for p in parts)
    crashes = [c for p in parts for c in p["crashes"]]
    bad = sum(p["bad"] for p in parts)
    cpu = sum(p["cpu_s"] for p in parts)
    slowest = max(p["slowest"] for p in parts)
    print(f"{total} fuzzed outputs: {len(crashes)} crashes, {bad} malformed detections; "
          f"{total / cpu:,.0f} outputs per CPU second, {wall:.0f} s wall on {args.workers} processes; "
          f"slowest {slowest[0] * 1000:.1f} ms ({slowest[1]})")
    for c in crashes[:5]:
        print("  crash:", c)
    return 1 if crashes or bad else 0


if __name__ == "__main__":
    sys.exit(main())
