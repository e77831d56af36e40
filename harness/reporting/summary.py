"""Summarise a run's records (pure: records and manifest in, Summary out; rendering lives in render.py).

Statistics are over cases, not records: with several samples per case, a case counts once with its pass
rate over its samples, so intervals do not narrow with repeats; pass@k (some sample passed), pass^k (all
passed) and the flip rate (samples disagree) say how stable the model is.
"""
from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter, truediv
from pathlib import Path

import msgspec

from harness.errors import InputError
from harness.expect import is_tool_expected, parse_expectation
from harness.records import LEVELS, NOT_JUDGED, Manifest, Record
from harness.reporting.stats import percentile, wilson
from harness.reporting.kinds import KindMetrics, kind_metrics
from harness.reporting.turns import turn_metrics
from harness.results import LoadedRun, no_results, paused_gc
from harness.text import excerpt


@dataclass
class Level:
    """Accuracy at one scoring level."""
    passed: float  # cases passed at this level (fractional: the mean over a case's samples)
    accuracy: float | None
    ci95: tuple[float, float] | None


@dataclass
class Counts:
    """Cases, passes and accuracy of one slice of a run, at every level."""
    total: int  # cases
    passed: float
    accuracy: float | None
    ci95: tuple[float, float] | None
    decision: Level
    tool: Level
    call: Level
    records: int  # case x sample records behind these counts
    pass_at_k: float | None = None  # share of cases where some sample passed (None with one sample)
    pass_all_k: float | None = None  # pass^k: share of cases where every sample passed
    flip_rate: float | None = None  # share of cases whose samples disagree


@dataclass
class Failure:
    """One failed case, as a report lists it."""
    id: str
    category: str
    reason: str | None
    detail: str
    output: str  # one line, escaped and cut
    p_call: float | None = None  # with harness run --probe: the model's probability of starting a call


@dataclass
class Summary:
    """Everything a report shows about one run."""
    run_dir: str
    suite: str | None
    status: str | None
    coverage: dict  # expected, judged, not_judged records; partial: bool
    overall: Counts
    categories: dict[str, Counts]
    samples: int
    tool_calls: dict  # made, tool_cases
    formats: dict[str, int]
    near_misses: dict[str, int]
    reasons: dict[str, int]
    backend_errors: dict  # count, cases
    harness_errors: dict  # count, cases: the detector or scorer failed (a bug of ours, not the model)
    model: dict
    latency: dict  # mean_s, p50_s, p95_s, timing (what the numbers measure)
    ttft: dict | None  # time to first token, where the backend measured it
    tokens_per_s: float | None  # generated tokens / generation wall time (throughput)
    decode_tokens_per_s: float | None  # per-case decode speed, sequential timing only
    generation: dict
    failures: list[Failure]
    warnings: list[str]
    damaged: int = 0  # damaged results.jsonl lines skipped (--skip-damaged)
    kinds: KindMetrics | None = None  # response kinds (call, answer, ask, decline): None for records without them
    extra: dict = field(default_factory=dict)  # sections other modules add (kinds, turns, probes)

    def to_json(self) -> dict:
        out = msgspec.to_builtins(self)  # in C: dataclasses.asdict was most of a 100,000-record diff
        out.update(out.pop("extra"))
        return out


def expects_call(record: Record) -> bool:
    """The one definition of a tool case; records of the first version lack the field, so parse the expect."""
    if record.expects_call is not None:
        return record.expects_call
    try:
        return is_tool_expected(parse_expectation(record.expect, f"record '{record.id}'"))
    except InputError:
        return record.expect != "direct"


_ID, _SAMPLE, _PASSED, _CATEGORY = attrgetter("id"), attrgetter("sample"), attrgetter("passed"), attrgetter("category")
_EPISODE, _LATENCY, _TTFT = attrgetter("episode"), attrgetter("latency_s"), attrgetter("ttft_s")
_LEVEL_OF = {level: attrgetter(level) for level in LEVELS}


def counts(records: list[Record], one_per_case: bool | None = None) -> Counts:
    """Per-case rates over samples, then means over cases; `one_per_case`: known to hold one record per case
    (None: found out here)."""
    n = len(records)
    if one_per_case is None:
        one_per_case = _one_per_case(records)
    if not one_per_case and n:
        return _counts_over_samples(records)
    passed = sum(map(_PASSED, records))  # one record per case: every rate is 0 or 1, summed in C
    levels = {}
    for level, get in _LEVEL_OF.items():
        ok = sum(map(bool, map(get, records)))
        levels[level] = Level(ok, ok / n if n else None, wilson(ok, n))
    return Counts(n, passed, passed / n if n else None, wilson(passed, n), records=n, **levels)


def _one_per_case(records: list[Record]) -> bool:
    return not any(map(_SAMPLE, records)) and len(set(map(_ID, records))) == len(records)


def _counts_over_samples(records: list[Record]) -> Counts:
    by_case: dict[str, list] = {}  # id -> [records, passed, decision, tool, call]
    for r in records:
        tally = by_case.get(r.id)
        if tally is None:
            tally = by_case[r.id] = [0, 0, 0, 0, 0]
        tally[0] += 1
        tally[1] += r.passed
        tally[2] += r.decision is True
        tally[3] += r.tool is True
        tally[4] += r.call is True
    n = len(by_case)
    columns = list(zip(*by_case.values()))  # records, passed, decision, tool, call: one tuple each
    rates = list(map(truediv, columns[1], columns[0]))
    passed = _tidy(sum(rates))
    levels = {}
    for i, level in enumerate(LEVELS, 2):
        ok = _tidy(sum(map(truediv, columns[i], columns[0])))
        levels[level] = Level(ok, ok / n, wilson(ok, n))
    out = Counts(n, passed, passed / n, wilson(passed, n), records=len(records), **levels)
    if len(records) > n:  # some case has several samples
        out.pass_at_k = sum(rate > 0 for rate in rates) / n
        out.pass_all_k = sum(rate == 1 for rate in rates) / n
        out.flip_rate = sum(0 < rate < 1 for rate in rates) / n
    return out


