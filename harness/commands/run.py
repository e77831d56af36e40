"""`harness run SUITE --model M | --replay FILE`: generate, score, write the run folder, print the report."""
import argparse
import sys
from pathlib import Path

from harness.errors import EXIT_INTERNAL, InputError
from harness.models import COMMON_OPTIONS
from harness.options import Option, check, flag_type

SAMPLES = Option(int, "generations per case", min=1)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", help="suite file (.toml or .jsonl)")
    p.add_argument("--model", help="a name in models.toml, 'demo', or a model folder")
    p.add_argument("--models", default="models.toml", help="models file (default ./models.toml)")
    p.add_argument("--out", default="reports", help="parent folder for new run folders (default reports/)")
    p.add_argument("--run-dir", help="run folder; re-running into it resumes and skips finished cases")
    p.add_argument("--replay", help="serve outputs from a JSONL of {id, output} or a run's results.jsonl")
    p.add_argument("--samples", type=flag_type(SAMPLES), default=1, help="generations per case (default 1)")
    p.add_argument("--max-tokens", type=flag_type(COMMON_OPTIONS["max_tokens"]), help="override the model's max_tokens")
    p.add_argument("--latency-mode", choices=["batched", "sequential"],
                   help="batched (default): cases share a prefix cache and decode together, latency is measured "
                        "inside the batch; sequential: one case at a time, for per-case latency and TTFT")
    p.add_argument("--batch-size", type=flag_type(Option(int, min=1)),
                   help="cases per batch (default: as many as fit in 25%% of memory, at most 32)")
    p.add_argument("--concurrency", type=flag_type(Option(int, min=1)),
                   help="requests in flight at once (openai backend; default 1)")
    p.add_argument("--probe", action="store_true",
                   help="also record each case's p_call (the model's probability of starting a call; mlx backend)")
    p.add_argument("--format", choices=["table", "md", "json"], default="table", help="report format")
    p.add_argument("--failures", default="10", metavar="N|all", help="failed cases to list (default 10; json lists all)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args) -> int:
    from harness import runner
    from harness.models import ModelSpec, resolve_model
    from harness.reporting.render import failures_option, render
    from harness.reporting.summary import summarize_run
    from harness.results import RunWriteError, load_run
    from harness.suite import load_suite

    suite = load_suite(args.suite)
    if args.replay:
        spec = ModelSpec(name=f"replay:{Path(args.replay).name}", backend="replay",
                         options={"file": args.replay}, source=f"--replay {args.replay}")
    else:
        if not args.model:
            raise InputError("harness run: give --model NAME|PATH (try --model demo) or --replay FILE")
        spec = resolve_model(args.model, args.models)
    if spec.backend == "replay":  # replay checks its recorded outputs against the suite being run
        spec.options["suite"] = suite.path
    from harness.backends import backend_class

    takes = backend_class(spec.backend, spec.source).declared_options()
    for key in ("latency_mode", "batch_size", "concurrency"):  # flags override the models.toml entry
        if getattr(args, key) is not None:
            if key not in takes:
                raise InputError(f"--{key.replace('_', '-')} does not apply to backend '{spec.backend}' "
                                 f"({spec.source}); drop the flag")
            check(f"--{key.replace('_', '-')}", getattr(args, key), takes[key], "command line")
    spec = spec.with_overrides(max_tokens=args.max_tokens, latency_mode=args.latency_mode,
                               batch_size=args.batch_size, concurrency=args.concurrency)
    run_dir = Path(args.run_dir) if args.run_dir else runner.default_run_dir(args.out, suite, spec)
    shown = failures_option(args.failures)
    try:
        outcome = runner.run(suite, spec, run_dir, samples=args.samples, progress=not args.quiet,
                             probe=args.probe)
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished cases are saved. Resume with: --run-dir {run_dir}", file=sys.stderr)
        return 130
    except RunWriteError as e:
        print(f"error: {e}; the run stopped (status failed) and what was written is kept: free space, then resume "
              f"with --run-dir {run_dir}", file=sys.stderr)
        return EXIT_INTERNAL
    if outcome.generated == 0:
        print(f"{run_dir}: all {outcome.resumed} case records already judged; nothing to generate "
              f"(status {outcome.status})", file=sys.stderr)
    print(render(summarize_run(load_run(run_dir)), args.format, shown))
    print(f"run folder: {run_dir}", file=sys.stderr)  # stdout stays the report alone (JSON-parseable)
    return 0
