"""Drive a run: resume what a run folder already holds, generate the rest, score and write each
case as it finishes, and keep the manifest true at every moment (running, interrupted, complete)."""
import json
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from harness.backends import backend_class
from harness.backends.base import Generation, Request
from harness.detect import Detection, detect
from harness.errors import InputError
from harness.kinds import Kind, classify, hallucinations
from harness.models import ModelSpec
from harness.results import (RESULTS, RecordWriter, is_backend_error, read_manifest, read_records, record_key,
                             write_manifest)
from harness.scoring import backend_error_verdict, score
from harness.suite import Case, Suite


@dataclass
class RunOutcome:
    run_dir: Path
    generated: int  # cases generated in this invocation
    resumed: int  # cases already in the folder


def default_run_dir(out: str | Path, suite: Suite, spec: ModelSpec) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in spec.name)
    return Path(out) / f"{suite.name}-{safe}-{stamp}"


def detect_generation(gen: Generation, tools: list[dict]) -> Detection:
    """Structured calls an API returned and calls written in the text are both evidence."""
    found = detect(gen.output, tools)
    if gen.tool_calls:
        native = detect(json.dumps({"tool_calls": gen.tool_calls}), tools)
        if native.calls:
            return native
    return found


def make_record(case: Case, gen: Generation, spec: ModelSpec) -> dict:
    if gen.error is not None:
        detection, verdict = Detection(), backend_error_verdict(gen.error)
        kind = Kind("unsure", "backend error: nothing was generated")
    else:
        detection = detect_generation(gen, case.tools)
        kind = classify(gen.output, detection, case.tools)
        verdict = score(case.expect, detection, case.tools, kind)
    tps = None
    if gen.completion_tokens and gen.latency_s:
        tps = gen.completion_tokens / gen.latency_s
    return {
        "id": case.id, "sample": gen.sample, "category": case.category, "tags": case.tags,
        "output": gen.output, "tool_calls": gen.tool_calls,
        "detection": detection.to_dict(),
        "passed": verdict.passed, "level": verdict.level, "reason": verdict.reason, "detail": verdict.detail,
        "decision": verdict.decision, "tool": verdict.tool, "call": verdict.call,
        "expect": case.expect_raw,
        **outcome_fields(kind, detection, case.tools),
        "latency_s": gen.latency_s, "ttft_s": gen.ttft_s, "timing": gen.timing,
        "prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.completion_tokens, "tokens_per_s": tps,
        "finish_reason": gen.finish_reason, "error": gen.error, "prompt_sha256": gen.prompt_sha256,
        "sampler": spec.sampler(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def outcome_fields(kind: Kind, detection: Detection, tools: list[dict]) -> dict:
    """The response kind and the hallucinations, counted whatever the case expects (issue 16)."""
    found = hallucinations(detection, tools)
    return {"response_kind": kind.kind, "kind_cue": kind.cue, "hallucinated_tools": found.tools,
            "hallucinated_arguments": found.arguments, "tools_offered": found.offered}


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("toolcall-harness", "mlx", "mlx-lm", "transformers"):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return found


def _check_same_run(manifest: dict, suite: Suite, spec: ModelSpec, run_dir: Path) -> None:
    if not manifest:
        return
    old_suite = manifest.get("suite", {}).get("sha256")
    old_model = manifest.get("model", {}).get("name")
    if old_suite != suite.sha256 or old_model != spec.name:
        raise InputError(f"{run_dir}: holds a run of suite '{manifest.get('suite', {}).get('name')}' on model "
                         f"'{old_model}' (or another version of the suite file); use a new --run-dir to start afresh")


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
        now = time.perf_counter()
        if now - self.drawn < 0.1 and self.done < self.total:
            return
        self.drawn, elapsed = now, now - self.start
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


def run(suite: Suite, spec: ModelSpec, run_dir: Path, samples: int = 1, progress: bool = True) -> RunOutcome:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(run_dir)
    _check_same_run(manifest, suite, spec, run_dir)
    # backend errors are not measurements: a resumed run tries those cases again
    done = {record_key(r) for r in read_records(run_dir) if not is_backend_error(r)}
    by_id = {c.id: c for c in suite.cases}
    requests = [Request(c, s) for s in range(samples) for c in suite.cases if (c.id, s) not in done]
    total = len(suite.cases) * samples
    if not requests:
        return RunOutcome(run_dir=run_dir, generated=0, resumed=len(done))

    backend = backend_class(spec.backend, spec.source)(spec)
    loaded = backend.load()
    manifest = {
        "run_dir": str(run_dir), "status": "running",
        "started_at": manifest.get("started_at") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished_at": None,
        "suite": {"name": suite.name, "path": suite.path, "sha256": suite.sha256, "cases": len(suite.cases)},
        "model": {"name": spec.name, "backend": spec.backend, "source": spec.source, "load_s": loaded.load_s,
                  "size_bytes": loaded.size_bytes, "peak_memory_bytes": None, **loaded.details},
        "sampler": spec.sampler(), "samples": samples,
        "warnings": backend.setup_warnings(),
        "versions": _versions(),
        "sessions": manifest.get("sessions", 0) + 1,  # how many invocations wrote this folder
    }
    write_manifest(run_dir, manifest)
    writer = RecordWriter(run_dir / RESULTS)
    bar = Progress(total, len(done), progress)
    generated, status = 0, "failed"
    try:
        for gen in backend.generate(requests):
            writer.write(make_record(by_id[gen.case_id], gen, spec))
            generated += 1
            bar.step(gen.case_id)
        status = "complete"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        bar.close()
        manifest["status"] = status
        writer.close()
        manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        manifest["model"]["peak_memory_bytes"] = backend.peak_memory_bytes()
        if details := backend.generation_details():
            manifest["generation"] = details
        write_manifest(run_dir, manifest)
        backend.close()
    return RunOutcome(run_dir=run_dir, generated=generated, resumed=len(done))

