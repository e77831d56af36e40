"""Scripted rollouts: generate, detect, answer each call from the case's script, and generate again,
until a direct answer, max_turns, or a call the script does not cover (off_script).

Every episode of a run advances one turn per backend.generate() round, so a batching backend
batches across episodes. Turns already recorded (a resumed run) are replayed from their recorded
outputs instead of generated, which reproduces the same conversation and verdicts.

Each turn is judged against what the episode still expects: the next step (order "exact") or any
remaining step (order "any") for a call, `final` for the answer once the steps are done. Calls get
ids call_1, call_2, … in the order they are made (skipping ids the case's messages already use).
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

from harness.backends.base import Backend, Generation, Request
from harness.conversation import History, PriorCall, call_message, history, template_call, tool_message, turn_facts
from harness.calls import Detection, ToolCall
from harness.expect import Expectation, is_tool_expected
from harness.records import Record
from harness.scoring import (LEVELS, Verdict, detect_generation, failed_verdict, make_record, match_call, max_matching,
                             not_judged, passed_verdict, score)
from harness.suite import Case, ScriptEntry

ENDS = ("answer", "max_turns", "off_script", "no_repeat", "malformed_call", "backend_error")


@dataclass
class Turn:
    """One assistant turn of an episode, judged."""
    case: Case
    sample: int
    turn: int  # assistant turns counted from 0 over the whole conversation
    generation: Generation
    detection: Detection
    verdict: Verdict
    expect: Expectation | None  # what this turn was held to (None on a backend error)
    facts: dict  # repeat, after_result, used_result, answered (the script's replies)
    reused: bool  # replayed from a record of an earlier session, not generated now


@dataclass
class Episode:
    """A multi-turn case being run: its turns so far, the calls made, the steps still expected."""
    case: Case
    sample: int
    seed: int | None
    history: History
    turn: int
    extra: list[dict] = field(default_factory=list)
    step: int = 0  # order "exact": the next step expected
    remaining: list[int] = field(default_factory=list)  # order "any": steps not yet made
    turns: list[Turn] = field(default_factory=list)
    end: str | None = None  # one of ENDS once over


@dataclass
class EpisodeVerdict:
    """How a multi-turn case ended, and each level's result over its turns."""
    case: Case
    sample: int
    passed: bool
    reason: str | None  # an ENDS reason other than "answer", or the first failed turn's reason
    detail: str
    level: str | None
    levels: dict  # decision / tool / call: every turn passed that level (None on a backend error)
    ended: str
    turns: int
    first_failed_turn: int | None
    calls: list[dict]
    output: str  # the last turn's output, verbatim


def start(request: Request) -> Episode:
    case = request.case
    return Episode(case, request.sample, request.seed, history(case.messages), turn=request.turn or 0,
                   remaining=list(range(len(case.expect.calls))))


def run_episodes(backend: Backend, requests: list[Request], recorded: dict[tuple, Generation],
                 sampler: dict, include_recorded: bool = False) -> Iterator[Record]:
    """Yield the record of every turn generated now (and with `include_recorded`, of the recorded ones
    too) and of every episode as it ends. `recorded` maps (case id, sample, turn) to the outputs of
    turns an earlier session (or the run being re-scored) already wrote."""
    for event in rollouts(backend, requests, recorded):
        if isinstance(event, EpisodeVerdict):
            yield episode_record(event, sampler)
        elif include_recorded or not event.reused:
            yield turn_record(event, sampler)


def rollouts(backend: Backend, requests: list[Request],
             recorded: dict[tuple, Generation]) -> Iterator["Turn | EpisodeVerdict"]:
    """Every turn as it is judged and every episode's verdict as it ends."""
    episodes = [start(r) for r in requests]
    while active := [e for e in episodes if e.end is None]:
        waiting = []
        for e in active:
            # catch up on recorded turns without the backend; the first unrecorded one joins the round
            while e.end is None and (gen := recorded.get((e.case.id, e.sample, e.turn))) is not None:
                yield from _advance(e, gen, reused=True)
            if e.end is None:
                waiting.append(e)
        by_key = {(e.case.id, e.sample): e for e in waiting}
        rounds = [Request(e.case, e.sample, e.seed, extra=list(e.extra), turn=e.turn) for e in waiting]
        for gen in backend.generate(rounds) if rounds else ():
            yield from _advance(by_key[(gen.case_id, gen.sample)], gen, reused=False)


