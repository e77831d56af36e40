"""Runs side by side on the cases they share (`harness diff RUN_A RUN_B [RUN_C ...]`).

Cases are aligned by id. Only cases every run holds are compared, and a case any run lost to a backend
or harness error (in any sample) is left out for all runs, so each run's accuracy is over the same
cases. Every later run is paired with the first: a case is fixed when its pass rate over its samples
rose and broken when it fell (with one sample: failed then passed, and the reverse), with an exact
McNemar (sign) test on those flips overall and per category, which stays valid for repeated samples
because each case is one pair whatever its number of samples.
"""
import json
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InputError
from harness.records import LEVELS, NOT_JUDGED, Record
from harness.reporting.stats import mcnemar_exact
from harness.reporting.summary import summarize
from harness.results import LoadedRun, load_run, paused_gc
from harness.text import excerpt, human_bytes, md_code, pct, secs

# Kept from each run's summary for the side-by-side table.
RUN_FACTS = ("status", "coverage", "model", "tool_calls", "formats", "latency", "ttft", "tokens_per_s", "samples",
             "kinds")
NOISE_P = 0.05  # a latency ratio whose paired sign test is above this could be run-to-run noise


@dataclass
class CaseGroups:
    """A run's records by case id: its verdict records (one per sample, by sample; a rollout's is its
    episode record), its rollouts' turn records, and the ids of cases not judged in some sample."""
    cases: dict[str, list[Record]]
    turns: dict[str, list[Record]]
    not_judged: set[str]


def group_cases(records: list[Record]) -> CaseGroups:
    cases: dict[str, list[Record]] = {}
    turns: dict[str, list[Record]] = {}
    not_judged = set()
    for r in records:  # one pass: a 100,000-record run is grouped in a fraction of a second
        group = turns if r.episode is False else cases
        found = group.get(r.id)
        if found is None:
            group[r.id] = [r]
        else:
            found.append(r)
        if r.reason in NOT_JUDGED:
            not_judged.add(r.id)
    for group in (cases, turns):
        for found in group.values():
            if len(found) > 1:
                found.sort(key=lambda r: r.sample)
    return CaseGroups(cases, turns, not_judged)


def _rate(records: list[Record]) -> float:
    return float(records[0].passed) if len(records) == 1 else sum(r.passed for r in records) / len(records)


@paused_gc()
def compare(runs: list[LoadedRun | str | Path], cases: bool = True) -> dict:
    """The JSON document of a diff; the first run is A, pairs compare each later run with A. `cases`: also
    the per-case table (`cases`), which only the JSON and HTML forms show."""
    loaded = [run if isinstance(run, LoadedRun) else load_run(run) for run in runs]
    run_dirs = [run.run_dir for run in loaded]
    groups = [group_cases(run.records) for run in loaded]
    runs_records = [g.cases for g in groups]
    manifests = [run.manifest for run in loaded]
    shared = set.intersection(*(set(run) for run in runs_records))
    errored = shared & set().union(*(g.not_judged for g in groups))
    keys = [k for k in runs_records[0] if k in shared and k not in errored]  # A's order
    if not keys:
        raise InputError(f"{', '.join(map(str, run_dirs))}: no case is scored in every run ({len(shared)} shared "
                         f"case ids, {len(errored)} of them with a backend error); compare runs of the same suite")
    summaries = [summarize(_records_of(g, keys), m, d) for d, g, m in zip(run_dirs, groups, manifests)]
    as_json = [s.to_json() for s in summaries]  # once each: a summary of a big run holds every failure
    runs = []
    for i, (run_dir, run, facts) in enumerate(zip(run_dirs, runs_records, as_json)):
        s = summaries[i]
        runs.append({"label": _letter(i), "name": s.model["name"] or Path(run_dir).name, "run_dir": str(run_dir),
                     "suite": s.suite, "records": sum(map(len, run.values())), "not_shared": len(run) - len(shared),
                     "backend_errors": sum(1 for v in run.values() for r in v if r.reason in NOT_JUDGED),
                     **{fact: facts[fact] for fact in RUN_FACTS}})
    categories = sorted({c for s in summaries for c in s.categories})
    rates = [{k: _rate(run[k]) for k in keys} for run in runs_records]
    latencies = [{k: _mean_latency(run[k]) for k in keys} for run in runs_records]
    pairs = [_pair(runs_records[0], runs_records[i], keys, (rates[0], rates[i]), (latencies[0], latencies[i]),
                   runs[0]["label"], runs[i]["label"]) for i in range(1, len(runs_records))]
    return {
        "runs": runs,
        "compared": len(keys),
        "backend_error_cases": len(errored),
        "overall": [facts["overall"] for facts in as_json],
        "episodes": [facts["episodes"] for facts in as_json],
        "turns": [facts["turns"] for facts in as_json],
        "categories": {c: [facts["categories"].get(c) for facts in as_json] for c in categories},
        "cases": [{"id": k, "category": runs_records[0][k][0].category,
                   "passed": [rate[k] for rate in rates],
                   "reason": [_first_reason(run[k]) for run in runs_records],
                   "latency_s": [latency[k] for latency in latencies]} for k in keys] if cases else None,
        "flips": pairs[0]["flips"],
        "mcnemar_p": pairs[0]["mcnemar_p"],
        "pairs": pairs,
    }


