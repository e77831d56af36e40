"""Serve recorded outputs instead of a model, so finished runs can be re-scored.

Reads a JSONL of {"id", "output"} (optionally "sample", "tool_calls", "error", the measurements in
KEPT_FIELDS, and "turn": the assistant turn of a multi-turn case, counted from 0), or a previous run: its
folder or its results.jsonl. A line without "turn" answers a case's first judged turn; a case with no
recorded output becomes a backend error, never a model failure. A second output for one case, sample
and turn is refused. Against the suite being run (spec.options["suite"], set by `harness run`): a run
of another suite, or of an edited suite without case hashes, is refused; recorded ids that are not
cases and outputs recorded for a changed case are warnings with counts. A replayed run keeps the
original run's sampler settings and figures.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from harness.backends.base import Backend, Generation, LoadInfo, Request
from harness.conversation import assistant_turns
from harness.errors import InputError
from harness.jsonl import json_lines
from harness.options import Option
from harness.records import DamagedRecord, Manifest, Record
from harness.results import RESULTS, read_manifest
from harness.runfiles import numbered_records
from harness.suite import Suite, load_suite

# Measurements copied from a recorded run so a re-scored report keeps them.
KEPT_FIELDS = ("prompt_sha256", "prompt_tokens", "completion_tokens", "latency_s", "ttft_s", "finish_reason")
HINT = 'each line must be {"id": ..., "output": ...}'
EXAMPLES = 3  # ids named in a warning

Key = tuple[str, int, int | None]  # case id, sample, assistant turn (None: the case's first judged turn)


@dataclass
class Recording:
    """The outputs of a replay file or run, by case, sample and turn."""
    path: Path  # the JSONL read
    outputs: dict[Key, dict] = field(default_factory=dict)  # what was recorded, type-checked as a Record
    manifest: Manifest | None = None  # the original run's, when a run folder was replayed


def read_recording(source: str | Path) -> Recording:
    """A replay file or a run (folder or results.jsonl); a second output for one case, sample and turn is
    an InputError naming both lines."""
    path = Path(source)
    if path.is_dir() and (path / RESULTS).is_file() or path.name == RESULTS and path.is_file():
        return _read_run(path / RESULTS if path.is_dir() else path)
    recording, first_line = Recording(path), {}
    for number, raw in json_lines(path, str(path), HINT, what="replay file"):
        try:
            rec = Record.from_json(raw)  # the same field types a run's records have
        except DamagedRecord as e:
            raise InputError(f"{path}:{number}: {e}; {HINT}") from None
        if not rec.id or "output" not in raw and not rec.error or rec.sample < 0 or (rec.turn or 0) < 0:
            raise InputError(f"{path}:{number}: a non-empty id, an output, and a sample and turn of 0 or more are "
                             f"needed; {HINT}")
        key = (rec.id, rec.sample, rec.turn)
        if key in first_line:
            raise InputError(f"{path}:{number}: a second output for case '{rec.id}' sample {rec.sample}"
                             f"{_turn(rec.turn)} (the first is on line {first_line[key]}); keep one per case and sample")
        first_line[key] = number
        recording.outputs[key] = raw
    return recording


def _read_run(path: Path) -> Recording:
    """A run's records: a case retried on resume (after a backend error) has a later line that replaces it;
    an episode's verdict is skipped, its turns hold the outputs."""
    recording, first_line = Recording(path, manifest=read_manifest(path.parent)), {}
    records, _ = numbered_records(path)
    for number, rec in records:
        if rec.episode is True:
            continue
        key = (rec.id, rec.sample, rec.turn)
        earlier = recording.outputs.get(key)
        if earlier is not None and earlier.get("reason") not in ("backend_error", "harness_error"):
            raise InputError(f"{path}:{number}: a second record for case '{rec.id}' sample {rec.sample}"
                             f"{_turn(rec.turn)} (the first is on line {first_line[key]}); delete one of the two lines")
        first_line[key] = number
        recording.outputs[key] = rec.to_json()
    return recording


def _turn(turn: int | None) -> str:
    return "" if turn is None else f" turn {turn}"


