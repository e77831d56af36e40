"""`harness detect`: run the tool-call detector on raw outputs.

    harness detect [FILE|-]   JSONL records {"output", "id"?, "tools"?} -> one JSON line each
    harness detect --text "…"  one output, printed readably

The input is streamed in lines as harness.jsonl reads them and detected in batches of records (memory
stays bounded by a read block, a batch and the longest line, which may not pass its MAX_LINE_BYTES,
whatever the file's size); output is written in blocks and flushed at the end, or line by line when the
input is an interactive terminal. Lines are decoded and encoded by msgspec in C; a line msgspec refuses
goes to the json module, which reads it as before and names what is wrong with it."""
import argparse
import codecs
import json
import math
import re
import sys

import msgspec

from harness.detect import Detection, detect
from harness.errors import InputError
from harness.jsonl import raw_lines
from harness.userfiles import not_utf8, open_binary

QUICK_EXIT = True  # nothing is left open or running when main returns (harness.cli.entry)

HINT = 'each line must be a JSON object with an "output" field'
_BLOCK = 1 << 16  # bytes of output gathered before one write
# Records read before they are detected, and in an order where outputs that start alike (alike in format)
# follow each other: 15% less CPU time on a mix of 16 formats than in input order, as the detector's code
# and data for one format stay in the CPU's caches. Lines are written in input order.
_BATCH, _BATCH_BYTES, _SIMILAR = 512, 1 << 19, 16
_SCAN_FOR_NULL = 2048  # bytes of a line up to which looking for null beats walking its call values
_DECODE = msgspec.json.Decoder().decode
_ENCODER = msgspec.json.Encoder()
_TOOLS: dict[bytes, list] = {}  # tools JSON -> the first list read with it
_JSON_LINE = json.JSONEncoder(separators=(",", ":")).encode
# Brackets a line with nested values may hold and still be decoded by msgspec: msgspec nests a few
# levels deeper than json.loads before its RecursionError, so deeper lines keep json's "nested too deeply".
_BRACKETS = 500
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x00-\x7e]")


class _Line(msgspec.Struct):
    """One output line, in its fields' order: encoded without building a dict per line."""
    id: object
    outcome: str
    format: str | None
    calls: list
    near_miss: str | None


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
    with open_binary(path, "detect input", "give a JSONL file or - for stdin") as stream:
        _run(stream, path, False)
    return 0


def _run(stream, name: str, interactive: bool) -> None:
    block, lines, more = bytearray(), raw_lines(stream, name), True  # bounded lines, as every JSONL reader reads them
    try:
        while more:
            batch = []
            try:
                more = _read_batch(lines, name, batch, 1 if interactive else _BATCH)
            finally:  # the lines before a bad one are written too
                _append_batch(block, batch, interactive)
    finally:
        _write(block, True)


def _append_batch(block: bytearray, batch: list, interactive: bool) -> None:
    """The batch's lines, in input order, detected in the order of their outputs' starts."""
    found, starts = [None] * len(batch), [record["output"][:_SIMILAR] for record, _, _ in batch]
    for k in sorted(range(len(batch)), key=starts.__getitem__):
        record, tools, _ = batch[k]
        found[k] = detect(record["output"], tools)
    for (record, _, exact), detection in zip(batch, found):
        _append_line(block, record, detection, exact)
        if interactive or len(block) >= _BLOCK:
            _write(block, interactive)
            block.clear()


def _read_batch(lines, name: str, batch: list, size: int) -> bool:
    """Up to `size` records (or _BATCH_BYTES of lines) at the end of batch, each (record, tools, exact);
    False at the end of the input."""
    held = 0
    for number, offset, raw in lines:
        if offset == 0 and raw.startswith(codecs.BOM_UTF8):  # dropped, as harness.jsonl drops it
            raw, offset = raw[len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)
        record = _quick_record(raw)
        exact = record is None
        if exact:
            record = _record(raw, name, number, offset)
        if record is None:
            continue
        tools = record.get("tools")
        batch.append((record, _same_tools(tools) if tools and not exact else tools, exact))
        held += len(raw)
        if len(batch) >= size or held >= _BATCH_BYTES:
            return True
    return False


