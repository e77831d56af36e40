"""Run folders: results.jsonl (one record per case x sample, appended as it goes) and manifest.json.

Writing is crash-safe: each record is one line, flushed and fsynced before the next case; a
torn last line (a crash mid-write) is ignored on reading and that case is simply redone.
"""
import json
import os
from pathlib import Path

RESULTS = "results.jsonl"
MANIFEST = "manifest.json"


def record_key(record: dict) -> tuple:
    """What identifies a record in a run: its case id and sample number, and for a turn inside a
    scripted rollout also the turn (the episode's verdict is the record with "episode": true)."""
    if is_turn_record(record):
        return record.get("id"), record.get("sample", 0), record.get("turn")
    return record.get("id"), record.get("sample", 0)


def is_turn_record(record: dict) -> bool:
    """One assistant turn of a scripted rollout ("episode": false), judged apart from its episode."""
    return record.get("episode") is False


def verdict_records(records: list[dict]) -> list[dict]:
    """Each case's verdict: the usual case records and the episode records of rollouts."""
    return [r for r in records if not is_turn_record(r)]


def is_backend_error(record: dict) -> bool:
    """A record the backend failed to produce: reported apart, never a model failure, retried on resume."""
    return record.get("reason") == "backend_error"


def read_records(run_dir: str | Path) -> list[dict]:
    """Complete records of a run folder (or a results.jsonl path), one per case and sample.

    A case retried on resume (after a backend error) has several lines; the last one counts.
    """
    path = Path(run_dir)
    path = path / RESULTS if path.is_dir() else path
    if not path.is_file():
        return []
    latest: dict[tuple, dict] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # torn write from a crash: the case is redone on resume
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            latest[record_key(record)] = record
    return list(latest.values())


def repair_tail(path: Path) -> None:
    """Cut a torn last line so appended records start on a fresh line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


class RecordWriter:
    def __init__(self, path: Path):
        repair_tail(path)
        self.f = path.open("a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self.f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.close()


def read_manifest(run_dir: str | Path) -> dict:
    path = Path(run_dir) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def write_manifest(run_dir: str | Path, manifest: dict) -> None:
    path = Path(run_dir) / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    os.replace(tmp, path)  # never leave a half-written manifest


def load_results(run: str | Path):
    """One pandas DataFrame row per case record of a run folder, with the manifest's model name."""
    import pandas as pd

    from harness.errors import InputError

    records = read_records(run)
    if not records:
        raise InputError(f"{run}: no results.jsonl records; give a run folder written by `harness run`")
    df = pd.json_normalize(records, sep=".")
    manifest = read_manifest(run) if Path(run).is_dir() else {}
    df["model"] = manifest.get("model", {}).get("name")
    df["run"] = str(run)
    return df