def check_against(recording: Recording, suite: Suite) -> list[str]:
    """Refuse a recording that cannot be of `suite`; the warnings (one line each) for what merely differs."""
    where, cases = recording.path, {c.id: c for c in suite.cases}
    recorded = {case_id for case_id, _, _ in recording.outputs}
    if not recorded:
        raise InputError(f"{where}: no recorded outputs; {HINT}")
    original = recording.manifest.suite if recording.manifest else {}
    if original and original.get("name") != suite.name:
        raise InputError(f"{where}: a run of suite '{original.get('name')}', not of '{suite.name}' "
                         f"({suite.path}); replay it with its own suite file")
    if not recorded & cases.keys():
        raise InputError(f"{where}: none of its {len(recorded)} recorded case ids is a case of suite "
                         f"'{suite.name}' (e.g. '{min(recorded)}'); is it another suite's file?")
    hashed = [rec for rec in recording.outputs.values() if rec.get("case_sha256")]
    if original and original.get("sha256") != suite.sha256 and len(hashed) < len(recording.outputs):
        raise InputError(f"{where}: recorded with another version of {suite.path} (suite sha256 "
                         f"{str(original.get('sha256'))[:12]}…, now {suite.sha256[:12]}…) and its records carry "
                         f"no case hashes to tell which cases changed; replay it with the suite file as it was")
    warnings = []
    unknown = sorted(recorded - cases.keys())
    if unknown:
        warnings.append(f"replay: {len(unknown)} recorded case ids are not in suite '{suite.name}' and were "
                        f"ignored (e.g. {', '.join(unknown[:EXAMPLES])})")
    changed = sorted({r["id"] for r in hashed if r["id"] in cases and r["case_sha256"] != cases[r["id"]].sha256})
    if changed:
        warnings.append(f"replay: {len(changed)} cases changed (messages, tools or expectation) since their "
                        f"outputs were recorded; old outputs are scored against the new cases "
                        f"(e.g. {', '.join(changed[:EXAMPLES])})")
    return warnings


def generation_from_record(rec: dict, request: Request, timing: str) -> Generation:
    """The Generation a recorded line stands for; a recorded backend error stays one."""
    if rec.get("error"):
        return Generation(case_id=request.case.id, sample=request.sample, output="", timing=timing, error=rec["error"])
    kept = {k: rec[k] for k in KEPT_FIELDS if k in rec}
    output = rec.get("output", "")
    return Generation(case_id=request.case.id, sample=request.sample, output=output if isinstance(output, str) else "",
                      tool_calls=rec.get("tool_calls"), timing=timing, sampler=rec.get("sampler"), **kept)


class ReplayBackend(Backend):
    can_become_unavailable = False  # a missing recorded output stays missing; no server to wait for
    options = {"file": Option(str, "JSONL of {id, output} or a run (its folder or results.jsonl)", required=True)}

    def load(self) -> LoadInfo:
        self.recording = read_recording(self.spec.options["file"])
        suite = self.spec.options.get("suite")  # `harness run` names it; a caller without one skips the checks
        self.warnings = check_against(self.recording, load_suite(suite)) if suite else []
        info = LoadInfo(details={"replayed_from": str(self.recording.path)})
        if original := self.recording.manifest:  # keep the original model's size and load time
            info.load_s = original.model.get("load_s")
            info.size_bytes = original.model.get("size_bytes")
            info.details["original_model"] = original.model.get("name")
        return info

    def recorded_sampler(self) -> dict | None:
        """The original run's; for a results.jsonl without its manifest, the one every record states."""
        if self.recording.manifest and self.recording.manifest.sampler:
            return self.recording.manifest.sampler
        samplers = {json.dumps(r["sampler"], sort_keys=True) for r in self.recording.outputs.values() if r.get("sampler")}
        return json.loads(samplers.pop()) if len(samplers) == 1 else None

    def setup_warnings(self) -> list[str]:
        return list(self.warnings)

    def generation_details(self) -> dict:
        original = self.recording.manifest
        if original and original.generation:  # its throughput and batch figures were measured there, not here
            return {**original.generation, "replayed_from": str(self.recording.path)}
        return {"mode": "replayed", "throughput": None}  # no generation happened, so no speed to report

    def peak_memory_bytes(self) -> int | None:
        return self.recording.manifest.model.get("peak_memory_bytes") if self.recording.manifest else None

    def generate(self, requests: list[Request]) -> Iterator[Generation]:
        for r in requests:
            rec = self.lookup(r)
            if rec is None:
                yield Generation(case_id=r.case.id, sample=r.sample, output="", timing="replayed",
                                 error=f"no recorded output for case '{r.case.id}' sample {r.sample}"
                                       f"{_turn(r.turn or None)} in {self.recording.path}")
                continue
            yield generation_from_record(rec, r, "replayed")

    def lookup(self, r: Request) -> dict | None:
        exact = self.recording.outputs.get((r.case.id, r.sample, r.turn))
        if exact is not None or r.turn not in (None, assistant_turns(r.case.messages)):
            return exact
        return self.recording.outputs.get((r.case.id, r.sample, None))