def _tidy(x: float) -> float:
    """Whole numbers stay whole (the common single-sample case prints 17, not 17.0)."""
    return int(round(x)) if abs(x - round(x)) < 1e-9 else x


@paused_gc()
def summarize(records: list[Record], manifest: Manifest | None, run_dir: str | Path = "", damaged: int = 0,
              failures: bool = True) -> Summary:
    """`records` may be a subset of a run's (diff compares runs on the cases they share); `failures`: list
    the failed cases (a diff lists its flips instead)."""
    if not records:
        raise InputError(no_results(run_dir))
    manifest = manifest or Manifest()
    everything = records
    if set(map(_EPISODE, everything)) <= {None}:  # no rollouts: every record is a case's verdict and a generation
        scored = [r for r in records if r.reason not in NOT_JUDGED]  # neither is a model failure
        judged, generated = scored, scored
    else:
        records = [r for r in everything if r.episode is not False]  # a rollout counts once: its episode
        scored = [r for r in records if r.reason not in NOT_JUDGED]
        judged = [r for r in everything if r.reason not in NOT_JUDGED]
        # generations: every judged assistant turn (a rollout's turns, not its episode record)
        generated = [r for r in judged if r.episode is not True]
    errors = [r for r in records if r.reason == "backend_error"]
    ours = [r for r in records if r.reason == "harness_error"]
    by_category: dict[str, list] = {name: [] for name in sorted(set(map(_CATEGORY, records)))}
    for r in scored:
        by_category[r.category].append(r)
    one_per_case = _one_per_case(scored)  # then so is every category
    categories = {name: counts(group, one_per_case) for name, group in by_category.items()}
    tool_cases = [r for r in generated if (r.expects_call if r.expects_call is not None else expects_call(r))]
    timing = sorted({r.timing for r in generated})
    latencies = [x for x in map(_LATENCY, generated) if x is not None]
    ttfts = [x for x in map(_TTFT, generated) if x is not None]
    decode = [r.tokens_per_s for r in generated if r.tokens_per_s is not None and r.timing == "sequential"]
    generation = manifest.generation or {}
    throughput = generation.get("throughput") or {}
    return Summary(
        run_dir=str(run_dir), suite=manifest.suite.get("name"), status=manifest.status if manifest.run_dir else None,
        coverage=_coverage(len(records), len(scored), manifest),
        overall=counts(scored, one_per_case), categories=categories, samples=manifest.samples or 1,
        tool_calls={"made": sum(1 for r in tool_cases if r.detection.outcome != "none"), "tool_cases": len(tool_cases)},
        formats=dict(Counter(r.detection.format for r in generated if r.detection.format)),
        near_misses=dict(Counter(r.detection.near_miss for r in generated if r.detection.near_miss)),
        reasons=dict(Counter(r.reason for r in scored if r.reason)),
        backend_errors={"count": len(errors), "cases": [r.name for r in errors]},
        harness_errors={"count": len(ours), "cases": [r.name for r in ours]},
        model={k: manifest.model.get(k) for k in ("name", "backend", "size_bytes", "load_s", "peak_memory_bytes")},
        latency={"mean_s": sum(latencies) / len(latencies) if latencies else None,
                 "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95), "timing": timing,
                 "measured": LATENCY_MEANING.get(timing[0], "") if len(timing) == 1 else "mixed timing modes"},
        ttft={"mean_s": sum(ttfts) / len(ttfts), "p50_s": percentile(ttfts, 50), "p95_s": percentile(ttfts, 95)}
        if ttfts else None,
        tokens_per_s=throughput.get("tokens_per_s") if throughput else generation.get("generated_tokens_per_s"),
        decode_tokens_per_s=sum(decode) / len(decode) if decode else None,
        generation=generation,
        failures=[Failure(r.name, r.category, r.reason, r.detail, excerpt(r.output, 100), r.p_call)
                  for r in scored if not r.passed] if failures else [],
        warnings=list(manifest.warnings), damaged=damaged,
        kinds=kind_metrics(scored) if any(r.response_kind for r in scored) else None,
        extra={**turn_metrics(judged), **_judge_facts(manifest)})


def _judge_facts(manifest: Manifest) -> dict:
    """What `rescore --judge` settled, as its manifest says; a hand-edited entry of other types is left out."""
    judge = manifest.extra.get("judge")
    if isinstance(judge, dict) and isinstance(judge.get("model"), str) and all(
            type(judge.get(k)) is int for k in ("unsure", "settled")):
        return {"judge": {k: judge[k] for k in ("model", "unsure", "settled")}}
    return {}


LATENCY_MEANING = {
    "sequential": "per case, one case at a time",
    "batched": "from the call that prefilled each case to its finish (cases decode together)",
    "concurrent": "per request, with requests in flight together",
    "replayed": "as recorded by the original run",
}


def _coverage(records: int, judged: int, manifest: Manifest) -> dict:
    expected = manifest.coverage.get("expected") if manifest.coverage else None
    if expected is None and manifest.suite.get("cases") is not None:
        expected = manifest.suite["cases"] * (manifest.samples or 1)
    expected = max(expected or 0, records)
    return {"expected": expected, "judged": judged, "not_judged": records - judged,
            "partial": (manifest.run_dir != "" and manifest.status != "complete") or judged < expected}


def summarize_run(run: LoadedRun) -> Summary:
    return summarize(run.records, run.manifest, run.run_dir, run.damaged)
