"""`harness diff RUN_A RUN_B [RUN_C ...]`: runs side by side on the cases they share."""
import argparse

from harness.errors import InputError

QUICK_EXIT = True  # nothing is left open or running when main returns (harness.cli.entry)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders; the first (A) is what the others are compared with")
    parser.add_argument("--format", choices=["table", "md", "json", "html"], default="table")
    parser.add_argument("-o", "--output", help="write to this file instead of stdout (needed for html)")
    parser.add_argument("--flips", default="20", metavar="N|all",
                        help="fixed and broken cases to list per pair in the table and md (default 20; json lists all)")
    parser.add_argument("--skip-damaged", action="store_true", help="skip damaged results.jsonl lines (counted)")


def main(args) -> int:
    from harness.reporting.diff import compare, render
    from harness.reporting.render import emit, failures_option
    from harness.results import load_run
    from harness.userfiles import check_output_path

    if len(args.runs) < 2:
        raise InputError("harness diff: give at least two run folders (RUN_A RUN_B ...)")
    if args.format == "html" and not args.output:
        raise InputError("harness diff --format html: give -o FILE.html")
    check_output_path(args.output, "-o")
    shown = failures_option(args.flips, "--flips", "fixed and broken cases")
    doc = compare([load_run(run, args.skip_damaged) for run in args.runs], cases=args.format in ("json", "html"))
    if args.format == "html":
        from harness.reporting.html import render_diff

        emit(render_diff(doc), args.output)
    else:
        emit(render(doc, args.format, shown), args.output)
    return 0
