"""The one reader for files people give the harness: suites, models.toml, gate rules, replay and detect
input, training data, run folders, and the paths outputs are written to.

Every problem (a missing file, a folder, non-UTF-8 bytes, a depth bomb, an oversized file, bad TOML or
JSON) is an InputError of one line naming the file, the line where known, and the fix.
"""
import codecs
import json
from pathlib import Path
from typing import Any, BinaryIO

from harness.errors import InputError
from harness.text import human_bytes

MAX_FILE_BYTES = 32 * 2**20  # files read whole (TOML, JSON, suites); JSONL streams are bounded per line
MAX_DEPTH = 100  # tables/arrays nested deeper than this are a depth bomb, never a real config


def check_file(path: str | Path, what: str, fix: str = "check the path") -> Path:
    """`path` as a Path that names a readable file (not a folder)."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: cannot read the {what}: it is a folder; give the file itself")
    if not path.exists():
        raise InputError(f"{path}: cannot read the {what}: no such file; {fix}")
    return path


def open_binary(path: str | Path, what: str, fix: str = "check the path") -> BinaryIO:
    """The file opened for reading bytes (JSONL streams decode each line themselves)."""
    path = check_file(path, what, fix)
    try:
        return path.open("rb")
    except OSError as e:
        raise InputError(f"{path}: cannot read the {what} ({e.strerror}); check its permissions") from None


def read_bytes(path: str | Path, what: str, fix: str = "check the path") -> bytes:
    with open_binary(path, what, fix) as f:
        data = f.read(MAX_FILE_BYTES + 1)  # read() bounded: a pipe or device has no size to check first
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"{path}: the {what} is over {human_bytes(MAX_FILE_BYTES)}, more than any real one; "
                         f"give the right file or split it")
    return data


UTF8_FIX = "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"


def not_utf8(where: str, data: bytes, error: UnicodeDecodeError, offset: int = 0, fix: str = UTF8_FIX) -> InputError:
    """The error for bytes that are not UTF-8: `where` is the file (and line), `offset` where `data` starts."""
    bad = data[error.start]
    column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
    return InputError(f"{where}: not UTF-8 (byte 0x{bad:02x} at byte offset {offset + error.start}, column "
                      f"{column}); {fix}")


def decode(data: bytes, path: str | Path) -> str:
    """Strict UTF-8 (a leading byte-order mark is dropped): replaced characters would change prompts."""
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, start + e.start) + 1
        raise not_utf8(f"{path}:{line}", data[start:], e, start) from None


def read_text(path: str | Path, what: str, fix: str = "check the path") -> str:
    return decode(read_bytes(path, what, fix), path)


def check_depth(value: Any, where: str, limit: int = MAX_DEPTH) -> Any:
    """`value` unchanged, or an InputError when its tables/arrays nest deeper than `limit`."""
    stack = [(value, 1)]
    while stack:  # iterative: a depth bomb must not blow the stack it is checked with
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                raise InputError(f"{where}: nested more than {limit} levels deep; flatten the data")
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return value


def parse_toml(text: str, path: str | Path) -> dict:
    import tomllib  # here: the commands that read no TOML (detect, report) start 1.5 ms sooner

    try:
        return check_depth(tomllib.loads(text), str(path))
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: not valid TOML ({e}); fix the syntax at that line") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deep to read (more than {MAX_DEPTH} levels); flatten the data") from None


def read_toml(path: str | Path, what: str, fix: str = "check the path") -> dict:
    return parse_toml(read_text(path, what, fix), path)


def parse_json(text: str | bytes, where: str, fix: str, max_depth: int | None = MAX_DEPTH) -> Any:
    """One JSON document; `where` names the file (and line) in errors. max_depth None: only what Python can read."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        position = f"column {e.colno}" if e.lineno == 1 else f"line {e.lineno} column {e.colno}"
        raise InputError(f"{where}: not valid JSON ({e.msg}, {position}); {fix}") from None
    except RecursionError:
        raise InputError(f"{where}: JSON nested too deep to read; {fix}") from None
    return value if max_depth is None else check_depth(value, where, max_depth)


def read_json(path: str | Path, what: str, fix: str) -> Any:
    return parse_json(read_text(path, what, fix), str(path), fix)


def check_output_path(path: str | Path | None, flag: str) -> None:
    """Refuse, before any work, an output path (`-o`, `--junit`, ...) that cannot be written."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: {flag} names a folder; give a file path such as {path / 'report.out'}")
    parent = path.parent
    if not parent.is_dir():
        what = "is a file, not a folder" if parent.exists() else "does not exist"
        raise InputError(f"{path}: the folder {parent} {what}; create it (mkdir -p {parent}) or give {flag} "
                         f"another path")
