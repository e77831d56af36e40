"""`harness detect`: run the tool-call detector on raw outputs.

    harness detect [FILE|-]   JSONL records {"output", "id"?, "tools"?} -> one JSON line each
    harness detect --text "…"  one output, printed readably
"""
import argparse
import json
import sys

from harness.detect import Detection, detect
from harness.errors import InputError
from harness.jsonl import json_lines
from harness.userfiles import open_binary

HINT = 'each line must be a JSON object with an "output" field'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", default="-",
                        help='JSONL file of records with an "output" field (and optional "id", "tools"); - for stdin')
    parser.add_argument("--text", help="detect calls in this one output and print the result readably")


def main(args) -> int:
    if getattr(args, "text", None) is not None:
        print(_readable(detect(args.text)))
        return 0
    path = getattr(args, "file", "-") or "-"
    if path == "-":
        _run(getattr(sys.stdin, "buffer", sys.stdin), "<stdin>")  # bytes: each line is decoded strictly
        return 0
    with open_binary(path, "detect input", "give a JSONL file or - for stdin") as lines:
        _run(lines, path)
    return 0


def _run(lines, name: str) -> None:
    out = sys.stdout
    for number, record in json_lines(lines, name, HINT):
        _check(record, name, number)
        found = detect(record["output"], record.get("tools"))
        out.write(json.dumps({"id": record.get("id"), **found.to_dict()}) + "\n")
        out.flush()


def _check(record, name: str, number: int) -> None:
    if not isinstance(record, dict) or not isinstance(record.get("output"), str):
        raise InputError(f'{name}:{number}: no string "output" field; {HINT}')
    if record.get("tools") is not None and not isinstance(record["tools"], list):
        raise InputError(f'{name}:{number}: "tools" must be a list of tool definitions')


def _readable(found: Detection) -> str:
    lines = [f"format:    {found.format or '-'}", f"outcome:   {found.outcome}"]
    for n, call in enumerate(found.calls, 1):
        args = "(cut off: arguments unknown)" if call.arguments is None else json.dumps(call.arguments, ensure_ascii=False)
        lines.append(f"call {n}:    {call.name} {args}")
    lines.append(f"near miss: {found.near_miss or '-'}")
    return "\n".join(lines)
