"""Score one Detection against a case's Expectation: a Verdict per level with a failure reason.

Levels, each its own accuracy column: decision (called vs answered directly, as expected; for
answer/ask/decline expectations, the response kind), tool (right tool names as a multiset, all of
them offered), call (names and argument values under the matchers). A case that fails a level fails
every level after it; a passing case without a call passes all three.
"""
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from harness.detect import detect
from harness.detect.base import Detection, ToolCall
from harness.expect import JSON_TYPES, UNSET, CallExpect, Expectation, Matcher, is_tool_expected
from harness.kinds import Kind, classify, hallucinations, mentioned_parameters
from harness.records import Record

if TYPE_CHECKING:  # only for annotations: scoring must not import the backend layer
    from harness.backends.base import Generation
    from harness.suite import Case

REASONS = ("no_call", "malformed_call", "unexpected_call", "wrong_tool", "wrong_count", "hallucinated_tool",
           "missing_argument", "unexpected_argument", "wrong_value", "wrong_type", "no_ask", "vague_ask",
           "no_decline", "wrong_kind", "backend_error", "harness_error")
_KIND_MISSES = {"ask": "no_ask", "decline": "no_decline"}  # else wrong_kind
UNJUDGED = Kind("unsure", "not judged: nothing to classify")
MAX_OUTPUT_CHARS = 4_000_000  # an output past this is cut in the record (flagged output_truncated)
LEVELS = ("decision", "tool", "call")


@dataclass
class Verdict:
    passed: bool
    level: str | None  # first level that failed; None when passed or on a backend error
    reason: str | None  # one of REASONS
    detail: str  # a short sentence for people
    decision: bool | None  # per-level results; None only on a backend error
    tool: bool | None
    call: bool | None


@dataclass
class Mismatch:
    reason: str
    detail: str


def not_judged(reason: str, message: str) -> Verdict:
    """The backend (backend_error) or the harness (harness_error) failed, so the model was never judged:
    reported apart, counted at no level."""
    return Verdict(False, None, reason, message, None, None, None)


