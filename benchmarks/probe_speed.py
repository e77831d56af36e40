"""Probing a suite (p_call per case, no generation) against generating it, on the same loaded model in one run.

    .venv/bin/python benchmarks/probe_speed.py [--model demo | --random qwen2] [--suite suites/coding_tools.toml]
        [--repeats 3] [--skip-category multi_turn]

Both are timed wall-clock, in the backend's default batched mode, alternating probe and generation
`--repeats` times after one warm-up of each; the medians are compared. Goal (issue 17): probing costs
less than 20% of generating.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.backends.base import Request  # noqa: E402
from harness.backends.mlx import MLXBackend  # noqa: E402
from harness.models import resolve_model  # noqa: E402
from harness.backends.mlx_random_model import rebuild_as  # noqa: E402
from harness.demo.build import TinySpec, build_tiny_model, scale_projections  # noqa: E402
from harness.models import ModelSpec  # noqa: E402
from harness.suite import load_suite, openai_tools  # noqa: E402
from suite_speed import SIZES  # noqa: E402

GOAL = 0.20


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo")
    parser.add_argument("--random", metavar="FAMILY", help="instead of --model, a random model (--size) of "
                        "this family (qwen2, qwen3, llama), built as benchmarks/suite_speed.py builds it: it writes "
                        "every --max-tokens token, where the demo ends its answers early")
    parser.add_argument("--size", choices=SIZES, default="25m", help="with --random: its size, as suite_speed.py's")
    parser.add_argument("--max-tokens", type=int, default=64, help="with --random (default 64)")
    parser.add_argument("--models", default="models.toml")
    parser.add_argument("--suite", default="suites/coding_tools.toml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-category", action="append", default=[], metavar="NAME",
                        help="leave this category's cases out (repeatable), e.g. multi_turn for first requests only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = (random_model(Path(tmp), args.random, args.size, args.max_tokens) if args.random
                else resolve_model(args.model, args.models))
        backend = MLXBackend(spec)
        backend.load()
        return measure(backend, args)


def random_model(folder: Path, family: str, size: str, max_tokens: int) -> ModelSpec:
    suite = load_suite(Path(__file__).resolve().parents[1] / "suites" / "coding_tools.toml")
    build_tiny_model(folder, TinySpec(vocab=300, **SIZES[size]),
                     [{"messages": c.messages, "tools": openai_tools(c.tools)} for c in suite.cases])
    rebuild_as(folder, family)
    scale_projections(folder, 4.0)
    return ModelSpec(name=f"random {family} {size}", max_tokens=max_tokens, options={"path": str(folder)})


def measure(backend: MLXBackend, args) -> int:
    requests = [Request(c) for c in load_suite(args.suite).cases if c.category not in args.skip_category]
    probe, generate = (lambda: backend.probe(requests)), (lambda: list(backend.generate(requests)))
    probe(), generate()  # warm-up: compile kernels, find the call marker
    probe_s, generate_s = [], []
    for _ in range(args.repeats):
        probe_s.append(timed(probe))
        generate_s.append(timed(generate))
    p, g = statistics.median(probe_s), statistics.median(generate_s)
    tokens = sum(len(backend.render(r)) for r in requests)
    skipped = f" (without {', '.join(args.skip_category)})" if args.skip_category else ""
    print(f"model {backend.spec.name}, suite {args.suite}{skipped}: {len(requests)} cases, {tokens} prompt tokens, "
          f"max_tokens {backend.spec.max_tokens}, median of {args.repeats} wall-clock runs each (batched)")
    print(f"probe (p_call, one forward pass per case): {p:.3f} s")
    print(f"generate (the whole suite):                {g:.3f} s")
    print(f"probing cost / generation cost: {p / g:.1%} (goal < {GOAL:.0%}): {'met' if p / g < GOAL else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
