"""Read a run's results.jsonl handed back to the harness (report, diff, gate, replay) line by line, in
bounded memory: each line strict UTF-8, a JSON object and a typed Record (records.py); damage is named
with its line, byte offset where it applies, and how to recover.

A torn last line (a crash mid-write: no newline) is not damage: the run redoes that case on resume.
"""
from pathlib import Path

from harness.errors import InputError
from harness.jsonl import decode_line, json_object, raw_lines
from harness.records import DamagedRecord, Record

# Fields every version of the harness wrote: a line without one is damaged, not an older record.
REQUIRED = ("id", "category", "passed", "output", "detection")


def numbered_records(path: str | Path, skip_damaged: bool = False) -> tuple[list[tuple[int, Record]], int]:
    """(line number, record) for each sound line of a results.jsonl, in file order (a key retried on resume
    appears again), and how many damaged lines were skipped; without skip_damaged the first damaged line
    is an InputError saying how to recover."""
    path = Path(path)
    recover = (f"a damaged record: delete or repair that line and resume the run (harness run SUITE --run-dir "
               f"{path.parent}) to redo its case, or pass --skip-damaged to use the other records")
    records, damaged = [], 0
    for number, offset, line in raw_lines(path, str(path), "results file"):
        if not line.endswith(b"\n"):
            break  # torn write from a crash: the case is redone on resume
        if not line.strip():
            continue  # a blank line holds no record (the report path skips it the same way)
        where = f"{path}:{number}"
        try:
            # model outputs may nest deeply inside a record: only Python's own limit applies
            raw = json_object(decode_line(line, where, offset, recover), where, recover, max_depth=None)
            missing = [key for key in REQUIRED if key not in raw]
            if missing:
                raise DamagedRecord(f"no '{missing[0]}' field")
            if type(raw.get("sample")) is int and raw["sample"] < 0:  # other types: Record.from_json
                raise DamagedRecord(f"field 'sample' must be 0 or more, got {raw['sample']}")
            records.append((number, Record.from_json(raw)))
        except (InputError, DamagedRecord) as e:
            if not skip_damaged:
                raise (e if isinstance(e, InputError) else InputError(f"{where}: {e}; {recover}")) from None
            damaged += 1
    return records, damaged


def record_lines(path: str | Path, skip_damaged: bool = False) -> tuple[list[Record], int]:
    """The sound records of a results.jsonl in file order, and how many damaged lines were skipped."""
    records, damaged = numbered_records(path, skip_damaged)
    return [record for _, record in records], damaged