def turn_record(t: Turn, sampler: dict) -> Record:
    """A turn keeps the episode's expectation as written; its verdict says what the turn was held to."""
    expects_call = is_tool_expected(t.expect) if t.expect else None
    return make_record(t.case, t.generation, sampler, t.detection, t.verdict, t.case.expect_raw,
                       expects_call, turn=t.turn, episode=False, **t.facts)


def episode_record(v: EpisodeVerdict, sampler: dict) -> Record:
    """A rollout's verdict: the record with "episode": true (its turns have "episode": false)."""
    case = v.case
    return Record(id=case.id, sample=v.sample, category=case.category, tags=case.tags, output=v.output,
                  passed=v.passed, level=v.level, reason=v.reason, detail=v.detail, **v.levels,
                  expect=case.expect_raw, expects_call=bool(case.expect.calls), episode=True, ended=v.ended,
                  turns=v.turns, first_failed_turn=v.first_failed_turn, calls=v.calls,
                  error=v.detail if v.reason == "backend_error" else None, sampler=sampler,
                  finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _advance(e: Episode, gen: Generation, reused: bool) -> Iterator[Turn | EpisodeVerdict]:
    turn = _judge(e, gen, reused)
    e.turns.append(turn)
    yield turn
    if e.end is not None:
        yield verdict(e)


def _judge(e: Episode, gen: Generation, reused: bool) -> Turn:
    case, expect = e.case, e.case.expect
    messages = case.messages + e.extra
    if gen.error is not None:
        e.end = "backend_error"
        return Turn(case, e.sample, e.turn, gen, Detection(), not_judged("backend_error", gen.error), None, {}, reused)
    detection = detect_generation(gen, case.tools)
    facts = turn_facts(detection.calls, gen.output, messages, e.history)
    if detection.outcome == "none":
        turn_expect = _answer_expectation(e)
        v = score(turn_expect, detection, case.tools, e.history, gen.output)
        e.end = "answer"
    else:
        turn_expect, v = _judge_calls(e, detection)
        if expect.no_repeat and facts["repeat"] and v.passed:
            v = failed_verdict("call", "no_repeat", "repeats an earlier call with the same arguments")
        facts["answered"] = _answer_calls(e, detection)
        if detection.outcome == "malformed":
            e.end = "malformed_call"
        elif expect.no_repeat and facts["repeat"]:
            e.end = "no_repeat"
        elif any(a["script"] is None for a in facts["answered"]):
            e.end = "off_script"
            if v.passed:
                off = [a["name"] for a in facts["answered"] if a["script"] is None]
                v = failed_verdict("call", "off_script", f"the script answers no call like {', '.join(map(repr, off))}")
    done = e.turn
    e.turn += 1
    if e.end is None and len(e.turns) + 1 >= case.max_turns:
        e.end = "max_turns"
    return Turn(case, e.sample, done, gen, detection, v, turn_expect, facts, reused)


def _answer_expectation(e: Episode) -> Expectation:
    """A direct answer is right once every step was made: then `final` (default "direct") judges it."""
    steps = e.case.expect.calls
    left = [steps[e.step]] if e.case.expect.order == "exact" and e.step < len(steps) else \
        [steps[i] for i in e.remaining] if e.case.expect.order == "any" else []
    if left:
        return Expectation("any_of", alternatives=[Expectation("call", calls=[s]) for s in left])
    return e.case.expect.final or Expectation("direct")


def _judge_calls(e: Episode, detection: Detection) -> tuple[Expectation, Verdict]:
    """A call turn against the steps it should make next; with no steps listed, any call is fine."""
    expect, calls = e.case.expect, detection.calls
    if not expect.calls:
        turn_expect = Expectation("tool")
        return turn_expect, score(turn_expect, detection, e.case.tools, e.history)
    if expect.order == "exact":
        expected = expect.calls[e.step:e.step + len(calls)]
        e.step += len(calls)
        if not expected:
            turn_expect = expect.final or Expectation("direct")
            return turn_expect, score(turn_expect, detection, e.case.tools, e.history)
        turn_expect = Expectation("calls", calls=expected)
        return turn_expect, score(turn_expect, detection, e.case.tools, e.history)
    left = [expect.calls[i] for i in e.remaining]
    ok = [[match_call(s, c, e.case.tools, e.history) is None for s in left] for c in calls]
    matched = max_matching(ok) if calls else {}
    turn_expect = Expectation("any_of", alternatives=[Expectation("call", calls=[s]) for s in left]) if left \
        else expect.final or Expectation("direct")
    e.remaining = [i for j, i in enumerate(e.remaining) if j not in matched.values()]
    if detection.outcome == "call" and len(matched) == len(calls):
        return turn_expect, passed_verdict()
    if not left or detection.outcome == "malformed":
        return turn_expect, score(turn_expect, detection, e.case.tools, e.history)
    unmatched = next(c for i, c in enumerate(calls) if i not in matched)
    near = [s for s in left if s.name == unmatched.name]
    if not near:
        return turn_expect, failed_verdict("tool", "wrong_tool", f"{unmatched.name!r} is none of the steps left "
                                                          f"({', '.join(repr(s.name) for s in left)})")
    mismatch = match_call(near[0], unmatched, e.case.tools, e.history)
    return turn_expect, failed_verdict("call", mismatch.reason, mismatch.detail)


def _answer_calls(e: Episode, detection: Detection) -> list[dict]:
    """Append the turn's calls and the script's replies to the conversation; say which entry answered."""
    answered, shaped, replies = [], [], []
    used = {c.id for c in e.history.calls}
    for call in detection.calls:
        if call.arguments is None:
            continue  # a cut-off call cannot be answered; the episode ends on it
        n = len(e.history.calls) + 1
        while f"call_{n}" in used:
            n += 1
        call_id = f"call_{n}"
        used.add(call_id)
        index, entry = _script_entry(e, call)
        reply = None if entry is None else entry.result if entry.result is not None else entry.error
        e.history.calls.append(PriorCall(call_id, call.name, call.arguments, e.turn, reply))
        shaped.append(template_call(call_id, call.name, call.arguments))
        if reply is not None:
            replies.append(tool_message(call_id, reply))
        answered.append({"id": call_id, "name": call.name, "script": index,
                         "error": entry is not None and entry.error is not None})
    if shaped:
        e.extra += [call_message(shaped)] + replies
    return answered


def _script_entry(e: Episode, call: ToolCall) -> tuple[int | None, ScriptEntry | None]:
    for i, entry in enumerate(e.case.script):
        if match_call(entry.call, call, e.case.tools, e.history) is None:
            return i, entry
    return None, None


def verdict(e: Episode) -> EpisodeVerdict:
    turns = e.turns
    failed = next((t for t in turns if not t.verdict.passed), None)
    calls = [{"id": c.id, "name": c.name, "arguments": c.arguments, "turn": c.turn} for c in e.history.calls
             if c.turn >= (turns[0].turn if turns else 0)]
    common = dict(case=e.case, sample=e.sample, ended=e.end, turns=len(turns), calls=calls,
                  first_failed_turn=failed.turn if failed else None, output=turns[-1].generation.output if turns else "")
    if e.end == "backend_error":
        v = turns[-1].verdict
        return EpisodeVerdict(passed=False, reason="backend_error", detail=v.detail, level=None,
                              levels=dict.fromkeys(LEVELS), **common)
    levels = {level: all(getattr(t.verdict, level) for t in turns) for level in LEVELS}
    if e.end == "answer" and failed is None:
        return EpisodeVerdict(passed=True, reason=None, detail="", level=None, levels=levels, **common)
    if all(levels.values()):  # every turn was right, yet the episode never finished
        levels["call"] = False
    level = next(level for level in LEVELS if not levels[level])
    reason = failed.verdict.reason if e.end == "answer" else e.end
    detail = _end_detail(e)
    if failed is not None:
        detail = f"{detail}; turn {failed.turn} first failed: {failed.verdict.reason}: {failed.verdict.detail}".lstrip("; ")
    return EpisodeVerdict(passed=False, reason=reason, detail=detail, level=level, levels=levels, **common)


def _end_detail(e: Episode) -> str:
    if e.end == "max_turns":
        return f"no direct answer within max_turns = {e.case.max_turns}"
    if e.end == "off_script":
        return "the model made a call the script does not answer"
    if e.end == "no_repeat":
        return "the model repeated a call it had already made with the same arguments"
    if e.end == "malformed_call":
        return "a call was cut off or unparseable, so it could not be answered"
    return ""
