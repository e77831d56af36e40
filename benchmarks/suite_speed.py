"""Generation speed on the reference suite, side by side in one process: the harness (MLXBackend.generate,
continuous batching, shared prefix), the same with fixed batches, mlx-lm's best path (batch_generate on the
suffixes, each with a copy of a prefilled prefix cache), a sequential mlx_lm.generate loop, and the
computed physical bound of the workload; on ~25M-parameter random models of several families.

The bound: prefill FLOPs (the shared prefix once, then every suffix) at the measured matmul rate, plus
decode steps each the larger of its FLOPs at that rate and one read of the weights at the measured memory
bandwidth. Two workloads: fixed lengths (no end token, every case writes --max-tokens) and varied lengths
(an end token the model writes at many different positions). Paths run in alternation, --repeat rounds,
and each keeps its fastest round (a shared, noisy machine). Exit 1 if any output differs from sequential.

    .venv/bin/python benchmarks/suite_speed.py [--families qwen2,qwen3,llama] [--max-tokens 64] [--repeat 1]
    (~25 min on a busy 2-core machine; --no-sequential skips the slowest path and the identity check)
"""
import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.backends import mlx_batch, mlx_env  # noqa: E402  (OpenBLAS loaded before mlx, see mlx_env)
from harness.backends.base import Request  # noqa: E402
from harness.backends.mlx import MLXBackend  # noqa: E402
from harness.backends.mlx_random_model import rebuild_as, spread_token  # noqa: E402
from harness.demo.build import TinySpec, build_tiny_model, scale_projections  # noqa: E402
from harness.models import ModelSpec  # noqa: E402
from harness.suite import load_suite, openai_tools  # noqa: E402