def _records_of(groups: CaseGroups, keys: list[str]) -> list[Record]:
    """The verdict and turn records of the compared cases."""
    out = [r for k in keys for r in groups.cases[k]]
    if groups.turns:
        out += [r for k in keys for r in groups.turns.get(k, ())]
    return out


def _first_reason(records: list[Record]) -> str | None:
    """The reason of the first failed sample."""
    if len(records) == 1:
        return None if records[0].passed else records[0].reason
    return next((r.reason for r in records if not r.passed), None)


def _mean_latency(records: list[Record]) -> float | None:
    if len(records) == 1:
        return records[0].latency_s
    values = [r.latency_s for r in records if r.latency_s is not None]
    return sum(values) / len(values) if values else None


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"R{i + 1}"


def _pair(a: dict[str, list[Record]], b: dict[str, list[Record]], keys: list, rates: tuple[dict, dict],
          latencies: tuple[dict, dict], label_a: str, label_b: str) -> dict:
    """B against A: `rates` and `latencies` are each run's per-case pass rate and mean latency."""
    rate_a, rate_b = rates
    fixed = [k for k in keys if rate_b[k] > rate_a[k]]
    broken = [k for k in keys if rate_b[k] < rate_a[k]]
    tally = {cat: [0, 0] for cat in sorted({a[k][0].category for k in keys})}  # A's category when suites disagree
    for column, flipped in enumerate((fixed, broken)):
        for k in flipped:
            tally[a[k][0].category][column] += 1
    categories = {cat: {"fixed": f, "broken": br, "mcnemar_p": mcnemar_exact(f, br)} for cat, (f, br) in tally.items()}
    return {"a": label_a, "b": label_b,
            "flips": {"fixed": fixed, "broken": broken},
            "mcnemar_p": mcnemar_exact(len(fixed), len(broken)), "categories": categories,
            "latency": _latency_test(*latencies, keys),
            "fixed_cases": [_flip(a[k], b[k], failing=a[k]) for k in fixed],
            "broken_cases": [_flip(a[k], b[k], failing=b[k]) for k in broken]}


def _latency_test(a: dict, b: dict, keys: list) -> dict:
    """A paired sign test on per-case mean latency: is B consistently faster or slower than A, or is it noise?"""
    pairs = [(a[k], b[k]) for k in keys]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    faster = sum(1 for x, y in pairs if y < x)
    slower = sum(1 for x, y in pairs if y > x)
    p = mcnemar_exact(faster, slower)
    return {"faster": faster, "slower": slower, "sign_test_p": p, "within_noise": p > NOISE_P}


