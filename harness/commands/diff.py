"""`harness diff RUN_A RUN_B [RUN_C ...]`: runs side by side on the cases they share."""
import argparse

from harness.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders; the first (A) is what the others are compared with")
    parser.add_argument("--format", choices=["table", "md", "json", "html"], default="table")
    parser.add_argument("-o", "--output", help="write to this file instead of stdout (needed for html)")


def main(args) -> int:
    from harness.reporting.diff import compare, render
    from harness.reporting.render import emit
    from harness.userfiles import check_output_path

    check_output_path(args.output, "-o")
    if len(args.runs) < 2:
        raise InputError("harness diff: give at least two run folders (RUN_A RUN_B ...)")
    doc = compare(args.runs)
    if args.format == "html":
        if not args.output:
            raise InputError("harness diff --format html: give -o FILE.html")
        from harness.reporting.html import render_diff

        emit(render_diff(doc), args.output)
    else:
        emit(render(doc, args.format), args.output)
    return 0