def judge(case: "Case", gen: "Generation", sampler: dict, max_output_chars: int = MAX_OUTPUT_CHARS) -> Record:
    """Detect the calls in one generation and score them against the case: the record the run keeps."""
    detection, kind = Detection(), UNJUDGED
    if gen.error is not None:
        verdict = not_judged("backend_error", gen.error)
    else:
        try:
            detection = detect_generation(gen, case.tools)
            kind = classify(gen.output, detection, case.tools)
            verdict = score(case.expect, detection, case.tools, kind)
        except Exception as e:  # a detector or scorer bug must not pass for the model's malformed call
            detection, verdict = Detection(), not_judged("harness_error", f"{type(e).__name__}: {e}"[:300])
            kind = UNJUDGED
    found = hallucinations(detection, case.tools)
    record = Record(
        id=case.id, sample=gen.sample, category=case.category, tags=case.tags,
        output=gen.output[:max_output_chars], tool_calls=gen.tool_calls, detection=detection,
        passed=verdict.passed, level=verdict.level, reason=verdict.reason, detail=verdict.detail,
        decision=verdict.decision, tool=verdict.tool, call=verdict.call,
        expect=case.expect_raw, expects_call=is_tool_expected(case.expect),
        latency_s=gen.latency_s, ttft_s=gen.ttft_s, timing=gen.timing,
        prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens,
        # per-case decode speed means something only when the case ran alone
        tokens_per_s=gen.completion_tokens / gen.latency_s
        if gen.timing == "sequential" and gen.completion_tokens and gen.latency_s else None,
        finish_reason=gen.finish_reason, error=gen.error, prompt_sha256=gen.prompt_sha256, sampler=sampler,
        response_kind=kind.kind, kind_cue=kind.cue, hallucinated_tools=found.tools,
        hallucinated_arguments=found.arguments, tools_offered=found.offered,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if len(gen.output) > max_output_chars:
        record.extra["output_truncated"] = {"kept_chars": max_output_chars, "original_chars": len(gen.output)}
    return record


def detect_generation(gen: "Generation", tools: list[dict]) -> Detection:
    """Structured calls an API returned and calls written in the text are both evidence."""
    found = detect(gen.output, tools)
    if gen.tool_calls:
        native = detect(json.dumps({"tool_calls": gen.tool_calls}), tools)
        if native.calls:
            return native
    return found


def score(expect: Expectation, detection: Detection, tools: list[dict] | None = None,
          kind: Kind | None = None) -> Verdict:
    """`tools` (the case's tool schemas; None: not known) flags calls to tools not offered and refines
    wrong_value into wrong_type. `kind` is the output's classify() result, which answer/ask/decline
    expectations need (without it they see only the detection)."""
    if expect.kind == "any_of":
        kind = kind or classify(None, detection, tools)
        # the alternative that got furthest explains the failure best; max keeps the first of ties
        verdicts = [score(alt, detection, tools, kind) for alt in expect.alternatives]
        return max(verdicts, key=lambda v: (v.decision, v.tool, v.call))
    if expect.kind == "response":
        return _score_kind(expect, kind or classify(None, detection, tools), detection, tools)
    names = [c.name for c in detection.calls]
    if not is_tool_expected(expect):
        if detection.outcome == "none":
            return _passed()
        if detection.outcome == "malformed":
            return _failed("decision", "malformed_call",
                           f"expected a direct answer, got a malformed call{_names_text(names)}")
        return _failed("decision", "unexpected_call",
                       f"expected a direct answer, got a call{_names_text(names)}")
    if detection.outcome == "none":
        near = f" (near miss: {detection.near_miss})" if detection.near_miss else ""
        return _failed("decision", "no_call", f"expected a call, got a direct answer{near}")
    if expect.kind == "tool":
        # named expectations already fail an invented tool as wrong_tool; records count it either way
        invented = hallucinations(detection, tools).tools if tools is not None else []
        if invented:
            return _failed("tool", "hallucinated_tool", f"called {_names_text(invented)[4:]}, not among the offered tools")
        if detection.outcome == "call":
            return _passed()
        level = "call" if names else "tool"  # was at least one name complete?
        return _failed(level, "malformed_call", f"the call was cut off or unparseable{_names_text(names)}")
    expected_names = [c.name for c in expect.calls]
    if Counter(names) != Counter(expected_names):
        if detection.outcome == "malformed":
            reason = "malformed_call"
        else:
            reason = "wrong_count" if len(names) != len(expected_names) else "wrong_tool"
        return _failed("tool", reason, f"expected {_calls_text(expected_names)}, got {_calls_text(names)}")
    cut = [c.name for c in detection.calls if c.arguments is None]
    if detection.outcome == "malformed" or cut:
        return _failed("call", "malformed_call",
                       f"the arguments were cut off or unparseable{_names_text(cut or names)}")
    mismatch = _match_calls(expect, detection.calls, _schemas(tools))
    if mismatch:
        return _failed("call", mismatch.reason, mismatch.detail)
    return _passed()


def _score_kind(expect: Expectation, kind: Kind, detection: Detection, tools: list[dict] | None) -> Verdict:
    """A response-kind expectation: decided at the decision level; a wrong call is a wrong decision."""
    want, got = expect.response, kind.kind
    if want == got:
        missing = [p for p in expect.about if not any(mentioned_parameters(s, tools, [p]) for s in kind.asks)]
        if missing:
            return _failed("decision", "vague_ask", f"asked, but not about {', '.join(map(repr, missing))}: {kind.cue}")
        return _passed()
    if want == "call":
        if got == "malformed":
            return _failed("decision", "malformed_call", f"the call was cut off or unparseable: {kind.cue}")
        return _failed("decision", "no_call", f"expected a call, got {_article(got)}: {kind.cue}")
    if got == "call":
        return _failed("decision", "unexpected_call", f"expected {_article(want)}, got a call{_names_text([c.name for c in detection.calls])}")
    if got == "malformed":
        return _failed("decision", "malformed_call", f"expected {_article(want)}, got a malformed call: {kind.cue}")
    return _failed("decision", _KIND_MISSES.get(want, "wrong_kind"), f"expected {_article(want)}, got {_article(got)}: {kind.cue}")


def _article(kind: str) -> str:
    return {"ask": "a question", "decline": "a refusal", "unsure": "an unclear reply"}.get(kind, f"an {kind}" if kind[0] in "aeiou" else f"a {kind}")


def _match_calls(expect: Expectation, got: list[ToolCall], schemas: dict) -> Mismatch | None:
    expected = expect.calls
    if expect.order == "exact":
        for e, g in zip(expected, got):
            if e.name != g.name:
                return Mismatch("wrong_tool", f"expected calls in the order {_calls_text([c.name for c in expected])}, "
                                              f"got {_calls_text([c.name for c in got])}")
        pairs = list(zip(expected, got))
    else:
        ok = [[e.name == g.name and _match_call(e, g, schemas) is None for g in got] for e in expected]
        matched = _max_matching(ok)
        if len(matched) == len(expected):
            return None
        # names agree as multisets, so an unmatched expected call has an unmatched namesake to blame
        i = next(i for i in range(len(expected)) if i not in matched)
        j = next(j for j, g in enumerate(got) if j not in matched.values() and g.name == expected[i].name)
        pairs = [(expected[i], got[j])]
    for e, g in pairs:
        mismatch = _match_call(e, g, schemas)
        if mismatch:
            if len(expected) > 1:
                mismatch.detail = f"call {e.name!r}: {mismatch.detail}"
            return mismatch
    return None


def _match_call(e: CallExpect, g: ToolCall, schemas: dict) -> Mismatch | None:
    if e.arguments is None:
        return None
    return _match_fields(e.arguments, e.extra_arguments, g.arguments, schemas.get(e.name), "")


def _match_fields(fields: dict[str, Matcher], extra: str, obj: dict, schema: dict | None,
                  prefix: str) -> Mismatch | None:
    """Missing and unexpected keys first (they explain more than a value), then the values."""
    props = (schema or {}).get("properties") or {}
    for key, m in fields.items():
        if key not in obj and not (m.optional or m.absent):
            return Mismatch("missing_argument", f"argument {prefix + key!r} is missing")
    for key, value in obj.items():
        if (key not in fields and extra == "forbid") or (key in fields and fields[key].absent):
            return Mismatch("unexpected_argument", f"unexpected argument {prefix + key!r} = {value!r}")
    for key, m in fields.items():
        if key in obj and not m.absent:
            mismatch = _match_value(m, obj[key], props.get(key), prefix + key)
            if mismatch:
                return mismatch
    return None


def _match_value(m: Matcher, value: Any, schema: dict | None, label: str) -> Mismatch | None:
    def wrong(reason: str, expected: str) -> Mismatch:
        return Mismatch(reason, f"argument {label!r}: expected {expected}, got {value!r}")

    if m.type is not None and not _is_type(value, m.type):
        return wrong("wrong_type", f"type {m.type}")
    if m.equals is not UNSET and not _equal(value, m.equals, None):
        return wrong(_literal_reason(value, [m.equals], schema), repr(m.equals))
    if m.one_of is not None and not any(_equal(value, x, m.normalize) for x in m.one_of):
        return wrong(_literal_reason(value, m.one_of, schema), f"one of {m.one_of!r}")
    if m.regex is not None or m.contains is not None:
        if not isinstance(value, str):
            return wrong("wrong_type", "a string")
        if m.regex is not None and not re.search(m.regex, value):
            return wrong("wrong_value", f"a match for /{m.regex}/")
        if m.contains is not None and m.contains not in value:
            return wrong("wrong_value", f"a string containing {m.contains!r}")
    if m.approx is not None:
        if not _is_type(value, "number"):
            return wrong("wrong_type", "a number")
        if abs(value - m.approx) > m.tol:
            return wrong("wrong_value", f"{m.approx!r} ± {m.tol!r}")
    if m.fields is not None:
        if not isinstance(value, dict):
            return wrong("wrong_type", "an object")
        mismatch = _match_fields(m.fields, m.extra_fields, value, schema, label + ".")
        if mismatch:
            return mismatch
    if m.items is not None:
        if not isinstance(value, list):
            return wrong("wrong_type", "an array")
        if len(value) != len(m.items):
            return wrong("wrong_value", f"{len(m.items)} items")
        item_schema = (schema or {}).get("items")
        for i, (item_matcher, item) in enumerate(zip(m.items, value)):
            mismatch = _match_value(item_matcher, item, item_schema, f"{label}[{i}]")
            if mismatch:
                return mismatch
    return None


def _literal_reason(value: Any, literals: list, schema: dict | None) -> str:
    """A value of another JSON type than every accepted literal (or the declared type) is a type error."""
    if _json_type(value) not in {_json_type(x) for x in literals}:
        return "wrong_type"
    declared = (schema or {}).get("type")
    declared = [declared] if isinstance(declared, str) else declared or []
    known = [t for t in declared if t in JSON_TYPES]
    if known and not any(_is_type(value, t) for t in known):
        return "wrong_type"
    return "wrong_value"


def _equal(a: Any, b: Any, normalize: str | None) -> bool:
    """JSON equality: 1 == 1.0 but true != 1; with normalize="bfcl", strings compare standardized."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return bfcl_standardize(a) == bfcl_standardize(b) if normalize else a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y, normalize) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k], normalize) for k in a)
    return a is None and b is None


def bfcl_standardize(text: str) -> str:
    """BFCL's standardize_string: drop spaces and ,./-_*^, lowercase, read ' as "."""
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _is_type(value: Any, json_type: str) -> bool:
    """JSON Schema semantics: 2.0 is an integer, true is not a number."""
    if json_type == "integer":
        return _json_type(value) == "number" and float(value).is_integer()
    return _json_type(value) == json_type


def _max_matching(ok: list[list[bool]]) -> dict[int, int]:
    """Maximum bipartite matching (Kuhn's augmenting paths): expected index -> got index."""
    owner: dict[int, int] = {}

    def augment(i: int, seen: set) -> bool:
        for j, good in enumerate(ok[i]):
            if good and j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(ok)):
        augment(i, set())
    return {i: j for j, i in owner.items()}


def _schemas(tools: list[dict] | None) -> dict[str, dict]:
    """Tool name -> its parameters schema; accepts flat and OpenAI-wrapped tool dicts."""
    schemas = {}
    for tool in tools or []:
        spec = tool.get("function", tool)
        if isinstance(spec, dict) and "name" in spec:
            schemas[spec["name"]] = spec.get("parameters") or {}
    return schemas


def _passed() -> Verdict:
    return Verdict(True, None, None, "", True, True, True)


def _failed(level: str, reason: str, detail: str) -> Verdict:
    reached = LEVELS.index(level)
    return Verdict(False, level, reason, detail, *(i < reached for i in range(len(LEVELS))))


def _names_text(names: list[str]) -> str:
    return f" to {', '.join(map(repr, names))}" if names else ""


def _calls_text(names: list[str]) -> str:
    if not names:
        return "no calls"
    if len(names) == 1:
        return f"a call to {names[0]!r}"
    return f"{len(names)} calls ({', '.join(map(repr, names))})"
