"""Score one Detection against a case's Expectation: a Verdict per level with a failure reason.

Levels, each its own accuracy column: decision (called vs answered directly, as expected; for
answer/ask/decline expectations, the response kind), tool (right tool names as a multiset; "tool"
needs them offered), call (names and argument values under the matchers; for a direct
answer, its text under `answer`). A case that fails a level fails every level after it; a passing
direct case passes all three. In a conversation with tool turns, `history` (the calls made so far
and their results) binds from_result matchers and decides no_repeat and retry.
"""
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from harness.conversation import History, assistant_turns, bind_results, history, turn_facts
from harness.detect import detect
from harness.calls import Detection, ToolCall
from harness.detect.reasoning import split_reasoning
from harness.expect import JSON_TYPES, UNSET, CallExpect, Expectation, Matcher, is_tool_expected
from harness.kinds import Kind, classify, hallucinations, kind_mismatch, outcome_fields, tool_schemas
from harness.records import LEVELS, NOT_JUDGED, Record

if TYPE_CHECKING:  # only for annotations: scoring must not import the backend layer
    from harness.backends.base import Generation
    from harness.suite import Case

REASONS = ("no_call", "malformed_call", "unexpected_call", "wrong_tool", "wrong_count", "hallucinated_tool",
           "missing_argument", "unexpected_argument", "wrong_value", "wrong_type", "wrong_answer", "no_repeat",
           "unchanged_arguments", "no_ask", "vague_ask", "no_decline", "wrong_kind", "backend_error", "harness_error")
MAX_OUTPUT_CHARS = 4_000_000  # an output past this is cut in the record (flagged output_truncated)


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


def judge(case: "Case", gen: "Generation", sampler: dict, max_output_chars: int = MAX_OUTPUT_CHARS,
          kind: Kind | None = None) -> Record:
    """Detect the calls in one generation and score them against the case (its next assistant turn, after the
    gold prefix if it has one): the record the run keeps. `kind`: as the judge settled it (judge.py)."""
    detection, facts, before = Detection(), {}, history(case.messages)
    if gen.error is not None:
        verdict = not_judged("backend_error", gen.error)
    else:
        try:
            detection = detect_generation(gen, case.tools)
            verdict = score(case.expect, detection, case.tools, before, gen.output, kind)
            facts = turn_facts(detection.calls, gen.output, case.messages, before)
        except Exception as e:  # a detector or scorer bug must not pass for the model's malformed call
            detection, verdict = Detection(), not_judged("harness_error", f"{type(e).__name__}: {e}"[:300])
    return make_record(case, gen, sampler, detection, verdict, case.expect_raw, is_tool_expected(case.expect),
                       max_output_chars, kind=kind, turn=assistant_turns(case.messages), **facts)


def make_record(case: "Case", gen: "Generation", sampler: dict, detection: Detection, verdict: Verdict,
                expect_raw: Any, expects_call: bool, max_output_chars: int = MAX_OUTPUT_CHARS,
                kind: Kind | None = None, **turn) -> Record:
    """The record of one judged assistant turn; `turn` holds the multi-turn fields (turn, episode, facts)."""
    record = Record(
        id=case.id, sample=gen.sample, category=case.category, tags=case.tags,
        output=gen.output[:max_output_chars], tool_calls=gen.tool_calls, detection=detection,
        passed=verdict.passed, level=verdict.level, reason=verdict.reason, detail=verdict.detail,
        decision=verdict.decision, tool=verdict.tool, call=verdict.call,
        expect=expect_raw, expects_call=expects_call, **turn,
        **outcome_fields(gen.output, detection, case.tools, judged=verdict.reason not in NOT_JUDGED, kind=kind),
        latency_s=gen.latency_s, ttft_s=gen.ttft_s, timing=gen.timing,
        prompt_tokens=gen.prompt_tokens, completion_tokens=gen.completion_tokens,
        # per-case decode speed means something only when the case ran alone
        tokens_per_s=gen.completion_tokens / gen.latency_s
        if gen.timing == "sequential" and gen.completion_tokens and gen.latency_s else None,
        finish_reason=gen.finish_reason, error=gen.error, prompt_sha256=gen.prompt_sha256, case_sha256=case.sha256,
        sampler=gen.sampler or sampler,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if len(gen.output) > max_output_chars:
        record.extra["output_truncated"] = {"kept_chars": max_output_chars, "original_chars": len(gen.output)}
    elif gen.truncated_output:  # cut while reading, so the original length is unknown
        record.extra["output_truncated"] = {"kept_chars": len(gen.output), "original_chars": None}
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
          history: History | None = None, output: str = "", kind: Kind | None = None) -> Verdict:
    """`tools` (the case's tool schemas; None: not known) refines wrong_value into wrong_type and flags
    calls to tools not offered; `output` (the raw text) is read by `answer` and the response kinds."""
    history = history or History()
    verdict = _score(bind_results(expect, history), detection, tools, history, output, kind)
    if expect.no_repeat and (verdict.passed or verdict.level == "call"):
        repeated = [c.name for c in detection.calls if c.arguments is not None and history.is_repeat(c.name, c.arguments)]
        if repeated:
            return failed_verdict("call", "no_repeat", f"repeats an earlier call{_names_text(repeated)} with the same arguments")
    return verdict


