"""The records a run writes, typed: `Record` (one line of results.jsonl per case x sample) and `Manifest`
(manifest.json). Both read back tolerantly: unknown fields are kept in `extra` and written again, a
missing optional field takes its default, and a wrong type is a `DamagedRecord` naming the field.
"""
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Literal

import msgspec

from harness.calls import Detection, Outcome, ToolCall

SCHEMA_VERSION = 2  # 1: the untyped dicts of the first version (same keys, no schema_version)
STATUSES = ("running", "interrupted", "complete", "partial", "failed")
LEVELS = ("decision", "tool", "call")  # the verdict levels a record holds, each needing the one before
KINDS = ("call", "answer", "ask", "decline", "malformed", "unsure")  # response_kind values (harness/kinds.py)


class DamagedRecord(ValueError):
    """A results.jsonl line or manifest that is JSON but not a record: names the field that is wrong."""


class RecordNaming:
    """What a record of either shape (Record, RecordView) is called and whether the model was judged."""
    __slots__ = ()

    @property
    def key(self) -> tuple:
        """What identifies a record in a run: its case id and sample number, and for a turn inside a
        rollout also the turn (the rollout's verdict is its episode record, keyed like a case)."""
        return (self.id, self.sample, self.turn) if self.episode is False else (self.id, self.sample)

    @property
    def is_turn(self) -> bool:
        """One assistant turn of a scripted rollout, judged apart from its episode's verdict."""
        return self.episode is False

    @property
    def name(self) -> str:
        """The case id, with the sample number when there are several."""
        return self.id if not self.sample else f"{self.id}#{self.sample}"

    @property
    def not_judged(self) -> bool:
        """The backend or the harness failed, so the model was never judged: reported apart, retried on resume."""
        return self.reason in NOT_JUDGED


@dataclass
class Record(RecordNaming):
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
    # multi-turn (conversation.py, episodes.py): which turn, and what the turn did with earlier results
    turn: int | None = None  # the assistant turn judged, counted from 0 over the conversation
    episode: bool | None = None  # True: a rollout's verdict; False: one turn inside a rollout; None: a one-turn case
    repeat: bool | None = None  # the turn repeated a call already made with the same arguments
    after_result: bool | None = None  # the turn came right after a tool result ...
    used_result: bool | None = None  # ... and repeated a value of that result (conversation.uses_result)
    answered: list | None = None  # rollout turns: per call, its id and the script entry that answered it
    ended: str | None = None  # episodes: answer | max_turns | off_script | no_repeat | malformed_call | backend_error
    turns: int | None = None  # episodes: assistant turns taken
    first_failed_turn: int | None = None  # episodes: the first turn that failed (the diverging turn)
    calls: list | None = None  # episodes: the calls made, with their ids
    latency_s: float | None = None
    ttft_s: float | None = None
    timing: str = "sequential"  # sequential | batched | concurrent | replayed
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_per_s: float | None = None  # per-case decode speed: meaningful only when timing is sequential
    finish_reason: str | None = None
    error: str | None = None
    prompt_sha256: str | None = None
    case_sha256: str | None = None  # the case's messages, tools and expectation (suite.case_sha256)
    sampler: dict = field(default_factory=dict)
    finished_at: str | None = None
    p_call: float | None = None  # the model's probability of starting a call (harness run --probe; harness/probe.py)
    extra: dict = field(default_factory=dict)  # fields this version does not know, kept verbatim

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


# JSON types each annotation accepts (ints are numbers; a bool is neither an int nor a float here).
_ACCEPTS = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float), "dict": (dict,), "list": (list,)}


@cache
def _field_types(cls) -> dict[str, tuple[tuple, bool, str] | None]:
    """Field -> (accepted types, None allowed, annotation text), worked out once per class; None: anything."""
    out = {}
    for f in fields(cls):
        text = f.type.__name__ if isinstance(f.type, type) else str(f.type).replace("typing.", "")
        kinds = [k.strip().split("[")[0] for k in text.split("|")]
        known = tuple(t for k in kinds for t in _ACCEPTS.get(k, ()))
        out[f.name] = None if "Any" in kinds or not known else (known, "None" in kinds, text)
    return out


