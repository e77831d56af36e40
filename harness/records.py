"""The records a run writes, typed: `Record` (one line of results.jsonl per case x sample) and `Manifest`
(manifest.json). Both read back tolerantly: unknown fields are kept in `extra` and written again, a
missing optional field takes its default, and a wrong type is a `DamagedRecord` naming the field.
"""
from dataclasses import dataclass, field, fields
from typing import Any

from harness.detect.base import Detection, ToolCall

SCHEMA_VERSION = 2  # 1: the untyped dicts of the first version (same keys, no schema_version)
STATUSES = ("running", "interrupted", "complete", "partial", "failed")


class DamagedRecord(ValueError):
    """A results.jsonl line or manifest that is JSON but not a record: names the field that is wrong."""


@dataclass
class Record:
    """One case x sample: what was asked, what came back verbatim, what was found in it and the verdict."""
    id: str
    sample: int = 0
    category: str = ""
    tags: list[str] = field(default_factory=list)
    output: str = ""
    tool_calls: list | None = None  # structured calls an API returned beside the text
    detection: Detection = field(default_factory=Detection)
    passed: bool = False
    level: str | None = None  # first level that failed
    reason: str | None = None  # failure reason (scoring.REASONS), or backend_error / harness_error
    detail: str = ""
    decision: bool | None = None  # per-level results; None when the model was not judged
    tool: bool | None = None
    call: bool | None = None
    expect: Any = None  # the expectation as written in the suite, so the run can be re-scored
    expects_call: bool | None = None  # the one definition of "tool case" (expect.is_tool_expected)
    # what the reply does (harness/kinds.py) and what it invented, counted whatever the case expects
    response_kind: str | None = None  # call | answer | ask | decline | malformed | unsure; None before kinds
    kind_cue: str = ""  # what decided the kind, for people
    hallucinated_tools: list[str] = field(default_factory=list)  # called names the case did not offer
    hallucinated_arguments: list[str] = field(default_factory=list)  # "tool.arg" an offered schema lacks
    tools_offered: int | None = None  # how many tools the case offered; None before kinds
    latency_s: float | None = None
    ttft_s: float | None = None
    timing: str = "sequential"  # sequential | batched | concurrent | replayed
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None  # per-case decode speed: meaningful only when timing is sequential
    finish_reason: str | None = None
    error: str | None = None
    prompt_sha256: str | None = None
    sampler: dict = field(default_factory=dict)
    finished_at: str | None = None
    extra: dict = field(default_factory=dict)  # fields this version does not know, kept verbatim

    @property
    def key(self) -> tuple[str, int]:
        """What identifies a record in a run: its case id and sample number."""
        return self.id, self.sample

    @property
    def name(self) -> str:
        """The case id, with the sample number when there are several."""
        return self.id if not self.sample else f"{self.id}#{self.sample}"

    @property
    def not_judged(self) -> bool:
        """The backend or the harness failed, so the model was never judged: reported apart, retried on resume."""
        return self.reason in NOT_JUDGED

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["detection"] = self.detection.to_dict()
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, raw: Any) -> "Record":
        if not isinstance(raw, dict):
            raise DamagedRecord(f"a record must be a JSON object, got {type(raw).__name__}")
        values = _typed_fields(cls, raw, {"detection"})
        values["detection"] = detection_from_json(raw.get("detection"))
        return cls(**values)


# Reasons that mean the model was not judged: a backend that failed, or the harness's own fault.
NOT_JUDGED = ("backend_error", "harness_error")


@dataclass
class Manifest:
    """manifest.json: what ran, on what, how, and whether it finished."""
    run_dir: str = ""
    status: str = "running"
    started_at: str | None = None
    finished_at: str | None = None
    suite: dict = field(default_factory=dict)  # name, path, sha256, cases
    model: dict = field(default_factory=dict)  # name, backend, source, load_s, size_bytes, peak_memory_bytes, ...
    sampler: dict = field(default_factory=dict)
    samples: int = 1
    identity: dict = field(default_factory=dict)  # what a resume must match (runner.run_identity)
    warnings: list[str] = field(default_factory=list)
    versions: dict = field(default_factory=dict)
    sessions: int = 0  # how many invocations wrote this folder
    generation: dict = field(default_factory=dict)  # how the backend generated: mode, batch size, throughput
    coverage: dict = field(default_factory=dict)  # expected, judged, not_judged record counts
    schema_version: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, raw: Any) -> "Manifest":
        if not isinstance(raw, dict):
            raise DamagedRecord(f"a manifest must be a JSON object, got {type(raw).__name__}")
        manifest = cls(**_typed_fields(cls, raw, set()))
        manifest.schema_version = raw.get("schema_version", 1) if isinstance(raw.get("schema_version", 1), int) else 1
        return manifest


def detection_from_json(raw: Any) -> Detection:
    if raw is None:
        return Detection()
    if not isinstance(raw, dict):
        raise DamagedRecord(f"field 'detection' must be an object, got {type(raw).__name__}")
    calls = raw.get("calls") or []
    if not isinstance(calls, list) or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls):
        raise DamagedRecord("field 'detection.calls' must be a list of {name, arguments} objects")
    outcome = raw.get("outcome", "none")
    if outcome not in ("call", "malformed", "none"):
        raise DamagedRecord(f"field 'detection.outcome' must be call, malformed or none, got {outcome!r}")
    return Detection(calls=[ToolCall(c["name"], c.get("arguments")) for c in calls], format=raw.get("format"),
                     outcome=outcome, near_miss=raw.get("near_miss"))


# JSON types each annotated field accepts (ints are numbers; bool is not an int here).
_ACCEPTS = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float), "dict": (dict,), "list": (list,)}


def _typed_fields(cls, raw: dict, skip: set) -> dict:
    """Known fields checked against their annotations; unknown ones gathered into `extra`."""
    known = {f.name: f for f in fields(cls)}
    values: dict = {"extra": {k: v for k, v in raw.items() if k not in known}}
    for name, f in known.items():
        if name in skip or name == "extra" or name not in raw:
            continue
        value = raw[name]
        annotation = f.type.__name__ if isinstance(f.type, type) else str(f.type).replace("typing.", "")
        if not _accepts(annotation, value):
            raise DamagedRecord(f"field '{name}' must be {annotation}, got {value!r:.60}")
        values[name] = value
    if "id" in known and not isinstance(raw.get("id"), str):
        raise DamagedRecord("field 'id' must be a string")
    return values


def _accepts(annotation: str, value: Any) -> bool:
    if annotation == "Any":
        return True
    kinds = [k.strip().split("[")[0] for k in annotation.split("|")]
    if value is None:
        return "None" in kinds
    if isinstance(value, bool):
        return "bool" in kinds
    return any(isinstance(value, _ACCEPTS[k]) for k in kinds if k in _ACCEPTS)
