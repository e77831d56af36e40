"""Read JSON Lines that people or other tools wrote: one line at a time (bounded memory on any file
size), each line strict UTF-8 and one JSON object, any fault named with its line and the fix."""
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from harness.errors import InputError
from harness.text import human_bytes
from harness.userfiles import MAX_DEPTH, UTF8_FIX, not_utf8, open_binary, parse_json

MAX_LINE_BYTES = 64 * 2**20  # one record; a longer line is not a record anyone wrote
JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true/false",
              type(None): "null"}

Source = str | Path | BinaryIO | Iterable[str] | Iterable[bytes]


def raw_lines(source: Source, where: str, what: str = "JSONL file") -> Iterator[tuple[int, int, str | bytes]]:
    """(line number, byte offset, line with its newline) of a path, a binary or text file, or an iterable of lines."""
    if isinstance(source, (str, Path)):
        with open_binary(source, what) as f:
            yield from raw_lines(f, where)
        return
    offset = 0
    for number, line in enumerate(_bounded(source), 1):
        if len(line) > MAX_LINE_BYTES:
            raise InputError(f"{where}:{number}: line longer than {human_bytes(MAX_LINE_BYTES)}; "
                             f"each line must be one record")
        yield number, offset, line
        offset += len(line)


READ_BYTES = 1 << 18  # of a binary stream read at a time


def _bounded(source) -> Iterator[str | bytes]:
    """Lines cut at MAX_LINE_BYTES + 1, so one endless line never has to fit in memory."""
    read = getattr(source, "read1", None)
    if read is not None:
        yield from _blocks_cut(read)
        return
    readline = getattr(source, "readline", None)
    if readline is None:
        yield from source
        return
    while line := readline(MAX_LINE_BYTES + 1):
        yield line


def _blocks_cut(read) -> Iterator[bytes]:
    """The lines of a binary stream read in blocks of what is there (a terminal's line as soon as it is
    typed): faster than one readline a line. A line past MAX_LINE_BYTES is cut there, as readline cuts it."""
    pending, held = [], 0  # the start of a line that runs past the blocks read so far
    while data := read(READ_BYTES):
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            line = data[start:end + 1]
            if pending:
                line, pending, held = b"".join(pending) + line, [], 0
            yield line
            start = end + 1
        if start < len(data):
            pending.append(data[start:])
            held += len(data) - start
            if held > MAX_LINE_BYTES:
                yield b"".join(pending)  # over the bound: raw_lines stops here
                return
    if pending:
        yield b"".join(pending)


def decode_line(line: str | bytes, where: str, offset: int, fix: str = UTF8_FIX) -> str:
    """Strict UTF-8 (`offset`: where the line starts in its file); a byte-order mark at the start is dropped."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise not_utf8(where, line, e, offset, fix) from None
    return line.removeprefix("\ufeff") if offset == 0 else line


def text_lines(source: Source, where: str, what: str = "JSONL file") -> Iterator[tuple[int, str]]:
    for number, offset, line in raw_lines(source, where, what):
        yield number, decode_line(line, f"{where}:{number}", offset)


def json_object(text: str, where: str, hint: str, max_depth: int | None = MAX_DEPTH) -> dict:
    value: Any = parse_json(text, where, hint, max_depth)
    if not isinstance(value, dict):
        raise InputError(f"{where}: {JSON_TYPES.get(type(value), 'a value')}, not a JSON object; {hint}")
    return value


def json_lines(source: Source, where: str, hint: str, what: str = "JSONL file") -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; every fault is an InputError at `where:LINE` with the fix."""
    for number, text in text_lines(source, where, what):
        if text.strip():
            yield number, json_object(text, f"{where}:{number}", hint)
