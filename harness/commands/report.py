"""`harness report RUN`: a finished (or partial) run as a table, Markdown, JSON or one HTML page."""
import argparse

from harness.errors import InputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder")
    p.add_argument("--format", choices=["table", "md", "json", "html"], default="table",
                   help="html: one self-contained file with plots (needs -o)")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")


def main(args) -> int:
    from harness.reporting.render import emit, render
    from harness.reporting.summary import summarize
    from harness.userfiles import check_output_path

    check_output_path(args.output, "-o")
    if args.format == "html":
        if not args.output:
            raise InputError("harness report --format html: give -o FILE.html")
        from harness.reporting.html import render_report

        text = render_report(args.run)
    else:
        text = render(summarize(args.run), args.format)
    emit(text, args.output)
    return 0
