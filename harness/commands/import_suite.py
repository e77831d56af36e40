"""`harness import bfcl|when2call`: turn public benchmarks into JSONL suites (and optionally a replay file)."""
import argparse
import json
import sys
from pathlib import Path

from harness.bfcl import CATEGORIES, IRRELEVANCE_RULES, data_files, hermes_output, load_bfcl, possible_cases
from harness.errors import InputError

HELP = """\
Import a public benchmark as a JSONL suite, one case per line (id, category, messages, tools, expect).

bfcl: -o OUT ending in .jsonl writes every category into that one suite; any other OUT is a folder
that gets one suite per category, named bfcl_<category>.jsonl. Java and JavaScript categories,
memory, web search and format sensitivity are not imported. multi_turn_base (not in the default set)
becomes one gold-prefix case per turn of each entry: the earlier turns with their ground-truth calls
and the results BFCL's environment classes give for them, run here at import time (needs bfcl-eval
installed, or --data with the bfcl-eval wheel).

when2call FILE (when2call_test_llm_judge.jsonl): one case per row, id = the uuid, category = the
correct answer, expecting a call to the target tool, "ask" or "decline". With --answers ANSWERS,
OUT instead holds four cases per row, `<uuid>:<candidate>` for the candidates direct, tool_call,
request_for_info and cannot_answer, each expecting its candidate's kind (answer, call, ask,
decline), and ANSWERS holds the candidates' replies: `harness run OUT --replay ANSWERS` then
scores the response-kind classifier, its pass rate per category being the share of each
candidate class read as its kind.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("source", choices=["bfcl", "when2call"], help="the benchmark to import")
    parser.add_argument("file", nargs="?", metavar="FILE", help="when2call: the When2Call test file")
    parser.add_argument("--data", metavar="PATH",
                        help="bfcl: bfcl_eval/data folder, an unpacked bfcl-eval wheel or the .whl file; "
                             "default: the installed bfcl_eval package")
    parser.add_argument("--category", action="extend", nargs="+", metavar="NAMES",
                        help=f"bfcl: names separated by spaces or commas; default: all of {', '.join(CATEGORIES)}")
    parser.add_argument("--irrelevance", choices=list(IRRELEVANCE_RULES), default="reply",
                        help="bfcl: what irrelevance cases expect: reply = any answer, refusal or question "
                             "but no call (default); bfcl = BFCL's rule, anything that is not a well-formed "
                             "call, a malformed call included")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="a .jsonl file (one suite) or, for bfcl, a folder (one suite per category)")
    parser.add_argument("--ground-truth", metavar="FILE",
                        help="bfcl: also write {id, output} JSONL with each case's first acceptable answer "
                             "as Hermes <tool_call> text, for `harness run --replay FILE` (irrelevance: a "
                             "plain answer; live_relevance: a call to the first tool)")
    parser.add_argument("--answers", metavar="ANSWERS",
                        help="when2call: write the rows' four candidate replies as {id, output} JSONL and "
                             "make OUT the matching four-cases-per-row suite (see above)")


def main(args: argparse.Namespace) -> int:
    return _when2call(args) if args.source == "when2call" else _bfcl(args)


def _bfcl(args: argparse.Namespace) -> int:
    if args.file or args.answers:
        raise InputError("import bfcl: takes no FILE and no --answers; use --data PATH for the BFCL data")
    # dict.fromkeys: a category named twice is imported once
    names = list(dict.fromkeys(n.strip() for arg in args.category or [",".join(CATEGORIES)]
                               for n in arg.split(",") if n.strip()))
    if not names:
        raise InputError("--category: no category named; use e.g. --category simple_python,multiple")
    from harness.bfcl_multiturn import MULTI_TURN_CATEGORIES, import_multi_turn

    imported = load_bfcl(args.data, [n for n in names if n not in MULTI_TURN_CATEGORIES], args.irrelevance)
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


def _when2call(args: argparse.Namespace) -> int:
    from harness.when2call import candidate_cases, load_when2call

    if not args.file:
        raise InputError("import when2call: give the When2Call test file, e.g. "
                         "harness import when2call when2call_test_llm_judge.jsonl -o when2call.jsonl")
    if args.data or args.category or args.ground_truth:
        raise InputError("import when2call: --data, --category and --ground-truth are for bfcl; "
                         "use --answers ANSWERS for the candidate replies")
    out = Path(args.output)
    if out.suffix != ".jsonl":
        raise InputError(f"{out}: -o must name a .jsonl file for when2call")
    rows = load_when2call(args.file)
    if not args.answers:
        _write_jsonl(out, [case for case, _ in rows])
        print(f"{out}: {len(rows)} cases")
        return 0
    cases, replies = candidate_cases(rows)
    _write_jsonl(out, cases)
    _write_jsonl(Path(args.answers), replies)
    print(f"{out}: {len(cases)} candidate cases ({len(rows)} rows x 4); {args.answers}: {len(replies)} replies")
    return 0


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
