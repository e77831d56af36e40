"""`harness import bfcl`: turn BFCL categories into JSONL suites (and optionally a ground-truth replay file)."""
import argparse
import json
import sys
from pathlib import Path

from harness.bfcl import CATEGORIES, data_files, hermes_output, load_bfcl, possible_cases
from harness.errors import InputError

HELP = """\
Import BFCL categories as JSONL suites, one case per line (id, category, messages, tools, expect).
-o OUT ending in .jsonl writes every category into that one suite; any other OUT is a folder that
gets one suite per category, named bfcl_<category>.jsonl. Java and JavaScript categories, memory,
web search and format sensitivity are not imported. multi_turn_base (not in the default set) becomes
one gold-prefix case per turn of each entry: the earlier turns with their ground-truth calls and the
results BFCL's environment classes give for them, run here at import time (needs bfcl-eval installed,
or --data with the bfcl-eval wheel).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("source", choices=["bfcl"], help="the benchmark to import")
    parser.add_argument("--data", metavar="PATH",
                        help="bfcl_eval/data folder, an unpacked bfcl-eval wheel or the .whl file; "
                             "default: the installed bfcl_eval package")
    parser.add_argument("--category", action="extend", nargs="+", metavar="NAMES",
                        help=f"names separated by spaces or commas; default: all of {', '.join(CATEGORIES)}")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="a .jsonl file (one suite) or a folder (one suite per category)")
    parser.add_argument("--ground-truth", metavar="FILE",
                        help="also write {id, output} JSONL with each case's first acceptable answer "
                             "as Hermes <tool_call> text, for `harness run --replay FILE` (irrelevance: a "
                             "plain answer; live_relevance: a call to the first tool)")


def main(args: argparse.Namespace) -> int:
    # dict.fromkeys: a category named twice is imported once
    names = list(dict.fromkeys(n.strip() for arg in args.category or [",".join(CATEGORIES)]
                               for n in arg.split(",") if n.strip()))
    if not names:
        raise InputError("--category: no category named; use e.g. --category simple_python,multiple")
    from harness.bfcl_multiturn import MULTI_TURN_CATEGORIES, import_multi_turn

    imported = load_bfcl(args.data, [n for n in names if n not in MULTI_TURN_CATEGORIES])
    for name in [n for n in names if n in MULTI_TURN_CATEGORIES]:
        cases, notes = import_multi_turn(*data_files(args.data), args.data, name)
        imported += cases
        for note in notes:
            print(f"{name}: {note}", file=sys.stderr)
    imported, dropped = possible_cases(imported)
    for reason in dropped:  # a suite holding them would be refused by validate
        print(f"skipped {reason}", file=sys.stderr)
    out = Path(args.output)
    if out.suffix == ".jsonl":
        _write_jsonl(out, [item.case for item in imported])
        print(f"{out}: {len(imported)} cases")
    else:
        for name in names:
            path = out / f"bfcl_{name}.jsonl"
            cases = [item.case for item in imported if item.case["category"] == name]
            _write_jsonl(path, cases)
            print(f"{path}: {len(cases)} cases")
    if args.ground_truth:
        _write_jsonl(Path(args.ground_truth),
                     [{"id": item.case["id"], "output": hermes_output(item.truth)} for item in imported])
        print(f"{args.ground_truth}: {len(imported)} ground-truth outputs")
    return 0


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
