"""Drive a run: lock its folder, check a resume is the same run, generate what is missing, judge and write
each case as it finishes, and keep the manifest true at every moment (running, interrupted, complete,
partial, failed). Detection and scoring live in scoring.judge; this module only orchestrates."""
import hashlib
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from harness import episodes
from harness.backends import backend_class
from harness.backends.base import Backend, Generation, Request
from harness.backends.replay import generation_from_record
from harness.conversation import assistant_turns
from harness.errors import BackendUnavailable, InputError
from harness.models import ModelSpec
from harness.records import Manifest, Record
from harness.results import (RESULTS, RecordWriter, RunLock, RunWriteError, read_manifest, read_records,
                             write_manifest)
from harness.scoring import judge
from harness.suite import Suite

# A backend that keeps failing stops the run: this many backend errors in a row, or every one of the first ones.
STOP_AFTER_CONSECUTIVE_ERRORS = 10
STOP_IF_FIRST_ALL_FAIL = 5
# Settings that change what a run measures; a resume must match them all (batch size and concurrency do not).
NOT_IDENTITY_OPTIONS = ("batch_size", "concurrency", "suite", "headers", "timeout_s", "reply_timeout_s", "max_retries",
                        "backoff_s")  # how to reach a backend, not what it measures; suite_sha256 covers the suite


@dataclass
class RunOutcome:
    """How a run invocation ended: its folder, what it generated and resumed, its status."""
    run_dir: Path
    generated: int  # records written in this invocation
    resumed: int  # judged records already in the folder
    status: str
    expected: int  # cases x samples


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_run_dir(out: str | Path, suite: Suite, spec: ModelSpec) -> Path:
    """A new folder, created atomically: two runs started in the same second never share one."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in spec.name)
    Path(out).mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = Path(out) / f"{suite.name}-{safe}-{stamp}{'' if n == 1 else f'-{n}'}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise InputError(f"{out}: could not create a new run folder; give --run-dir")


def case_seed(base: int, case_id: str, sample: int) -> int:
    """Each case and sample samples from its own seed, so batched and sequential runs draw the same tokens."""
    digest = hashlib.sha256(f"{base}\0{case_id}\0{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def run_identity(suite: Suite, spec: ModelSpec, samples: int, backend: Backend) -> dict:
    """Everything that decides what a run measures; resuming with any of it changed would mix two runs."""
    return {
        "suite_sha256": suite.sha256,
        "model": {"name": spec.name, "backend": spec.backend, **backend.identity()},
        "sampler": spec.sampler(),
        "chat_template_kwargs": spec.chat_template_kwargs,
        "extra_eos_tokens": spec.extra_eos_tokens,
        "options": {k: v for k, v in sorted(spec.options.items()) if k not in NOT_IDENTITY_OPTIONS},
        "samples": samples,
    }


def identity_changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changes += identity_changes(a, b, f"{prefix}{key}.")
        elif a != b:
            changes.append(f"{prefix}{key}: {_short(a)} -> {_short(b)}")
    return changes


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_same_run(old: Manifest | None, identity: dict, suite: Suite, spec: ModelSpec, run_dir: Path) -> None:
    if old is None:
        return
    if not old.identity:  # written by the first version: it kept only the suite hash and the model name
        if old.suite.get("sha256") != suite.sha256 or old.model.get("name") != spec.name:
            raise InputError(f"{run_dir}: holds a run of suite '{old.suite.get('name')}' on model "
                             f"'{old.model.get('name')}'; use a new --run-dir to start afresh")
        return
    changes = identity_changes(old.identity, identity)
    if changes:
        raise InputError(f"{run_dir}: this folder holds another run ({'; '.join(changes[:4])}"
                         f"{'; ...' if len(changes) > 4 else ''}); use a new --run-dir to start afresh, or rerun "
                         f"with the original settings to resume")


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("toolcall-harness", "mlx", "mlx-lm", "transformers"):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return found


def coverage(suite: Suite, samples: int, records: list[Record]) -> dict:
    expected = {(c.id, s) for c in suite.cases for s in range(samples)}
    judged = {r.key for r in records if r.key in expected and not r.not_judged}
    not_judged = {r.key for r in records if r.key in expected and r.not_judged}
    return {"expected": len(expected), "judged": len(judged), "not_judged": len(not_judged - judged)}


def final_status(cov: dict) -> str:
    """complete only when every case x sample has a judged record."""
    return "complete" if cov["judged"] == cov["expected"] else "partial"


class Progress:
    """One self-rewriting stderr line: done/total, throughput and time left."""

    def __init__(self, total: int, done: int, enabled: bool):
        # a redrawn line is noise in CI logs, so draw only on a terminal
        self.total, self.done, self.enabled = total, done, enabled and total > 0 and sys.stderr.isatty()
        self.start, self.new, self.drawn = time.perf_counter(), 0, 0.0

    def step(self, label: str) -> None:
        self.done += 1
        self.new += 1
        if not self.enabled:
            return
        now_s = time.perf_counter()
        if now_s - self.drawn < 0.1 and self.done < self.total:
            return
        self.drawn, elapsed = now_s, now_s - self.start
        rate = self.new / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate else 0.0
        width = 24
        filled = int(width * self.done / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                         f"{rate:.2f} cases/s, {left:.0f}s left  {label[:30]:<30}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


class ErrorStreak:
    """Decides when backend errors mean the backend is gone rather than a few cases failing."""

    def __init__(self):
        self.seen = self.errors = self.in_a_row = 0

    def add(self, record: Record) -> str | None:
        self.seen += 1
        failed = record.reason == "backend_error"
        self.errors += failed
        self.in_a_row = self.in_a_row + 1 if failed else 0
        if self.in_a_row >= STOP_AFTER_CONSECUTIVE_ERRORS:
            return f"{self.in_a_row} backend errors in a row"
        if self.seen == STOP_IF_FIRST_ALL_FAIL and self.errors == self.seen:
            return f"the first {self.seen} cases all ended in a backend error"
        return None


def _judges_turn(record: Record, turn: int | None) -> bool:
    """Whether the record's verdict is about the request at `turn` (the one probed): a one-turn case, that
    turn of a rollout, or a rollout whose first failed turn it is; a later turn had other messages before it."""
    if record.episode is None:
        return True
    return (record.turn if record.is_turn else record.first_failed_turn) == turn


def run(suite: Suite, spec: ModelSpec, run_dir: Path, samples: int = 1, progress: bool = True,
        warn=lambda line: print(f"warning: {line}", file=sys.stderr, flush=True), probe: bool = False) -> RunOutcome:
    """`probe` (harness run --probe): before generating, measure each case's p_call (of its first request)
    and keep it in the records judging that request."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with RunLock(run_dir):
        return _run_locked(suite, spec, run_dir, samples, progress, warn, probe)


