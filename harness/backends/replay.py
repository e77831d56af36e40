"""Serve recorded outputs instead of a model, so finished runs can be re-scored.

Reads a JSONL of {"id", "output"} (optionally "sample", "tool_calls", "error" and the measurements in
KEPT_FIELDS), or a previous run: its folder or its results.jsonl. A case with no recorded output becomes
a backend error, never a model failure. Checked against the suite being run (spec.options["suite"]):
a duplicate output, a run of another suite or of an edited suite without case hashes is refused;
recorded ids that are not cases and outputs recorded for a changed case are counted as warnings. A
replayed run keeps the original run's sampler settings and figures.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from harness.backends.base import Backend, Generation, LoadInfo, Request
from harness.errors import InputError
from harness.jsonl import json_lines
from harness.models import check_value
from harness.results import RESULTS
from harness.runfiles import RECORD_FIELDS, field_problem, numbered_records, read_manifest
from harness.suite import Suite, load_suite

# Measurements copied from a recorded run so a re-scored report keeps them.
KEPT_FIELDS = ("prompt_sha256", "prompt_tokens", "completion_tokens", "latency_s", "ttft_s", "finish_reason")
LINE_FIELDS = {k: RECORD_FIELDS[k] for k in ("id", "output", "error", "tool_calls", "timing", "case_sha256",
                                             *KEPT_FIELDS)}
HINT = 'each line must be {"id": ..., "output": ...}'
TIMINGS = ("sequential", "batched", "concurrent", "replayed")
EXAMPLES = 3  # ids named in a warning


@dataclass
class Recording:
    path: Path  # the JSONL read
    outputs: dict[tuple[str, int], dict] = field(default_factory=dict)  # (id, sample) -> recorded line
    manifest: dict = field(default_factory=dict)  # the original run's, when a run was replayed


def read_recording(source: str | Path) -> Recording:
    """A replay file or a run (folder or results.jsonl); a duplicate output is an InputError naming both lines."""
    path = Path(source)
    if path.is_dir() and (path / RESULTS).is_file() or path.name == RESULTS and path.is_file():
        return _read_run(path / RESULTS if path.is_dir() else path)
    recording, first_line = Recording(path), {}
    for number, rec in json_lines(path, str(path), HINT, what="replay file"):
        problem = field_problem(rec, LINE_FIELDS, ("id",))
        if problem or not rec["id"] or "output" not in rec and not rec.get("error"):
            raise InputError(f"{path}:{number}: {problem or 'a non-empty id and an output are needed'}; {HINT}")
        key = (rec["id"], rec.get("sample", 0))
        if key in first_line:
            raise InputError(f"{path}:{number}: a second output for case '{key[0]}' sample {key[1]} (the first "
                             f"is on line {first_line[key]}); keep one output per case and sample")
        first_line[key] = number
        recording.outputs[key] = rec
    return recording


def _read_run(path: Path) -> Recording:
    """A run's records: a case retried on resume after a backend error has a later line that replaces it."""
    recording, first_line = Recording(path, manifest=read_manifest(path.parent)), {}
    records, _ = numbered_records(path)
    for number, rec in records:
        key = (rec["id"], rec.get("sample", 0))
        earlier = recording.outputs.get(key)
        if earlier is not None and not earlier.get("error"):
            raise InputError(f"{path}:{number}: a second record for case '{key[0]}' sample {key[1]} (the first "
                             f"is on line {first_line[key]}); delete one of the two lines")
        first_line[key] = number
        recording.outputs[key] = rec
    return recording


