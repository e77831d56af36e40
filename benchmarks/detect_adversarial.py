"""Detection time on adversarial input: each format's opener (every marker of the cascade, each
also followed by `{`, `[` and a name, plus the openers of the formats' inner markup and the
reasoning tags) repeated to 100 KB, 1 MB and 10 MB. Prints CPU seconds per size and the growth
per 10x; exits 1 when growth is above roughly linear (10x input -> 20x time or more) or any 1 MB
input takes 1 s or more.

    .venv/bin/python benchmarks/detect_adversarial.py [--sizes 100000,1000000,10000000] [--only SUBSTRING]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.detect import REASONING_PAIRS, detect  # noqa: E402
from harness.detect.cascade import OWNERS  # noqa: E402

# Openers of the markup inside a format's marker, and prefixes that make parsers read far.
INNER = ["<parameter=p>", "<arg_key>", "<arg_value>", "<function=f>", '<invoke name="f">', '<parameter name="p">',
         "<tool_call>f<arg_key>k</arg_key><arg_value>", "<tool_call><function=f><parameter=p>", '{"name": "f", ',
         '{"name": "f", "arguments": {', "[f(", "f(a=", "call:f{", '<|"|>', "<|tool_call>call:f{a:<|\"|>",
         "to=functions.f ", "<|channel|>commentary to=functions.f<|message|>{", ">>>f\n{", "Action: f\nAction Input: {",
         "```", "```json\n{", "<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n", "<|recipient|>f\n<|content|>{",
         "</parameter>", "</parameter/>", "\\u", '"', "'", "{", "[", "(", "<", "\n"]
LINEAR = 20.0  # 10x the input may cost at most this many times the time
LIMIT_1MB = 1.0  # seconds
FLOOR = 0.005  # below this a time is too small to compare


def openers() -> list[str]:
    out = []
    for marker in OWNERS:
        out += [marker, marker + "{", marker + "[", marker + "f"]
    out += [tag for pair in REASONING_PAIRS for tag in pair] + INNER
    return list(dict.fromkeys(out))


def seconds(text: str) -> float:
    start = time.process_time()
    detect(text)
    return time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000", help="comma-separated input sizes in characters")
    parser.add_argument("--only", help="time only the openers containing this text")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    failures, worst = [], (0.0, "")
    print(f"CPU seconds of one detect() call per input size; growth = time ratio per 10x input (fail at >= {LINEAR:g})")
    print(f"{'opener':48} " + " ".join(f"{s:>10,}" for s in sizes) + "   growth")
    for opener in openers():
        if args.only and args.only not in opener:
            continue
        times = []
        for size in sizes:
            text = (opener * (size // len(opener) + 1))[:size]
            times.append(min(seconds(text) for _ in range(3 if size <= 1_000_000 else 1)))
        growth = [b / a for a, b in zip(times, times[1:]) if a >= FLOOR]
        row = f"{opener[:48]!r:48} " + " ".join(f"{t:>10.4f}" for t in times)
        print(row + "   " + " ".join(f"{g:.1f}x" for g in growth))
        for size, t in zip(sizes, times):
            if size == 1_000_000 and t >= LIMIT_1MB:
                failures.append(f"{opener!r}: 1 MB took {t:.2f} s")
            if size == 1_000_000:
                worst = max(worst, (t, opener))
        failures += [f"{opener!r}: {g:.1f}x time for 10x input" for g in growth if g >= LINEAR]
    if worst[1]:
        print(f"slowest at 1 MB: {worst[1]!r} {worst[0]:.3f} s")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
