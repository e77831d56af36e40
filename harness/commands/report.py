"""`harness report RUN`: a finished (or partial) run as a table, Markdown, JSON or one HTML page."""
import argparse

from harness.errors import InputError

QUICK_EXIT = True  # nothing is left open or running when main returns (harness.cli.entry)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder")
    p.add_argument("--format", choices=["table", "md", "json", "html"], default="table",
                   help="html: one self-contained file with plots (needs -o)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--failures", default="10", metavar="N|all", help="failed cases to list (default 10; json lists all)")
    p.add_argument("--skip-damaged", action="store_true", help="skip damaged results.jsonl lines (counted)")


def main(args) -> int:
    from harness.reporting.render import emit, failures_option, render
    from harness.reporting.summary import summarize_run
    from harness.results import load_run
    from harness.userfiles import check_output_path

    shown = failures_option(args.failures)
    if args.format == "html" and not args.output:
        raise InputError("harness report --format html: give -o FILE.html")
    check_output_path(args.output, "-o")
    run = load_run(args.run, args.skip_damaged)
    if args.format == "html":
        from harness.reporting.html import render_report

        text = render_report(run)
    else:
        text = render(summarize_run(run), args.format, shown)
    emit(text, args.output)
    return 0