def _typed_fields(cls, raw: dict, skip: set) -> dict:
    """Known fields checked against their annotations; unknown ones gathered into `extra`."""
    types = _field_types(cls)
    values: dict = {"extra": {}}
    for name, value in raw.items():
        if name not in types or name == "extra":
            values["extra"][name] = value
            continue
        if name in skip:
            continue
        accepted = types[name]
        if accepted is not None and not (
                (value is None and accepted[1]) or
                (isinstance(value, accepted[0]) and (not isinstance(value, bool) or bool in accepted[0]))):
            raise DamagedRecord(f"field '{name}' must be {accepted[2]}, got {value!r:.60}")
        values[name] = value
    if "id" in types and not isinstance(raw.get("id"), str):
        raise DamagedRecord("field 'id' must be a string")
    return values


VIEW_OUTPUT_CHARS = 300  # of an output, in a RecordView: reports show excerpts; results.jsonl keeps it whole


# gc=False: decoded views hold no cycles, and 100k tracked objects made every collection crawl (5x the decode)
class CallView(msgspec.Struct, gc=False):
    name: str  # no arguments: no report reads them, and skipping them decodes faster


class DetectionView(msgspec.Struct, gc=False):
    outcome: Outcome = "none"  # Literal: msgspec hands back one shared string per value
    format: str | None = None
    near_miss: str | None = None
    calls: tuple[CallView, ...] = ()


# Tuples and untracked Structs keep a 100,000-record run small: an empty tuple is shared, an empty list is not.
class RecordView(msgspec.Struct, RecordNaming, kw_only=True, gc=False):
    """A record as reports read it: the fields reports use, the output cut to VIEW_OUTPUT_CHARS and the
    expectation kept as its JSON text (parsed on demand), so a 100,000-record run is summarized in little
    memory. Decoded and type-checked by msgspec in C."""
    id: str  # the fields without a default are required: a line lacking one is damaged
    sample: int = 0
    category: str
    output: str
    detection: DetectionView
    passed: bool
    level: Literal[LEVELS] | None = None
    reason: str | None = None
    detail: str = ""
    decision: bool | None = None
    tool: bool | None = None
    call: bool | None = None
    expect_json: msgspec.Raw = msgspec.field(default=msgspec.Raw(b"null"), name="expect")
    expects_call: bool | None = None
    turn: int | None = None
    episode: bool | None = None
    repeat: bool | None = None
    after_result: bool | None = None
    used_result: bool | None = None
    ended: str | None = None
    turns: int | None = None
    first_failed_turn: int | None = None
    p_call: float | None = None
    response_kind: str | None = None
    kind_cue: str = ""
    hallucinated_tools: tuple[str, ...] = ()
    hallucinated_arguments: tuple[str, ...] = ()
    tools_offered: int | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    timing: str = "sequential"
    completion_tokens: int | None = None
    tokens_per_s: float | None = None
    error: str | None = None

    @property
    def expect(self) -> Any:
        """The case's expectation as the record holds it (a string or a table)."""
        return msgspec.json.decode(self.expect_json)


VIEW_DECODER = msgspec.json.Decoder(RecordView)


def view_from_line(line: bytes) -> RecordView:
    try:
        view = VIEW_DECODER.decode(line)
    except msgspec.ValidationError as e:
        raise DamagedRecord(str(e)) from None
    except msgspec.DecodeError as e:
        raise ValueError(f"not JSON ({e})") from None
    return clip(view)


def clip(view: RecordView) -> RecordView:
    """Cut the output, let go of the decoded buffer (a Raw holds a view into the whole chunk) and share
    the strings that repeat across records (a category, a reason, a format), a third of a view's memory."""
    if len(view.output) > VIEW_OUTPUT_CHARS:
        view.output = view.output[:VIEW_OUTPUT_CHARS]
    view.expect_json = view.expect_json.copy()
    share = _SHARED.setdefault if len(_SHARED) < SHARED_MAX else _own
    view.category, view.timing = share(view.category, view.category), share(view.timing, view.timing)
    if view.reason is not None:
        view.reason = share(view.reason, view.reason)
    detection = view.detection
    if detection.format is not None:
        detection.format = share(detection.format, detection.format)
    for call in detection.calls:
        call.name = share(call.name, call.name)
    return view


_SHARED: dict[str, str] = {}
SHARED_MAX = 10_000  # distinct values shared: call names are the model's, so their number has no bound


def _own(value: str, _: str) -> str:
    return value
