"""Run folders on disk: results.jsonl (one Record per line, appended as cases finish), manifest.json,
and the lock that keeps one writer per folder.

Writing is crash-safe: each record is one line written and flushed before the next; fsyncs are grouped
(at most every FSYNC_EVERY_S and at close), since a killed process loses nothing already written to the
OS. A torn last line (a crash mid-write) is ignored on reading and that case is simply redone.
"""
import fcntl
import gc
import json
import mmap
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec

from harness.errors import InputError
from harness.records import VIEW_DECODER, DamagedRecord, Manifest, Record, RecordView, clip, view_from_line
from harness.runfiles import numbered_records
from harness.secrets import redact
from harness.userfiles import check_file, read_json

RESULTS = "results.jsonl"
MANIFEST = "manifest.json"
LOCK = ".lock"
FSYNC_EVERY_S = 0.1


class RunWriteError(Exception):
    """Writing the run folder failed (disk full, permissions): the run stops, what was written stays."""


@dataclass
class RunRecords:
    """The latest record of each (id, sample) of a run, and how many damaged lines were skipped."""
    records: list[Record]
    damaged: int = 0


@dataclass
class LoadedRun:
    """A run folder read once: its records (RecordViews for reports) and manifest (None for a bare
    results.jsonl)."""
    run_dir: str
    records: list[Record | RecordView]
    manifest: Manifest | None
    damaged: int = 0


def load_run(run: str | Path, skip_damaged: bool = False, views: bool = True) -> LoadedRun:
    """A run folder read once for every report (as RecordViews unless `views` is False); no records is an
    InputError."""
    path = Path(run)
    if not path.exists():
        raise InputError(f"{run}: no such run folder; give a folder written by `harness run`")
    found = read_run(path, skip_damaged, views)
    if not found.records:
        raise InputError(no_results(run))
    return LoadedRun(str(run), found.records, read_manifest(path) if path.is_dir() else None, found.damaged)


def results_path(run: str | Path) -> Path:
    path = Path(run)
    return path / RESULTS if path.is_dir() else path


def read_run(run: str | Path, skip_damaged: bool = False, views: bool = False) -> RunRecords:
    """Records of a run folder (or a results.jsonl path). A case retried on resume has several lines;
    the last one counts. A damaged line is an InputError naming it, unless `skip_damaged`. With `views`,
    RecordViews (outputs cut to an excerpt) for reports, decoded far faster and held in far less memory."""
    path = results_path(run)
    if not path.exists():
        return RunRecords([])
    check_file(path, "results file")  # a folder named results.jsonl is named as one
    if not views:  # whole records: runfiles checks each line (UTF-8, fields, types) the one way it is done
        numbered, damaged = numbered_records(path, skip_damaged)
        return RunRecords(list({record.key: record for _, record in numbered}.values()), damaged)
    with paused_gc():
        return _read_views(path, skip_damaged)


@contextmanager
def paused_gc():
    """Cyclic GC off while many acyclic objects are made: each collection walks every object made so far,
    which made decoding a 100,000-record run 4x slower."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_views(path: Path, skip_damaged: bool) -> RunRecords:
    latest: dict[tuple, RecordView] = {}
    damaged = 0
    with path.open("rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return RunRecords([])
        # mapped, not read: no copy of the file into fresh buffers, a fifth of a large report's time
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            released = 0
            for start, end in _line_chunks(data):
                # pages already decoded leave the process (they stay in the page cache): else the whole file
                # would count in its memory
                if (upto := start - start % mmap.PAGESIZE) > released:
                    data.madvise(mmap.MADV_DONTNEED, released, upto - released)
                    released = upto
                chunk = memoryview(data)[start:end]
                try:
                    # a whole chunk in one C call (blank lines hold no record and are skipped, as decode_lines
                    # does); a damaged line sends the chunk through the line-by-line path, which names it
                    decoded = [clip(v) for v in VIEW_DECODER.decode_lines(chunk)]
                except (msgspec.MsgspecError, ValueError):
                    decoded = None
                finally:
                    chunk.release()  # the map closes only once no view of it is left
                if decoded is None:
                    decoded, skipped = _views_one_by_one(path, data[start:end], data[:start].count(b"\n"),
                                                         skip_damaged)
                    damaged += skipped
                for record in decoded:
                    latest[record.key] = record
    return RunRecords(list(latest.values()), damaged)


def _views_one_by_one(path: Path, chunk: bytes, lineno: int, skip_damaged: bool) -> tuple[list[RecordView], int]:
    views, damaged = [], 0
    for line in chunk.split(b"\n")[:-1]:
        lineno += 1
        if not line.strip():
            continue
        try:
            views.append(view_from_line(line))
        except (ValueError, DamagedRecord) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            if not skip_damaged:
                raise InputError(f"{path}:{lineno}: damaged record ({_reason(e)}); delete or repair that line, "
                                 f"or pass --skip-damaged to report on the rest") from None
            damaged += 1
    return views, damaged


CHUNK_BYTES = 4 << 20


def _line_chunks(data: mmap.mmap):
    """(start, end) of chunks of whole lines; a torn last line (a crash mid-write) is left out, and that case
    is redone on resume."""
    start, size = 0, len(data)
    while start < size:
        end = data.rfind(b"\n", start, min(size, start + CHUNK_BYTES)) + 1
        if not end:  # a line longer than a chunk
            end = data.find(b"\n", start + CHUNK_BYTES) + 1
            if not end:
                return
        yield start, end
        start = end


def _reason(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 at byte {error.start}"
    return str(error).splitlines()[0][:120]


def read_records(run: str | Path, skip_damaged: bool = False) -> list[Record]:
    return read_run(run, skip_damaged).records


def repair_tail(path: Path) -> None:
    """Cut a torn last line so appended records start on a fresh line."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with path.open("rb+") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return
        data = path.read_bytes()
        f.truncate(data.rfind(b"\n") + 1)


