"""`harness detect`: run the tool-call detector on raw outputs.

    harness detect [FILE|-]   JSONL records {"output", "id"?, "tools"?} -> one JSON line each
    harness detect --text "…"  one output, printed readably

The input is streamed line by line (memory stays bounded by the longest line, whatever the file's
size); output is written in blocks and flushed at the end, or after every line when the input is
an interactive terminal."""
import argparse
import json
import sys

from harness.detect import Detection, detect
from harness.errors import InputError
from harness.userfiles import not_utf8, open_binary

HINT = 'each line must be a JSON object with an "output" field'
_BLOCK = 1 << 16  # characters of output gathered before one write


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
        _run(sys.stdin.buffer, "<stdin>", sys.stdin.isatty())  # bytes: each line is decoded strictly
        return 0
    with open_binary(path, "detect input", "give a JSONL file or - for stdin") as lines:
        _run(lines, path, False)
    return 0


def _run(lines, name: str, interactive: bool) -> None:
    out, block, size = sys.stdout, [], 0
    encode = json.JSONEncoder().encode
    try:
        offset = 0
        for number, raw in enumerate(lines, 1):
            record = _record(raw, name, number, offset)
            offset += len(raw)
            if record is None:
                continue
            found = detect(record["output"], record.get("tools"))
            line = encode({"id": record.get("id"), "outcome": found.outcome, "format": found.format,
                           "calls": [{"name": c.name, "arguments": c.arguments} for c in found.calls],
                           "near_miss": found.near_miss}) + "\n"
            if interactive:
                out.write(line)
                out.flush()
                continue
            block.append(line)
            size += len(line)
            if size >= _BLOCK:
                out.write("".join(block))
                block, size = [], 0
    finally:  # the lines before a bad one are written too
        out.write("".join(block))
        out.flush()


def _record(raw: bytes, name: str, number: int, offset: int) -> dict | None:
    """The record of one input line (None for a blank line); a bad line is an InputError naming it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise not_utf8(f"{name}:{number}", raw, e, offset) from None
    if not text or text.isspace():
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{name}:{number}: not valid JSON ({e.msg} at column {e.colno}); {HINT}") from None
    except RecursionError:
        raise InputError(f"{name}:{number}: JSON nested too deeply; {HINT}") from None
    if not isinstance(record, dict) or not isinstance(record.get("output"), str):
        raise InputError(f'{name}:{number}: no string "output" field; {HINT}')
    if record.get("tools") is not None and not isinstance(record["tools"], list):
        raise InputError(f'{name}:{number}: "tools" must be a list of tool definitions')
    return record


def _readable(found: Detection) -> str:
    lines = [f"format:    {found.format or '-'}", f"outcome:   {found.outcome}"]
    for n, call in enumerate(found.calls, 1):
        args = "(cut off: arguments unknown)" if call.arguments is None else json.dumps(call.arguments, ensure_ascii=False)
        lines.append(f"call {n}:    {call.name} {args}")
    lines.append(f"near miss: {found.near_miss or '-'}")
    return "\n".join(lines)