def _flip(ra: list[Record], rb: list[Record], failing: list[Record]) -> dict:
    worst = next((r for r in failing if not r.passed), failing[0])
    return {"id": ra[0].id, "category": ra[0].category, "reason": worst.reason, "detail": worst.detail,
            "output_a": ra[0].output, "output_b": rb[0].output,
            "pass_rate_a": _rate(ra), "pass_rate_b": _rate(rb)}


# --- rendering -------------------------------------------------------------------------------

def side_by_side(doc: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the metrics table: one column per run, then a ratio column per later run."""
    runs = doc["runs"]
    rows = []

    def add(name, raws, shown, ratios=None):
        rows.append([name, *shown, *(ratios or [_ratio(raws[0], x) for x in raws[1:]])])

    def add_pct(name, counts):
        raws = [c["accuracy"] if c else None for c in counts]
        add(name, raws, [pct(x) for x in raws])

    groups = [(c, doc["categories"][c]) for c in doc["categories"]] + [("overall", doc["overall"])]
    for name, counts in groups:
        add_pct(f"{name} ({max(c['total'] for c in counts if c)})", counts)
        for level in LEVELS:
            add_pct(f"{name} / {level}", [c[level] if c else None for c in counts])
    add("latency timing", [None] * len(runs), ["/".join(r["latency"]["timing"]) for r in runs])
    add("status", [None] * len(runs), [f"{r['status'] or '-'} ({r['coverage']['judged']}/{r['coverage']['expected']})"
                                      for r in runs])
    made = [r["tool_calls"]["made"] for r in runs]
    add("tool calls on tool cases", made, [f"{r['tool_calls']['made']}/{r['tool_calls']['tool_cases']}" for r in runs])
    add("formats seen", [None] * len(runs), [", ".join(f"{k} ({v})" for k, v in r["formats"].items()) or "none" for r in runs])
    for name, key in [("response kinds macro-F1", "macro_f1"), ("tool hallucination rate", "tool_hallucination_rate"),
                      ("argument hallucination rate", "argument_hallucination_rate")]:
        if any(r["kinds"] for r in runs):
            raws = [(r["kinds"] or {}).get(key) for r in runs]
            add(name, raws, [pct(x) if key != "macro_f1" else ("-" if x is None else f"{x:.3f}") for x in raws])
    for name, get, show in [("disk size", lambda r: r["model"]["size_bytes"], human_bytes),
                            ("load time", lambda r: r["model"]["load_s"], secs),
                            ("peak memory", lambda r: r["model"]["peak_memory_bytes"], human_bytes),
                            ("generated tokens/s", lambda r: r["tokens_per_s"], lambda x: "-" if x is None else f"{x:.1f}")]:
        raws = [get(r) for r in runs]
        add(name, raws, [show(x) for x in raws])
    for name, key in [("latency mean", "mean_s"), ("latency p50", "p50_s"), ("latency p95", "p95_s")]:
        raws = [r["latency"][key] for r in runs]
        add(name, raws, [secs(x) for x in raws],
            [_latency_ratio(runs[0], r, pair, key) for r, pair in zip(runs[1:], doc["pairs"])])
    headers = ["", *(f"{r['label']}: {r['name']}" for r in runs), *(f"{r['label']}/A" for r in runs[1:])]
    return headers, rows


def _latency_ratio(a: dict, b: dict, pair: dict, key: str) -> str:
    """No ratio across timing modes (a batched latency is not a per-case one); flag ratios within noise."""
    if a["latency"]["timing"] != b["latency"]["timing"]:
        return "- (timing differs)"
    ratio = _ratio(a["latency"][key], b["latency"][key])
    return f"{ratio} (within noise)" if ratio != "-" and pair["latency"]["within_noise"] else ratio


def _ratio(a, b) -> str:
    return "-" if a is None or b is None or a == 0 else f"{b / a:.2f}x"


def run_state(run: dict) -> str:
    cov = run["coverage"]
    state = f"status {run['status'] or 'unknown'}, {cov['judged']} of {cov['expected']} judged"
    return state + (" - PARTIAL" if cov["partial"] else "")


def coverage_line(doc: dict) -> str:
    left = ", ".join(f"{r['not_shared']} of {r['label']}" for r in doc["runs"])
    return (f"compared {doc['compared']} cases held by every run; left out: {left} not in every run, "
            f"{doc['backend_error_cases']} with a backend error in some run")


FLIPS_SHOWN = 20  # per kind and pair in the table and Markdown; --flips all lists every one


def render(doc: dict, fmt: str = "table", flips: int | None = FLIPS_SHOWN) -> str:
    """`flips`: how many fixed and broken cases to list per pair (None: all); JSON always holds them all."""
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False)
    from tabulate import tabulate

    md = fmt == "md"
    tablefmt = "github" if md else "simple"
    headers, rows = side_by_side(doc)
    runs = "\n".join(f"{'- ' if md else '  '}{r['label']}: {r['name']} ({r['run_dir']}, suite {r['suite']}, "
                     f"{run_state(r)}, {r['records']} records, {r['backend_errors']} not judged)" for r in doc["runs"])
    parts = [f"## diff\n\n{runs}" if md else f"runs:\n{runs}", coverage_line(doc), tabulate(rows, headers=headers, tablefmt=tablefmt)]
    parts += [render_pair(pair, md, flips) for pair in doc["pairs"]]
    return "\n\n".join(parts) + "\n"


def pair_headline(pair: dict) -> str:
    return (f"{pair['b']} vs {pair['a']}: {len(pair['flips']['fixed'])} fixed, {len(pair['flips']['broken'])} broken; "
            f"exact McNemar p = {pair['mcnemar_p']:.3g}")


def render_pair(pair: dict, md: bool, shown: int | None = FLIPS_SHOWN) -> str:
    from tabulate import tabulate

    head = f"### {pair_headline(pair)}" if md else pair_headline(pair)
    cats = tabulate([[c, v["fixed"], v["broken"], f"{v['mcnemar_p']:.3g}"] for c, v in pair["categories"].items()],
                    headers=["category", "fixed", "broken", "McNemar p"], tablefmt="github" if md else "simple")
    parts = [head, cats]
    for kind in ("broken", "fixed"):
        flips = pair[f"{kind}_cases"]
        if flips:
            listed = flips[:shown]
            parts.append(flip_table_md(listed, pair, kind, len(flips)) if md else flip_lines(listed, pair, kind, len(flips)))
            if len(listed) < len(flips):
                parts.append(f"{len(flips) - len(listed)} more {kind} cases not listed; --flips all or --format json "
                             f"lists them all")
    return "\n\n".join(parts)


def flip_table_md(flips: list[dict], pair: dict, kind: str, total: int) -> str:
    lines = [f"**{kind} in {pair['b']}** ({total})", "",
             f"| case | category | reason | {pair['a']} output | {pair['b']} output |", "|---|---|---|---|---|"]
    for f in flips:
        lines.append(f"| {md_code(f['id'])} | {md_code(f['category'])} | {md_code(excerpt(f['reason'] or ''))} "
                     f"| {md_code(excerpt(f['output_a']))} | {md_code(excerpt(f['output_b']))} |")
    return "\n".join(lines)


def flip_lines(flips: list[dict], pair: dict, kind: str, total: int) -> str:
    lines = [f"{kind} in {pair['b']} ({total}):"]
    for f in flips:
        lines += [f"  {excerpt(f['id'])} [{excerpt(f['category'])}] {f['reason']}: {excerpt(f['detail'], 120)}",
                  f"    {pair['a']}: {excerpt(f['output_a'])}", f"    {pair['b']}: {excerpt(f['output_b'])}"]
    return "\n".join(lines)
