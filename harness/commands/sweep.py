"""`harness sweep SUITE --base MODEL --adapters DIR [--generate]`: p_call on tool and direct cases (and,
with --generate, accuracy) at every adapter checkpoint an mlx-lm LoRA run saved, against the iteration.

The base is loaded once; the adapter layers are attached once and each checkpoint's weights swapped in.
Iteration 0 is the base model itself.
"""
import argparse
import sys
import time
from pathlib import Path

from harness.errors import InputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", help="suite file (.toml or .jsonl)")
    p.add_argument("--base", required=True, help="the base model the adapters were trained on (models.toml name or folder)")
    p.add_argument("--adapters", required=True, help="the adapter folder mlx-lm's LoRA training wrote (--adapter-path)")
    p.add_argument("--models", default="models.toml", help="models file (default ./models.toml)")
    p.add_argument("--generate", action="store_true", help="also run the suite at each checkpoint for accuracy")
    p.add_argument("--max-tokens", type=int, help="override the model's max_tokens (--generate)")
    p.add_argument("--format", choices=["table", "json", "html"], default="table", help="report format")
    p.add_argument("-o", "--output", help="write the report to this file instead of stdout")


def _accuracy(backend, suite) -> float:
    from harness.backends.base import Request
    from harness.scoring import judge

    by_id = {c.id: c for c in suite.cases}
    passed = [judge(by_id[g.case_id], g, backend.spec.sampler()).passed
              for g in backend.generate([Request(c) for c in suite.cases])]
    return sum(passed) / len(passed)


def _point(backend, suite, iteration: int, checkpoint: str, generate: bool) -> dict:
    from harness import probe

    t0 = time.perf_counter()
    overall = probe.summarize(probe.probe_cases(backend, suite.cases))["overall"]
    probe_s = time.perf_counter() - t0
    print(f"iteration {iteration}: probed in {probe_s:.2f} s", file=sys.stderr)
    return {"iteration": iteration, "checkpoint": checkpoint, "tool": overall["tool"], "direct": overall["direct"],
            "auc": overall["auc"], "accuracy": _accuracy(backend, suite) if generate else None, "probe_s": probe_s}


def sweep(suite, spec, adapters: Path, generate: bool) -> dict:
    from harness import probe
    from harness.backends import backend_class, mlx_probe

    found = probe.checkpoints(adapters)
    if spec.backend != "mlx":
        raise InputError(f"harness sweep needs an mlx base model; '{spec.name}' uses '{spec.backend}' ({spec.source})")
    if spec.options.get("adapter_path"):
        raise InputError(f"{spec.source}: the base has adapter_path set; give the plain base to --base")
    backend = backend_class(spec.backend, spec.source)(spec)
    loaded = backend.load()
    try:
        points = [_point(backend, suite, 0, "base", generate)]
        mlx_probe.attach_adapters(backend.model, adapters)
        for iteration, path in found:
            try:
                mlx_probe.load_checkpoint(backend.model, path)
            except ValueError as e:
                raise InputError(f"{e}; were these adapters trained on '{spec.name}'?") from None
            points.append(_point(backend, suite, iteration, path.name, generate))
    finally:
        backend.close()
    return {"suite": suite.name, "base": spec.name, "adapters": str(adapters),
            "load_s": loaded.load_s, "points": points}


def main(args) -> int:
    from harness.commands.probe import suite_and_model
    from harness.reporting.probe import render_sweep
    from harness.reporting.render import emit

    suite, spec = suite_and_model(args, "sweep", args.base, "--base")
    emit(render_sweep(sweep(suite, spec, Path(args.adapters), args.generate), args.format), args.output)
    return 0