class RecordWriter:
    """Appends records to results.jsonl; an OS error (disk full) becomes RunWriteError naming the path."""

    def __init__(self, path: Path):
        self.path = path
        try:
            repair_tail(path)
            self.f = path.open("a", encoding="utf-8")
        except OSError as e:
            raise RunWriteError(_os_error(path, e)) from None
        self.synced = time.perf_counter()

    def write(self, record: Record) -> None:
        try:
            self.f.write(redact(json.dumps(record.to_json(), ensure_ascii=False)) + "\n")
            self.f.flush()
            if time.perf_counter() - self.synced >= FSYNC_EVERY_S:
                os.fsync(self.f.fileno())
                self.synced = time.perf_counter()
        except OSError as e:
            raise RunWriteError(_os_error(self.path, e)) from None

    def close(self) -> None:
        try:
            self.f.flush()
            os.fsync(self.f.fileno())
        except OSError:
            pass  # already reported by the write that failed; the lines before it are on disk
        finally:
            try:
                self.f.close()
            except OSError:
                pass


def _os_error(path: Path, e: OSError) -> str:
    return f"{path}: cannot write ({e.strerror or e}, errno {e.errno})"


def read_manifest(run_dir: str | Path) -> Manifest | None:
    """The run's manifest, or None when the folder has none yet."""
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        return None
    fix = "restore it, or delete it to treat the folder as records only (a resume then rewrites it)"
    try:  # read_json: a folder, bad UTF-8, bad JSON or a depth bomb is one line naming the file
        return Manifest.from_json(read_json(path, "run manifest", fix))
    except DamagedRecord as e:
        raise InputError(f"{path}: damaged manifest ({e}); {fix}") from None


def write_manifest(run_dir: str | Path, manifest: Manifest) -> None:
    path = Path(run_dir) / MANIFEST
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(redact(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False)))
        os.replace(tmp, path)  # never leave a half-written manifest
    except OSError as e:
        raise RunWriteError(_os_error(path, e)) from None


class RunLock:
    """An exclusive lock on a run folder while a process writes it; a second writer is refused."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / LOCK
        self.f = None

    def __enter__(self) -> "RunLock":
        self.f = self.path.open("a+")
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.f.seek(0)
            holder = self.f.read().strip() or "another process"
            self.f.close()
            raise InputError(f"{self.path.parent}: another harness process (pid {holder}) is writing this run folder; "
                             f"wait for it to finish or give another --run-dir") from None
        self.f.seek(0)
        self.f.truncate()
        self.f.write(str(os.getpid()))
        self.f.flush()
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def load_results(run: str | Path):
    """One pandas DataFrame row per record of a run folder, with the manifest's model name.

    Nested values (the expectation, the detection, sampler settings) stay one column each."""
    import pandas as pd

    records = read_records(run)
    if not records:
        raise InputError(no_results(run))
    rows = [r.to_json() for r in records]
    expects = [row.pop("expect") for row in rows]  # a nested matcher tree stays one column
    df = pd.json_normalize(rows, max_level=1)
    df["expect"] = expects
    manifest = read_manifest(run) if Path(run).is_dir() else None
    df["model"] = manifest.model.get("name") if manifest else None
    df["run"] = str(run)
    return df


def no_results(run: str | Path) -> str:
    """The one error for a folder that holds no records."""
    return f"{run}: no results; give a run folder written by `harness run` (it holds {RESULTS})"