def _run_locked(suite: Suite, spec: ModelSpec, run_dir: Path, samples: int, progress: bool, warn,
                probe: bool = False) -> RunOutcome:
    old = read_manifest(run_dir)
    backend = backend_class(spec.backend, spec.source)(spec)
    identity = run_identity(suite, spec, samples, backend)
    check_same_run(old, identity, suite, spec, run_dir)
    records = read_records(run_dir)
    # backend errors are not measurements: a resumed run tries those cases again
    done = {r.key for r in records if not r.not_judged}
    by_id = {c.id: c for c in suite.cases}
    requests = [Request(c, s, case_seed(spec.seed, c.id, s), turn=assistant_turns(c.messages))
                for s in range(samples) for c in suite.cases if (c.id, s) not in done]
    expected = len(suite.cases) * samples
    if not requests:  # a run killed after its last record: finalize what the folder holds
        cov = coverage(suite, samples, records)
        if old is not None and (old.status != final_status(cov) or old.coverage != cov):
            old.status, old.coverage, old.finished_at = final_status(cov), cov, old.finished_at or now()
            write_manifest(run_dir, old)
        return RunOutcome(run_dir, 0, len(done), old.status if old else final_status(cov), expected)

    with backend:
        loaded = backend.load()
        manifest = Manifest(
            run_dir=str(run_dir), status="running", started_at=(old.started_at if old else None) or now(),
            suite={"name": suite.name, "path": suite.path, "sha256": suite.sha256, "cases": len(suite.cases)},
            model={"name": spec.name, "backend": spec.backend, "source": spec.source, "load_s": loaded.load_s,
                   "size_bytes": loaded.size_bytes, "peak_memory_bytes": None, **loaded.details},
            sampler=backend.recorded_sampler() or spec.sampler(), samples=samples, identity=identity,
            warnings=backend.setup_warnings() + sampling_warnings(spec, samples),
            versions=_versions(), sessions=(old.sessions if old else 0) + 1,
            generation=old.generation if old else {})
        for line in manifest.warnings:
            warn(line)
        write_manifest(run_dir, manifest)
        writer = RecordWriter(run_dir / RESULTS)
        bar = Progress(expected, len(done), progress)
        streak, generated, status, tokens = ErrorStreak(), 0, "failed", 0
        t0 = time.perf_counter()
        try:
            # (case, sample) -> (the probed request's turn, its p_call)
            probed = {(r.case.id, r.sample): (r.turn, p.p_call) for r, p in zip(requests, backend.probe(requests))} \
                if probe else {}
            stream = _judged(backend, requests, by_id, manifest.sampler, records)
            for record in stream:
                turn, p_call = probed.get((record.id, record.sample), (None, None))
                if _judges_turn(record, turn):
                    record.p_call = p_call
                writer.write(record)
                records.append(record)
                generated += 1
                tokens += record.completion_tokens or 0
                if not record.is_turn:  # the bar counts cases; a rollout's turns are steps inside one
                    bar.step(record.id)
                stopped = streak.add(record)
                if stopped and backend.can_become_unavailable:
                    stream.close()  # no more requests to a backend that is gone
                    raise BackendUnavailable(f"{spec.source}: backend unavailable ({stopped}; last error: "
                                             f"{(record.error or '')[:200]}); the run stopped early. Check the server, "
                                             f"then resume with --run-dir {run_dir}")
            status = final_status(coverage(suite, samples, records))
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            bar.close()
            writer.close()
            manifest.status = status
            manifest.finished_at = now()
            manifest.coverage = coverage(suite, samples, list({r.key: r for r in records}.values()))
            manifest.model["peak_memory_bytes"] = backend.peak_memory_bytes()
            manifest.generation = {**manifest.generation, **backend.generation_details()}
            if "throughput" not in backend.generation_details():  # a replay keeps the original run's figures
                manifest.generation["throughput"] = throughput(manifest.generation.get("throughput"), tokens,
                                                               generated, time.perf_counter() - t0)
            _write_final(run_dir, manifest)
    return RunOutcome(run_dir, generated, len(done), status, expected)


