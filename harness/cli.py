"""`harness` command line. Heavy libraries (mlx, mlx-lm, pandas) are imported inside the commands
that need them, so --help and validate start fast. Exit codes: 0 ok, 1 gate failed, 2 bad input."""
import argparse
import importlib
import sys
from pathlib import Path

from harness.errors import InputError

# Subcommands that live in their own modules: name -> (module, one-line help).
# Each module has add_arguments(parser) and main(args) -> int, and imports nothing heavy at top level.
COMMAND_MODULES = {
    "detect": ("harness.detect_cmd", "find tool calls in model outputs (JSONL or --text)"),
    "import": ("harness.import_cmd", "import a public benchmark (BFCL) as a suite"),
    "doctor": ("harness.doctor", "check a model, its training data and adapter for setup flaws"),
    "diff": ("harness.diff", "compare runs side by side: accuracy, cost, flipped cases, McNemar"),
    "gate": ("harness.gate", "pass or fail a run against rules (CI): exit 0 pass, 1 fail"),
}


def cmd_run(args) -> int:
    from harness import report, runner
    from harness.models import resolve_model
    from harness.suite import load_suite

    suite = load_suite(args.suite)
    if args.replay:
        from harness.models import ModelSpec

        spec = ModelSpec(name=f"replay:{Path(args.replay).name}", backend="replay",
                         options={"file": args.replay}, source=f"--replay {args.replay}")
    else:
        if not args.model:
            raise InputError("harness run: give --model NAME|PATH (try --model demo) or --replay FILE")
        spec = resolve_model(args.model, args.models)
    if args.max_tokens:
        spec.max_tokens = args.max_tokens
    from harness.backends import backend_class

    takes = backend_class(spec.backend, spec.source).option_keys
    for key in ("latency_mode", "batch_size", "concurrency"):  # flags override the models.toml entry
        if getattr(args, key) is not None:
            if key not in takes:
                raise InputError(f"--{key.replace('_', '-')} does not apply to backend '{spec.backend}' "
                                 f"({spec.source}); drop the flag")
            spec.options[key] = getattr(args, key)
    run_dir = Path(args.run_dir) if args.run_dir else runner.default_run_dir(args.out, suite, spec)
    try:
        outcome = runner.run(suite, spec, run_dir, samples=args.samples, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished cases are saved. Resume with: --run-dir {run_dir}", file=sys.stderr)
        return 130
    if outcome.generated == 0:
        print(f"{run_dir}: all {outcome.resumed} cases already done; nothing to generate", file=sys.stderr)
    print(report.render(report.summarize(run_dir), args.format))
    print(f"run folder: {run_dir}", file=sys.stderr)  # stdout stays the report alone (JSON-parseable)
    return 0


def cmd_report(args) -> int:
    from harness import report

    if args.format == "html":
        if not args.output:
            raise InputError("harness report --format html: give -o FILE.html")
        from harness.html_report import render_report

        text = render_report(args.run)
    else:
        text = report.render(report.summarize(args.run), args.format)
    report.emit(text, args.output)
    return 0


def cmd_validate(args) -> int:
    from harness.suite import load_suite

    for path in args.suites:
        suite = load_suite(path)
        print(f"{path}: ok ({len(suite.cases)} cases, suite '{suite.name}')")
    return 0


def cmd_models(args) -> int:
    from harness.models import load_models_file, spec_from_entry

    entries = load_models_file(args.models)
    print("demo\tmlx\tbuilt-in demo model (built offline on first use)")
    for name, entry in entries.items():
        spec = spec_from_entry(name, entry, f"{args.models}: [models.{name}]")
        where = spec.options.get("path") or spec.options.get("base_url") or ""
        print(f"{name}\t{spec.backend}\t{where}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Evaluate LLM tool calling: does the model call "
                                     "tools when it should, answer directly when it should, and at what cost?")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run a suite against a model and report")
    p.add_argument("suite", help="suite file (.toml or .jsonl)")
    p.add_argument("--model", help="a name in models.toml, 'demo', or a model folder")
    p.add_argument("--models", default="models.toml", help="models file (default ./models.toml)")
    p.add_argument("--out", default="reports", help="parent folder for new run folders (default reports/)")
    p.add_argument("--run-dir", help="run folder; re-running into it resumes and skips finished cases")
    p.add_argument("--replay", help="serve outputs from a JSONL of {id, output} or a run's results.jsonl")
    p.add_argument("--samples", type=int, default=1, help="generations per case (default 1)")
    p.add_argument("--max-tokens", type=int, help="override the model's max_tokens")
    p.add_argument("--latency-mode", choices=["batched", "sequential"],
                   help="batched (default): cases share a prefix cache and decode together, latency is measured "
                        "inside the batch; sequential: one case at a time, for per-case latency and TTFT")
    p.add_argument("--batch-size", type=int, help="cases per batch (default: as many as fit in 25%% of memory, at most 32)")
    p.add_argument("--concurrency", type=int, help="requests in flight at once (openai backend; default 1)")
    p.add_argument("--format", choices=["table", "md", "json"], default="table", help="report format")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="report a finished run")
    p.add_argument("run", help="run folder")
    p.add_argument("--format", choices=["table", "md", "json", "html"], default="table",
                   help="html: one self-contained file with plots (needs -o)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("validate", help="check suite files without running anything")
    p.add_argument("suites", nargs="+", help="suite files")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("models", help="list the models of models.toml")
    p.add_argument("--models", default="models.toml")
    p.set_defaults(func=cmd_models)

    for name, (module, help_text) in COMMAND_MODULES.items():
        p = sub.add_parser(name, help=help_text)
        importlib.import_module(module).add_arguments(p)
        p.set_defaults(func=lambda args, module=module: importlib.import_module(module).main(args))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