def _score(expect: Expectation, detection: Detection, tools: list[dict] | None, history: History,
           output: str, kind: Kind | None) -> Verdict:
    if expect.kind == "any_of":
        # the alternative that got furthest explains the failure best; max keeps the first of ties
        verdicts = [score(alt, detection, tools, history, output, kind) for alt in expect.alternatives]
        return max(verdicts, key=lambda v: (v.decision, v.tool, v.call))
    if expect.kind == "response":
        miss = kind_mismatch(expect.response, expect.about, kind or classify(output, detection, tools), tools)
        return failed_verdict("decision", *miss) if miss else passed_verdict()
    names = [c.name for c in detection.calls]
    if expect.kind == "any":
        if detection.outcome == "malformed":
            return failed_verdict("call", "malformed_call", f"the call was cut off or unparseable{_names_text(names)}")
        return passed_verdict()
    if not is_tool_expected(expect):
        if detection.outcome == "none":
            return _answer_verdict(expect, output)
        if detection.outcome == "malformed":
            return failed_verdict("decision", "malformed_call",
                           f"expected a direct answer, got a malformed call{_names_text(names)}")
        return failed_verdict("decision", "unexpected_call",
                       f"expected a direct answer, got a call{_names_text(names)}")
    if detection.outcome == "none":
        near = f" (near miss: {detection.near_miss})" if detection.near_miss else ""
        return failed_verdict("decision", "no_call", f"expected a call, got a direct answer{near}")
    if expect.kind == "tool":
        # named expectations fail an invented tool as wrong_tool already; records count it either way
        if tools is not None and (invented := hallucinations(detection, tools).tools):
            return failed_verdict("tool", "hallucinated_tool", f"called {', '.join(map(repr, invented))}, not offered")
        if detection.outcome == "call":
            return passed_verdict()
        level = "call" if names else "tool"  # was at least one name complete?
        return failed_verdict(level, "malformed_call", f"the call was cut off or unparseable{_names_text(names)}")
    if expect.kind == "retry":
        return _retry_verdict(expect, detection, history)
    expected_names = [c.name for c in expect.calls]
    if Counter(names) != Counter(expected_names):
        if detection.outcome == "malformed":
            reason = "malformed_call"
        else:
            reason = "wrong_count" if len(names) != len(expected_names) else "wrong_tool"
        return failed_verdict("tool", reason, f"expected {_calls_text(expected_names)}, got {_calls_text(names)}")
    cut = [c.name for c in detection.calls if c.arguments is None]
    if detection.outcome == "malformed" or cut:
        return failed_verdict("call", "malformed_call",
                       f"the arguments were cut off or unparseable{_names_text(cut or names)}")
    mismatch = _match_calls(expect, detection.calls, tool_schemas(tools))
    if mismatch:
        return failed_verdict("call", mismatch.reason, mismatch.detail)
    return passed_verdict()


def _answer_verdict(expect: Expectation, output: str) -> Verdict:
    if expect.answer is None:
        return passed_verdict()
    text = split_reasoning(output).visible  # an answer is what the user sees, not the reasoning
    missing = [c for c in expect.answer.contains if c not in text]
    if missing:
        return failed_verdict("call", "wrong_answer", f"the answer does not contain {', '.join(map(repr, missing))}")
    if expect.answer.regex is not None and not re.search(expect.answer.regex, text):
        return failed_verdict("call", "wrong_answer", f"the answer does not match /{expect.answer.regex}/")
    return passed_verdict()


def _retry_verdict(expect: Expectation, detection: Detection, history: History) -> Verdict:
    target = history.find(expect.retry) if expect.retry else (history.calls[-1] if history.calls else None)
    if target is None:
        return failed_verdict("decision", "no_call", f"there is no call {expect.retry or '(none made)'} to retry")
    if detection.outcome == "none":
        return failed_verdict("decision", "no_call", f"expected {target.name!r} called again with changed arguments, "
                                              "got a direct answer")
    again = [c for c in detection.calls if c.name == target.name]
    if not again:
        return failed_verdict("tool", "wrong_tool", f"expected {target.name!r} called again, "
                                             f"got {_calls_text([c.name for c in detection.calls])}")
    if any(c.arguments is None for c in again):
        return failed_verdict("call", "malformed_call", f"the arguments were cut off or unparseable{_names_text([target.name])}")
    if all(_equal(c.arguments, target.arguments, None) for c in again):
        return failed_verdict("call", "unchanged_arguments",
                       f"called {target.name!r} again with the arguments of {target.id} unchanged")
    return passed_verdict()


def match_call(e: CallExpect, call: ToolCall, tools: list[dict] | None, history: History) -> Mismatch | None:
    """One call against one expected call (script entries, rollout steps); None when it matches."""
    if call.name != e.name:
        return Mismatch("wrong_tool", f"expected a call to {e.name!r}, got {call.name!r}")
    if call.arguments is None:
        return Mismatch("malformed_call", f"the arguments of {call.name!r} were cut off or unparseable")
    bound = bind_results(Expectation("call", calls=[e]), history).calls[0]
    return _match_call(bound, call, tool_schemas(tools))


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
        matched = max_matching(ok)
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

    if m.unbound is not None:
        return Mismatch("wrong_value", f"argument {label!r}: expected {m.unbound}")
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


def max_matching(ok: list[list[bool]]) -> dict[int, int]:
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


def passed_verdict() -> Verdict:
    return Verdict(True, None, None, "", True, True, True)


def failed_verdict(level: str, reason: str, detail: str) -> Verdict:
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