def _write(block: bytearray, flush: bool) -> None:
    """The lines as printable ASCII, as the json module writes them (other characters as \\u escapes),
    written as bytes when stdout has a binary layer: no decoding and encoding again of ASCII lines."""
    out = sys.stdout
    binary = getattr(out, "buffer", None)
    if not block.isascii() or 0x7F in block:
        block = _NOT_PRINTABLE_ASCII.sub(_escape, block.decode()).encode()
    if binary is None:
        out.write(block.decode())
    else:
        out.flush()  # what was printed before goes first
        binary.write(block)
    if flush:
        (binary or out).flush()


def _quick_record(raw: bytes) -> dict | None:
    """The record of a well-formed line, decoded by msgspec; None sends the line to _record."""
    try:
        record = _DECODE(raw)
    except (msgspec.DecodeError, RecursionError):  # not JSON, not UTF-8, NaN, a lone surrogate, ...
        return None
    if type(record) is not dict or type(record.get("output")) is not str:
        return None
    tools = record.get("tools")
    if tools is not None and type(tools) is not list:
        return None
    if len(raw) >= _BRACKETS:
        for value in record.values():
            if type(value) is list or type(value) is dict:  # only a record holding containers can be deep
                if raw.count(b"[") + raw.count(b"{") >= _BRACKETS:
                    return None
                break
    return record


def _same_tools(tools: list) -> list:
    """The first list read with the same JSON: detect() prepares the schema of a list once, and the
    records of one suite repeat the same tools on every line."""
    key = _ENCODER.encode(tools)
    if key not in _TOOLS and len(_TOOLS) >= 64:
        _TOOLS.clear()
    return _TOOLS.setdefault(key, tools)


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


def _append_line(block: bytearray, record: dict, found: Detection, exact: bool) -> None:
    """One output line at the end of block. The json module writes what msgspec cannot write the
    same way: a record json.loads read (it may hold NaN), NaN or Infinity in arguments (msgspec
    writes null), lone surrogates."""
    mark = len(block)
    if not exact:
        try:
            _ENCODER.encode_into(_Line(record.get("id"), found.outcome, found.format, found.calls, found.near_miss),
                                 block, -1)
        except (TypeError, UnicodeEncodeError):
            del block[mark:]  # what msgspec wrote before it stopped
        else:
            # msgspec writes NaN as null: a short line without a null before near_miss needs no look at its
            # values (a long one is walked: its values are few and long, and scanning them costs more)
            if not found.calls or (len(block) - mark < _SCAN_FOR_NULL
                                   and block.find(b"null", mark, block.rfind(b',"near_miss":', mark)) < 0) \
                    or _finite(found.calls):
                block.append(10)  # newline
                return
            del block[mark:]
    line = {"id": record.get("id"), "outcome": found.outcome, "format": found.format,
            "calls": [{"name": c.name, "arguments": c.arguments} for c in found.calls], "near_miss": found.near_miss}
    block += _JSON_LINE(line).encode()
    block.append(10)


def _finite(calls) -> bool:
    """No NaN or Infinity anywhere in the calls' arguments (JSON values: exact types)."""
    stack = [c.arguments.values() for c in calls if c.arguments]
    while stack:
        for value in stack.pop():
            kind = type(value)
            if kind is float:
                if not math.isfinite(value):
                    return False
            elif kind is dict:
                stack.append(value.values())
            elif kind is list:
                stack.append(value)
    return True


def _escape(m: re.Match) -> str:
    code = ord(m.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}"


def _readable(found: Detection) -> str:
    lines = [f"format:    {found.format or '-'}", f"outcome:   {found.outcome}"]
    for n, call in enumerate(found.calls, 1):
        args = "(cut off: arguments unknown)" if call.arguments is None else json.dumps(call.arguments, ensure_ascii=False)
        lines.append(f"call {n}:    {call.name} {args}")
    lines.append(f"near miss: {found.near_miss or '-'}")
    return "\n".join(lines)
