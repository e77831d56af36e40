"""Serve recorded outputs instead of a model, so finished runs can be re-scored.

Reads JSONL lines of {"id", "output"} (optionally "sample", "tool_calls", and "turn": the assistant
turn of a multi-turn case, counted from 0) or a previous run's results.jsonl; a case with no recorded
output becomes a backend error, never a model failure. A line without "turn" answers a case's first
judged turn.
"""
from pathlib import Path
from typing import Iterator

from harness.backends.base import Backend, Generation, LoadInfo, Request
from harness.conversation import assistant_turns
from harness.errors import InputError
from harness.jsonl import json_lines
from harness.options import Option
from harness.results import RESULTS, read_manifest

# Measurements copied from a recorded run so a re-scored report keeps them.
KEPT_FIELDS = ("prompt_sha256", "prompt_tokens", "completion_tokens", "latency_s", "ttft_s", "finish_reason")


def read_replay_file(path: Path) -> dict[tuple[str, int, int | None], dict]:
    if not path.is_file():
        raise InputError(f"{path}: no such replay file; give a JSONL of {{\"id\", \"output\"}} or a run's results.jsonl")
    recorded = {}
    with path.open(encoding="utf-8") as f:
        for lineno, rec in json_lines(f, str(path), 'each line must be {"id": ..., "output": ...}'):
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str) or not isinstance(rec.get("output", ""), str):
                raise InputError(f"{path}:{lineno}: each line needs a string \"id\" and a string \"output\"")
            if rec.get("episode") is True:
                continue  # a run's episode verdict: its turns are the records that hold outputs
            turn = rec.get("turn")
            if turn is not None and (isinstance(turn, bool) or not isinstance(turn, int) or turn < 0):
                raise InputError(f"{path}:{lineno}: \"turn\" must be a whole number from 0 (the assistant turn), got {turn!r}")
            recorded[(rec["id"], int(rec.get("sample", 0)), turn)] = rec
    return recorded


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
    options = {"file": Option(str, "JSONL of {id, output} or a run's results.jsonl", required=True)}

    def load(self) -> LoadInfo:
        path = Path(self.spec.options["file"])
        self.recorded = read_replay_file(path)
        # a run's results.jsonl: keep the original model's size, load time, settings and throughput
        self.original = read_manifest(path.parent) if path.name == RESULTS else None
        info = LoadInfo(details={"replayed_from": str(path)})
        if self.original:
            info.load_s = self.original.model.get("load_s")
            info.size_bytes = self.original.model.get("size_bytes")
            info.details["original_model"] = self.original.model.get("name")
        return info

    def recorded_sampler(self) -> dict | None:
        return self.original.sampler if self.original and self.original.sampler else None

    def generation_details(self) -> dict:
        if self.original and self.original.generation:
            return {**self.original.generation, "replayed_from": self.spec.options["file"]}
        return {"mode": "replayed", "throughput": None}  # no generation happened, so no speed to report

    def generate(self, requests: list[Request]) -> Iterator[Generation]:
        for r in requests:
            rec = self.lookup(r)
            if rec is None:
                turn = f" turn {r.turn}" if r.turn else ""
                yield Generation(case_id=r.case.id, sample=r.sample, output="", timing="replayed",
                                 error=f"no recorded output for case '{r.case.id}' sample {r.sample}{turn} "
                                       f"in {self.spec.options['file']}")
                continue
            yield generation_from_record(rec, r, "replayed")

    def lookup(self, r: Request) -> dict | None:
        exact = self.recorded.get((r.case.id, r.sample, r.turn))
        if exact is not None or r.turn not in (None, assistant_turns(r.case.messages)):
            return exact
        return self.recorded.get((r.case.id, r.sample, None))