def check_against(recording: Recording, suite: Suite) -> list[str]:
    """Refuse a recording that cannot be of `suite`; the warnings (one line each) for what merely differs."""
    where, ids = recording.path, {c.id: c for c in suite.cases}
    recorded = {case_id for case_id, _ in recording.outputs}
    if not recorded:
        raise InputError(f"{where}: no recorded outputs; {HINT}")
    original = recording.manifest.get("suite", {})
    if original and original.get("name") != suite.name:
        raise InputError(f"{where}: a run of suite '{original.get('name')}', not of '{suite.name}' "
                         f"({suite.path}); replay it with its own suite file")
    if not recorded & ids.keys():
        raise InputError(f"{where}: none of its {len(recorded)} recorded case ids is a case of suite "
                         f"'{suite.name}' (e.g. '{min(recorded)}'); is it another suite's file?")
    hashed = [rec for rec in recording.outputs.values() if rec.get("case_sha256")]
    if original and original.get("sha256") != suite.sha256 and len(hashed) < len(recording.outputs):
        raise InputError(f"{where}: recorded with another version of {suite.path} (suite sha256 "
                         f"{str(original.get('sha256'))[:12]}…, now {suite.sha256[:12]}…) and its records carry "
                         f"no case hashes to tell which cases changed; replay it with the suite file as it was")
    warnings = []
    unknown = sorted(recorded - ids.keys())
    if unknown:
        warnings.append(f"replay: {len(unknown)} recorded case ids are not in suite '{suite.name}' and were "
                        f"ignored (e.g. {', '.join(unknown[:EXAMPLES])})")
    changed = sorted({rec["id"] for rec in hashed if rec["id"] in ids and rec["case_sha256"] != ids[rec["id"]].sha256})
    if changed:
        warnings.append(f"replay: {len(changed)} cases changed (messages, tools or expectation) since their "
                        f"outputs were recorded; old outputs are scored against the new cases "
                        f"(e.g. {', '.join(changed[:EXAMPLES])})")
    return warnings


class ReplayBackend(Backend):
    name = "replay"
    option_keys = ("file",)
    required_keys = ("file",)

    def load(self) -> LoadInfo:
        self.recording = read_recording(self.spec.options["file"])
        self.warnings = check_against(self.recording, load_suite(self.spec.options["suite"]))
        original = self.recording.manifest
        model = original.get("model", {})
        sampler = original.get("sampler") or _recorded_sampler(self.recording)
        # the outputs were generated with the original settings, so the replayed run states those
        for key in ("max_tokens", "temperature", "top_p", "seed"):
            if key in sampler:
                label = f"{self.recording.path}: the recorded sampler's '{key}'"
                setattr(self.spec, key, check_value(key, sampler[key], label))
        info = LoadInfo(load_s=model.get("load_s"), size_bytes=model.get("size_bytes"),
                        details={"replayed_from": str(self.recording.path)})
        if model:
            info.details["original_model"] = model.get("name")
        return info

    def setup_warnings(self) -> list[str]:
        return list(self.warnings)

    def generation_details(self) -> dict:
        """The original run's: its throughput and batch figures were measured there, not here."""
        return dict(self.recording.manifest.get("generation", {}))

    def peak_memory_bytes(self) -> int | None:
        return self.recording.manifest.get("model", {}).get("peak_memory_bytes")

    def generate(self, requests: list[Request]) -> Iterator[Generation]:
        for r in requests:
            rec = self.recording.outputs.get((r.case.id, r.sample))
            if rec is None:
                yield Generation(case_id=r.case.id, sample=r.sample, output="", timing="replayed",
                                 error=f"no recorded output for case '{r.case.id}' sample {r.sample} in "
                                       f"{self.recording.path}")
                continue
            # a run's records keep the timing mode their figures were measured in
            timing = rec["timing"] if rec.get("timing") in TIMINGS else "replayed"
            if rec.get("error"):  # a recorded backend error stays one
                yield Generation(case_id=r.case.id, sample=r.sample, output="", timing=timing, error=rec["error"])
                continue
            kept = {k: rec[k] for k in KEPT_FIELDS if k in rec}
            yield Generation(case_id=r.case.id, sample=r.sample, output=rec.get("output", ""),
                             tool_calls=rec.get("tool_calls"), timing=timing, **kept)


def _recorded_sampler(recording: Recording) -> dict:
    """The sampler every record states, when they agree (a results.jsonl without its manifest)."""
    samplers = {json.dumps(rec["sampler"], sort_keys=True) for rec in recording.outputs.values()
                if isinstance(rec.get("sampler"), dict)}
    return json.loads(samplers.pop()) if len(samplers) == 1 else {}