def _judged(backend: Backend, requests: list[Request], by_id: dict, sampler: dict,
            records: list[Record]) -> Iterator[Record]:
    """Records as they are judged: cases of one turn from one generate() call, then the scripted
    rollouts turn by turn (episodes.py), resuming each from the turns `records` already hold."""
    single = [r for r in requests if not r.case.script]
    rollouts = [r for r in requests if r.case.script]
    for gen in backend.generate(single) if single else ():
        yield judge(by_id[gen.case_id], gen, sampler)
    if rollouts:
        yield from episodes.run_episodes(backend, rollouts, recorded_turns(records, by_id), sampler)


def recorded_turns(records: list[Record], by_id: dict) -> dict[tuple, Generation]:
    """Turns of unfinished episodes an earlier session judged: resuming replays them, not regenerates them."""
    return {r.key: generation_from_record(r.to_json(), Request(by_id[r.id], r.sample), r.timing)
            for r in records if r.is_turn and not r.not_judged and r.id in by_id}


def _write_final(run_dir: Path, manifest: Manifest) -> None:
    """Best effort: this runs while another error may be on its way out, and a full disk fails it too."""
    try:
        write_manifest(run_dir, manifest)
    except RunWriteError as e:
        print(f"warning: {e}; manifest.json may still say '{read_status(run_dir)}'", file=sys.stderr)


def read_status(run_dir: Path) -> str:
    try:
        old = read_manifest(run_dir)
    except InputError:
        return "damaged"
    return old.status if old else "missing"


def throughput(before: dict | None, tokens: int, cases: int, wall_s: float) -> dict:
    """Generated tokens per second of generation wall time, summed over the sessions that wrote the run."""
    before = before or {}
    tokens += before.get("generated_tokens", 0)
    cases += before.get("cases", 0)
    wall_s += before.get("wall_s", 0.0)
    return {"generated_tokens": tokens, "cases": cases, "wall_s": wall_s,
            "tokens_per_s": tokens / wall_s if wall_s > 0 else None,
            "cases_per_s": cases / wall_s if wall_s > 0 else None,
            "measured": "generated tokens / wall time of generation (all cases together)"}


def sampling_warnings(spec: ModelSpec, samples: int) -> list[str]:
    if samples > 1 and spec.temperature == 0:
        return [f"--samples {samples} at temperature 0: greedy decoding gives identical samples, so they add no "
                f"evidence; set temperature > 0 in the model entry to sample"]
    return []