SUITE = Path(__file__).resolve().parents[1] / "suites" / "coding_tools.toml"
SIZES = {"25m": {"hidden": 512, "layers": 8, "heads": 8, "kv_heads": 2, "intermediate": 1536},
         "tiny": {"hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate": 128}}  # CI smoke test


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default="qwen2,qwen3,llama")
    parser.add_argument("--size", choices=SIZES, default="25m")
    parser.add_argument("--vocab", type=int, default=300, help="tokenizer vocabulary (smaller: longer prompts)")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--batch-size", type=int, help="slots with fixed lengths (default: the harness's choice)")
    parser.add_argument("--varied-batch-size", type=int, default=6,
                        help="slots with varied lengths: fewer than the cases, so finished slots can refill")
    parser.add_argument("--repeat", type=int, default=1, help="alternated rounds; each path keeps its fastest")
    parser.add_argument("--no-sequential", action="store_true", help="skip the slow sequential loop")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows while the slow paths run

    suite = load_suite(SUITE)
    conversations = [{"messages": c.messages, "tools": openai_tools(c.tools)} for c in suite.cases]
    machine = measure_machine()
    print(f"BLAS: {mlx_env.ensure_fast_blas() or 'mlx bundled (slow)'}")
    print(f"machine: matmul {machine['flops'] / 1e9:.0f} GFLOP/s (f32 GEMM 2048x512x1536, best of 10), "
          f"memory {machine['bandwidth'] / 1e9:.1f} GB/s (a 256 MiB f32 matrix read by one matrix-vector product, "
          "best of 5)")
    failed = False
    for family in args.families.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            build_tiny_model(Path(tmp), TinySpec(vocab=args.vocab, **SIZES[args.size]), conversations)
            rebuild_as(Path(tmp), family)
            scale_projections(Path(tmp), 4.0)  # prompt-dependent outputs, so "identical" means something
            backend = MLXBackend(ModelSpec(name="bench", max_tokens=args.max_tokens,
                                           options={"path": tmp}))
            backend.load()
            failed |= not bench_family(family, backend, [Request(c) for c in suite.cases], machine, args)
    return 1 if failed else 0


def measure_machine() -> dict:
    import mlx.core as mx

    a, b = mx.random.normal((2048, 512)), mx.random.normal((512, 1536))
    # a decode step reads the weights through BLAS: a matrix-vector product over a matrix larger than every
    # cache reads it at the rate a step can (an elementwise x * 2 measured mlx's one-thread loop instead, ~4x
    # slower, and the harness ran below that "bound")
    matrix, vector = mx.random.normal((16384, 4096)), mx.random.normal((1, 4096))
    mx.eval(a, b, matrix, vector)
    gemm = fastest(10, lambda: mx.eval(a @ b))
    gemv = fastest(5, lambda: mx.eval(vector @ matrix.T))
    return {"flops": 2 * 2048 * 512 * 1536 / gemm, "bandwidth": matrix.nbytes / gemv}


def fastest(repeat: int, fn) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_family(family: str, backend: MLXBackend, requests: list[Request], machine: dict, args) -> bool:
    import mlx.core as mx
    from mlx.utils import tree_flatten

    model, tokenizer = backend.model, backend.tokenizer
    prompts = [backend.render(r) for r in requests]
    prefix = common_prefix(prompts)
    weights = {k: v for k, v in tree_flatten(model.parameters())}
    params = sum(v.size for v in weights.values())
    print(f"\n== {family} ({type(model).__module__}): {params / 1e6:.1f}M params; {len(prompts)} prompts of "
          f"{min(map(len, prompts))}-{max(map(len, prompts))} tokens, {prefix} shared")
    paths = Paths(backend, requests, prompts, prefix, args.max_tokens)
    prefill_s = fastest(args.repeat, lambda: mlx_batch.prefill(model, prompts[0][:prefix]))
    rate = 2 * body_params(weights) * prefix / prefill_s
    print(f"   prefix prefill {prefill_s:.2f} s: {rate / 1e9:.0f} GFLOP/s in the projections and MLP, "
          f"{rate / machine['flops']:.2f}x the matmul rate")
    tokenizer.eos_token_ids = set()  # fixed lengths on every path
    ok = bench_workload("fixed lengths (no end token)", paths, args.batch_size, machine, weights, args)
    end = spread_token(paths.last_tokens)
    tokenizer.eos_token_ids = {end}
    ok &= bench_workload(f"varied lengths (end token {end})", paths, args.varied_batch_size, machine, weights,
                         args, compare_fixed=True)
    mx.clear_cache()
    return ok


class Paths:
    """The compared generation paths over one model and prompt set; each returns {index: text} and
    keeps the token ids mlx-lm wrote in `last_tokens`."""

    def __init__(self, backend, requests, prompts, prefix, max_tokens):
        self.backend, self.requests, self.prompts, self.prefix = backend, requests, prompts, prefix
        self.max_tokens, self.slots = max_tokens, None
        self.last_tokens: list[list[int]] = []

    def harness(self, continuous: bool = True):
        self.backend.continuous, self.backend.batch_size = continuous, self.slots
        gens = {g.case_id: g for g in self.backend.generate(self.requests)}
        self.slots = self.backend.generation_details()["batch_size"]
        return {i: gens[r.case.id].output for i, r in enumerate(self.requests)}

    def harness_fixed(self):
        return self.harness(continuous=False)

    def mlx_lm_best(self):
        import mlx.core as mx
        from mlx_lm import batch_generate
        from mlx_lm.models.cache import make_prompt_cache

        model, tokenizer = self.backend.model, self.backend.tokenizer
        cache = make_prompt_cache(model)
        model(mx.array(self.prompts[0][:self.prefix])[None], cache=cache)
        mx.eval([c.state for c in cache])
        result = batch_generate(model, tokenizer, prompts=[p[self.prefix:] for p in self.prompts],
                                prompt_caches=[copy.deepcopy(cache) for _ in self.prompts], max_tokens=self.max_tokens,
                                completion_batch_size=self.slots, prefill_batch_size=self.slots,
                                return_token_ids=True)
        self.last_tokens = result.token_ids
        return dict(enumerate(result.texts))

    def sequential(self):
        from mlx_lm import generate

        return {i: generate(self.backend.model, self.backend.tokenizer, prompt=p, max_tokens=self.max_tokens)
                for i, p in enumerate(self.prompts)}


def bench_workload(name: str, paths: Paths, slots: int | None, machine: dict, weights: dict, args,
                   compare_fixed: bool = False) -> bool:
    """Time every path on one workload in `slots` sequences at a time (None: the harness's choice)."""
    import mlx.core as mx

    runs = {"harness": paths.harness, "mlx-lm best path": paths.mlx_lm_best}
    if compare_fixed:  # with as many slots as cases, fixed batches are the same work
        runs["harness, fixed batches"] = paths.harness_fixed
    if not args.no_sequential:
        runs["sequential mlx_lm.generate"] = paths.sequential
    paths.slots = slots
    paths.harness()  # warm-up, and the harness's batch size for mlx-lm
    times, outputs, peaks = {k: float("inf") for k in runs}, {}, {}
    for _ in range(args.repeat):
        for label, fn in runs.items():
            mx.reset_peak_memory()
            t0 = time.perf_counter()
            outputs[label] = fn()
            times[label] = min(times[label], time.perf_counter() - t0)
            peaks[label] = mx.get_peak_memory()
    reference = outputs.get("sequential mlx_lm.generate")  # greedy one-at-a-time: what identical means
    lengths = [len(t) for t in paths.last_tokens]
    bound = physical_bound(paths, lengths, weights, machine)
    print(f"-- {name}: {sum(lengths)} tokens written (end tokens not counted), {min(lengths)}-{max(lengths)} "
          f"per case, {paths.slots} slots")
    print(f"   bound {bound['total']:.2f} s = prefill {bound['prefill']:.2f} s "
          f"({bound['prefill_flops'] / 1e9:.0f} GFLOP) + {bound['steps']} decode steps {bound['decode']:.2f} s")
    harness_s = times["harness"]
    for label, seconds in times.items():
        same = "not checked" if reference is None else \
            f"{sum(outputs[label][i] == reference[i] for i in reference)}/{len(reference)}"
        print(f"   {label:28s} {seconds:7.2f} s  {seconds / bound['total']:5.2f}x bound  "
              f"{seconds / harness_s:5.2f}x harness  peak {peaks[label] / 2**20:6.0f} MiB  identical {same}")
    print(f"   harness vs mlx-lm best path: {times['mlx-lm best path'] / harness_s:.2f}x faster")
    if compare_fixed:
        print(f"   continuous vs fixed batches: {times['harness, fixed batches'] / harness_s:.2f}x faster")
    return reference is None or all(outputs[label] == reference for label in runs if label.startswith("harness"))


def physical_bound(paths: Paths, lengths: list[int], weights: dict, machine: dict) -> dict:
    """Seconds the workload needs at the machine's matmul rate and memory bandwidth, attention included."""
    args = paths.backend.model.args
    # the embedding is a lookup; its (tied or own) output head is a matmul only where logits are needed
    head = next(v.size for k, v in weights.items() if k.endswith("embed_tokens.weight"))
    body = body_params(weights)
    head_dims = args.num_attention_heads * (getattr(args, "head_dim", None) or args.hidden_size // args.num_attention_heads)
    layers = args.num_hidden_layers

    def flops(tokens: float, context: float) -> float:
        """One forward over `tokens` new tokens after `context` ones: projections and MLP, QK^T and PV."""
        return 2 * body * tokens + 4 * layers * head_dims * tokens * (context + tokens / 2)

    prefill = flops(paths.prefix, 0) + sum(flops(len(p) - paths.prefix, paths.prefix) + 2 * head
                                           for p in paths.prompts)
    slots = paths.slots
    steps = max(max(lengths), -(-sum(lengths) // slots))
    per_step = sum(lengths) / steps
    context = sum(map(len, paths.prompts)) / len(paths.prompts) + max(lengths) / 2
    step_flops = flops(per_step, context) + 2 * head * per_step
    weight_bytes = sum(v.nbytes for v in weights.values())
    step_s = max(step_flops / machine["flops"], weight_bytes / machine["bandwidth"])
    return {"prefill_flops": prefill, "prefill": prefill / machine["flops"], "steps": steps,
            "decode": steps * step_s, "total": prefill / machine["flops"] + steps * step_s}


def body_params(weights: dict) -> int:
    """Parameters every token multiplies through: all but the embedding and output head."""
    return sum(v.size for k, v in weights.items() if "embed_tokens" not in k and "lm_head" not in k)


def common_prefix(prompts: list[list[int]]) -> int:
    import os

    return min(len(os.path.commonprefix(prompts)), min(map(len, prompts)) - 1)


if __name__ == "__main__":
    sys.exit(main())
