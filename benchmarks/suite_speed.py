"""Generation speed on the reference suite: a plain sequential mlx_lm.generate loop against the
harness's batched generation (MLXBackend.generate), same model object, prompts and token budget.

Builds a ~25M-parameter Qwen2 model offline (f32, random weights, scaled so that its output depends
on the prompt). EOS is disabled on both sides so
every case generates exactly --max-tokens tokens. A tokenizer trained to a small vocabulary makes the
shared prefix (system prompt + tool block) long, as real tool prompts are; the prefix is what
batched generation prefills only once.

    .venv/bin/python benchmarks/suite_speed.py [--vocab 300] [--max-tokens 64]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.backends.base import Request  # noqa: E402
from harness.backends.mlx import MLXBackend  # noqa: E402
from harness.demo.build import TinySpec, build_tiny_model, scale_projections  # noqa: E402
from harness.models import ModelSpec  # noqa: E402
from harness.suite import load_suite, openai_tools  # noqa: E402

SUITE = Path(__file__).resolve().parents[1] / "suites" / "coding_tools.toml"
MODEL_25M = {"hidden": 512, "layers": 8, "heads": 8, "kv_heads": 2, "intermediate": 1536}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=300, help="tokenizer vocabulary (smaller: longer prompts)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, help="harness batch size (default: automatic)")
    parser.add_argument("--repeat", type=int, default=1, help="time each side N times and keep the best (noisy machine)")
    args = parser.parse_args()

    suite = load_suite(SUITE)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        conversations = [{"messages": c.messages, "tools": openai_tools(c.tools)} for c in suite.cases]
        build_tiny_model(Path(tmp), TinySpec(vocab=args.vocab, **MODEL_25M), conversations)
        scale_projections(Path(tmp), 4.0)  # prompt-dependent outputs, so "identical" means something
        print(f"built the model in {time.perf_counter() - t0:.1f} s")
        backend = MLXBackend(ModelSpec(name="bench", max_tokens=args.max_tokens,
                                       options={"path": tmp, "batch_size": args.batch_size}))
        backend.load()
        return compare(backend, [Request(c) for c in suite.cases], args.max_tokens, args.repeat)


def best_of(repeat: int, fn):
    """(fastest seconds, result of the last call)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def compare(backend: MLXBackend, requests: list[Request], max_tokens: int, repeat: int) -> int:
    from mlx.utils import tree_flatten
    from mlx_lm import generate
    from mlx_lm.sample_utils import make_sampler

    model, tokenizer = backend.model, backend.tokenizer
    tokenizer.eos_token_ids = set()  # a fixed token count on both sides
    params = sum(v.size for _, v in tree_flatten(model.parameters()))
    prompts = [backend.render(r) for r in requests]
    lengths = sorted(len(p) for p in prompts)
    print(f"model {params / 1e6:.1f}M params; {len(prompts)} prompts of {lengths[0]}-{lengths[-1]} tokens; "
          f"{max_tokens} tokens each")

    greedy = make_sampler(temp=0.0)
    generate(model, tokenizer, prompt=prompts[0][:64], max_tokens=4, sampler=greedy)  # warm-up
    seq_s, sequential = best_of(repeat, lambda: [generate(model, tokenizer, prompt=p, max_tokens=max_tokens,
                                                          sampler=greedy) for p in prompts])
    batch_s, batched = best_of(repeat, lambda: {g.case_id: g for g in backend.generate(requests)})

    same = sum(text == batched[r.case.id].output for text, r in zip(sequential, requests))
    print(f"batching: {backend.generation_details()['groups']}")
    print(f"sequential mlx_lm.generate: {seq_s:.2f} s")
    print(f"harness batched generate:   {batch_s:.2f} s "
          f"(completion tokens per case: {sorted({g.completion_tokens for g in batched.values()})})")
    print(f"speed-up: {seq_s / batch_s:.2f}x")
    print(f"identical outputs: {same}/{len(requests)} ({len(set(sequential))} distinct texts)")
    return 0 if same == len(requests) else 1


if __name__ == "__main__":
    sys.exit(main())
