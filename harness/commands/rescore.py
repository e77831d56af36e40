"""`harness rescore RUN [--suite FILE] [-o NEW_RUN]`: today's detector and scorer on a run's recorded outputs."""
import argparse
import sys
from datetime import datetime
from pathlib import Path

from harness.errors import InputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder whose outputs to re-score")
    p.add_argument("--suite", help="suite to score against (default: the suite file the run recorded)")
    p.add_argument("-o", "--output", help="new run folder (default: RUN-rescored-<time> beside RUN)")
    p.add_argument("--format", choices=["table", "md", "json"], default="table", help="report format")
    p.add_argument("--judge", metavar="MODEL", help="settle replies the classifier found unsure with this model "
                   "(a name in models.toml or a model folder): it answers ask, decline or answer; cached by hash")
    p.add_argument("--models", default="models.toml", help="models file for --judge (default ./models.toml)")


def main(args) -> int:
    from harness.reporting.render import render
    from harness.reporting.summary import summarize_run
    from harness.rescore import rescore
    from harness.results import load_run, read_manifest
    from harness.suite import load_suite

    manifest = read_manifest(args.run) if Path(args.run).is_dir() else None
    if manifest is None:
        raise InputError(f"{args.run}: not a run folder (no manifest.json); give a folder written by `harness run`")
    suite_path = args.suite or manifest.suite.get("path")
    if not suite_path:
        raise InputError(f"{args.run}: the run recorded no suite path; give --suite FILE")
    suite = load_suite(suite_path)
    out = Path(args.output) if args.output else Path(f"{args.run.rstrip('/')}-rescored-{datetime.now():%Y%m%d-%H%M%S}")
    if out.exists():
        raise InputError(f"{out}: already exists; give a new folder with -o")
    judge_spec = cache = None
    if args.judge:
        from harness.demo.build import cache_root
        from harness.models import resolve_model

        judge_spec, cache = resolve_model(args.judge, args.models, "--judge"), cache_root() / "judge.jsonl"
    _, left_out = rescore(args.run, suite, out, judge_spec, cache)
    if left_out:
        print(f"warning: {left_out} records of {args.run} have no case in {suite_path}; left out", file=sys.stderr)
    print(render(summarize_run(load_run(out)), args.format))
    print(f"run folder: {out}", file=sys.stderr)
    return 0
