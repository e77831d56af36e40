"""Read run folders handed back to the harness (report, diff, gate, replay): every results.jsonl record
and the manifest are type-checked, and damage is named with its line and how to recover.

A torn last line (a crash mid-write: no newline) is not damage: the run redoes that case on resume.
"""
from pathlib import Path

from harness.errors import InputError
from harness.jsonl import decode_line, json_object, raw_lines
from harness.results import MANIFEST, RESULTS
from harness.userfiles import read_json

NUMBER = (int, float)
NONE = type(None)
# Types of the record fields report, diff, gate and replay read; `sample` is checked apart (integer >= 0).
RECORD_FIELDS = {
    "id": (str,), "category": (str,), "passed": (bool,), "output": (str,), "detection": (dict,),
    "reason": (str, NONE), "detail": (str, NONE), "level": (str, NONE), "error": (str, NONE),
    "decision": (bool, NONE), "tool": (bool, NONE), "call": (bool, NONE), "tags": (list,),
    "tool_calls": (list, NONE), "timing": (str,), "finish_reason": (str, NONE),
    "latency_s": (*NUMBER, NONE), "ttft_s": (*NUMBER, NONE), "tokens_per_s": (*NUMBER, NONE),
    "prompt_tokens": (int, NONE), "completion_tokens": (int, NONE),
    "prompt_sha256": (str, NONE), "case_sha256": (str, NONE), "sampler": (dict,),
}
REQUIRED = ("id", "category", "passed", "output", "detection")
DETECTION_FIELDS = {"outcome": (str,), "format": (str, NONE), "near_miss": (str, NONE), "calls": (list,)}
MANIFEST_FIELDS = {"status": (str, NONE), "suite": (dict,), "model": (dict,), "sampler": (dict,),
                   "generation": (dict,), "warnings": (list,), "samples": (int,), "sessions": (int,)}
TYPE_NAMES = {str: "a string", bool: "true/false", dict: "an object", list: "an array", int: "an integer",
              float: "a number", NONE: "null"}


def results_path(run: str | Path) -> Path:
    """results.jsonl of a run folder, or the path itself when it names the file."""
    path = Path(run)
    return path / RESULTS if path.is_dir() else path


def field_problem(record: dict, fields: dict, required: tuple = ()) -> str | None:
    """What is wrong with `record`'s fields (missing, or of the wrong type), or None."""
    for key in required:
        if key not in record:
            return f"no '{key}' field"
    for key, value in record.items():
        types = fields.get(key)
        if types is not None and type(value) not in types:  # exact types, as json.loads makes them: true is no int
            return f"'{key}' must be {' or '.join(dict.fromkeys(TYPE_NAMES[t] for t in types))}, got {value!r:.60}"
    sample = record.get("sample", 0)
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 0:
        return f"'sample' must be an integer 0 or more, got {sample!r:.60}"
    return None


def _record_problem(record: dict) -> str | None:
    problem = field_problem(record, RECORD_FIELDS, REQUIRED)
    if problem is None and (detection := field_problem(record["detection"], DETECTION_FIELDS, ("outcome",))):
        problem = f"in 'detection': {detection}"
    return problem


def numbered_records(run: str | Path, skip_damaged: bool = False) -> tuple[list[tuple[int, dict]], int]:
    """(line number, record) for each sound record of a run, in file order, and how many damaged lines
    were skipped; without skip_damaged the first damaged line is an InputError saying how to recover."""
    path = results_path(run)
    folder = path.parent if path.name == RESULTS else path
    recover = (f"a damaged record: delete or repair that line and resume the run (harness run SUITE --run-dir "
               f"{folder}) to redo its case, or pass --skip-damaged to use the other records")
    records, damaged = [], 0
    for number, offset, line in raw_lines(path, str(path), "results file"):
        if not line.endswith(b"\n"):
            break  # torn write from a crash: the case is redone on resume
        where = f"{path}:{number}"
        try:
            # model outputs may nest deeply inside a record: only Python's own limit applies
            record = json_object(decode_line(line, where, offset, recover), where, recover, max_depth=None)
            if problem := _record_problem(record):
                raise InputError(f"{where}: {problem}; {recover}")
        except InputError:
            if not skip_damaged:
                raise
            damaged += 1
            continue
        records.append((number, record))
    return records, damaged


def record_lines(run: str | Path, skip_damaged: bool = False) -> tuple[list[dict], int]:
    """The sound records of a run (every line, in order: a key retried on resume appears again), and how
    many damaged lines were skipped."""
    records, damaged = numbered_records(run, skip_damaged)
    return [record for _, record in records], damaged


def read_manifest(run_dir: str | Path) -> dict:
    """manifest.json of a run folder, checked; {} when the folder has none."""
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        return {}
    fix = (f"the run's records are intact: delete {path} and resume the run (harness run SUITE --run-dir "
           f"{Path(run_dir)}) to rewrite it")
    manifest = read_json(path, "run manifest", fix)
    if not isinstance(manifest, dict):
        raise InputError(f"{path}: damaged run manifest (a JSON {type(manifest).__name__}, not an object); {fix}")
    if problem := field_problem(manifest, MANIFEST_FIELDS):
        raise InputError(f"{path}: damaged run manifest ({problem}); {fix}")
    return manifest
