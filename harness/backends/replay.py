"""Serve recorded outputs instead of a model, so finished runs can be re-scored.

Reads JSONL lines of {"id", "output"} (optionally "sample", "tool_calls") or a previous run's
results.jsonl; a case with no recorded output becomes a backend error, never a model failure.
"""
import json
from pathlib import Path
from typing import Iterator

from harness.backends.base import Backend, Generation, LoadInfo, Request
from harness.errors import InputError
from harness.jsonl import json_lines

# Measurements copied from a recorded run so a re-scored report keeps them.
KEPT_FIELDS = ("prompt_sha256", "prompt_tokens", "completion_tokens", "latency_s", "ttft_s", "finish_reason")


def read_replay_file(path: Path) -> dict[tuple[str, int], dict]:
    if not path.is_file():
        raise InputError(f"{path}: no such replay file; give a JSONL of {{\"id\", \"output\"}} or a run's results.jsonl")
    recorded = {}
    with path.open(encoding="utf-8") as f:
        for lineno, rec in json_lines(f, str(path), 'each line must be {"id": ..., "output": ...}'):
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), str) or not isinstance(rec.get("output", ""), str):
                raise InputError(f"{path}:{lineno}: each line needs a string \"id\" and a string \"output\"")
            recorded[(rec["id"], int(rec.get("sample", 0)))] = rec
    return recorded


class ReplayBackend(Backend):
    can_become_unavailable = False  # a missing recorded output stays missing; no server to wait for
    option_keys = ("file",)
    required_keys = ("file",)

    def load(self) -> LoadInfo:
        path = Path(self.spec.options["file"])
        self.recorded = read_replay_file(path)
        manifest = path.parent / "manifest.json"
        info = LoadInfo(details={"replayed_from": str(path)})
        if manifest.is_file():  # a run folder: keep the original model's size and load time
            original = json.loads(manifest.read_text())
            info.load_s = original.get("model", {}).get("load_s")
            info.size_bytes = original.get("model", {}).get("size_bytes")
            info.details["original_model"] = original.get("model", {}).get("name")
        return info

    def generate(self, requests: list[Request]) -> Iterator[Generation]:
        for r in requests:
            rec = self.recorded.get((r.case.id, r.sample))
            if rec is None:
                yield Generation(case_id=r.case.id, sample=r.sample, output="", timing="replayed",
                                 error=f"no recorded output for case '{r.case.id}' sample {r.sample} in {self.spec.options['file']}")
                continue
            if rec.get("error"):  # a recorded backend error stays one
                yield Generation(case_id=r.case.id, sample=r.sample, output="", timing="replayed", error=rec["error"])
                continue
            kept = {k: rec[k] for k in KEPT_FIELDS if k in rec}
            yield Generation(case_id=r.case.id, sample=r.sample, output=rec.get("output", ""),
                             tool_calls=rec.get("tool_calls"), timing="replayed", **kept)
