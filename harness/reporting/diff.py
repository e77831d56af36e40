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


class Case:
    """One case of a run, gathered in one pass over its verdict records (one per sample; a rollout's is its
    episode record): its first and first failed sample, pass rate and mean latency (kept as attributes, not
    properties: every comparison reads them for every case)."""
    __slots__ = ("first", "failed", "samples", "passed", "rate", "latency_sum", "latencies", "latency")

    def __init__(self, record: Record):
        self.first, self.failed = record, None if record.passed else record
        self.samples, self.passed, self.rate = 1, int(record.passed), float(record.passed)
        self.latency = record.latency_s
        self.latency_sum, self.latencies = record.latency_s or 0.0, int(record.latency_s is not None)

    def add(self, record: Record) -> None:
        if record.sample < self.first.sample:
            self.first = record
        if not record.passed and (self.failed is None or record.sample < self.failed.sample):
            self.failed = record
        self.samples += 1
        self.passed += record.passed
        self.rate = self.passed / self.samples
        if record.latency_s is not None:
            self.latency_sum += record.latency_s
            self.latencies += 1
            self.latency = self.latency_sum / self.latencies


@dataclass
class RunCases:
    """A run's cases by id, how many verdict records it holds, how many of those were not judged, and the ids
    of cases not judged in some sample."""
    cases: dict[str, Case]
    records: int
    not_judged_records: int
    not_judged: set[str]


def run_cases(records: list[Record]) -> RunCases:
    cases: dict[str, Case] = {}
    not_judged, verdicts, errors = set(), 0, 0
    for r in records:  # one pass: a 100,000-record run is gathered in a fraction of a second
        if r.episode is False:
            continue  # a turn inside a rollout: its episode record holds the case's verdict
        verdicts += 1
        found = cases.get(r.id)
        if found is None:
            cases[r.id] = Case(r)
        else:
            found.add(r)
        if r.reason in NOT_JUDGED:
            not_judged.add(r.id)
            errors += 1
    return RunCases(cases, verdicts, errors, not_judged)


@paused_gc()
def compare(runs: list[LoadedRun | str | Path], cases: bool = True) -> dict:
    """The JSON document of a diff; the first run is A, pairs compare each later run with A. `cases`: also
    the per-case table (`cases`), which only the JSON and HTML forms show."""
    loaded = [run if isinstance(run, LoadedRun) else load_run(run) for run in runs]
    run_dirs = [run.run_dir for run in loaded]
    gathered = [run_cases(run.records) for run in loaded]
    runs_cases = [g.cases for g in gathered]
    shared = set.intersection(*(set(run) for run in runs_cases))
    errored = shared & set().union(*(g.not_judged for g in gathered))
    keys = [k for k in runs_cases[0] if k in shared and k not in errored]  # A's order
    if not keys:
        raise InputError(f"{', '.join(map(str, run_dirs))}: no case is scored in every run ({len(shared)} shared "
                         f"case ids, {len(errored)} of them with a backend error); compare runs of the same suite")
    compared = set(keys)
    # each run summarized on the compared cases alone: verdicts and rollout turns
    summaries = [summarize([r for r in run.records if r.id in compared], run.manifest, run.run_dir, failures=False)
                 for run in loaded]
    as_json = [s.to_json() for s in summaries]
    runs = []
    for i, (run_dir, g, facts) in enumerate(zip(run_dirs, gathered, as_json)):
        s = summaries[i]
        runs.append({"label": _letter(i), "name": s.model["name"] or Path(run_dir).name, "run_dir": str(run_dir),
                     "suite": s.suite, "records": g.records, "not_shared": len(g.cases) - len(shared),
                     "backend_errors": g.not_judged_records,
                     **{fact: facts[fact] for fact in RUN_FACTS}})
    categories = sorted({c for s in summaries for c in s.categories})
    pairs = [_pair(runs_cases[0], runs_cases[i], keys, runs[0]["label"], runs[i]["label"])
             for i in range(1, len(runs_cases))]
    return {
        "runs": runs,
        "compared": len(keys),
        "backend_error_cases": len(errored),
        "overall": [facts["overall"] for facts in as_json],
        "episodes": [facts["episodes"] for facts in as_json],
        "turns": [facts["turns"] for facts in as_json],
        "categories": {c: [facts["categories"].get(c) for facts in as_json] for c in categories},
        "cases": [_case_row(k, [run[k] for run in runs_cases]) for k in keys] if cases else None,
        "flips": pairs[0]["flips"],
        "mcnemar_p": pairs[0]["mcnemar_p"],
        "pairs": pairs,
    }


def _case_row(key: str, cases: list[Case]) -> dict:
    return {"id": key, "category": cases[0].first.category, "passed": [c.rate for c in cases],
            "reason": [c.failed.reason if c.failed else None for c in cases], "latency_s": [c.latency for c in cases]}


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"R{i + 1}"


def _pair(a: dict[str, Case], b: dict[str, Case], keys: list, label_a: str, label_b: str) -> dict:
    """B against A on the compared cases."""
    fixed = [k for k in keys if b[k].rate > a[k].rate]
    broken = [k for k in keys if b[k].rate < a[k].rate]
    tally = {cat: [0, 0] for cat in sorted({a[k].first.category for k in keys})}  # A's category when suites disagree
    for column, flipped in enumerate((fixed, broken)):
        for k in flipped:
            tally[a[k].first.category][column] += 1
    categories = {cat: {"fixed": f, "broken": br, "mcnemar_p": mcnemar_exact(f, br)} for cat, (f, br) in tally.items()}
    return {"a": label_a, "b": label_b,
            "flips": {"fixed": fixed, "broken": broken},
            "mcnemar_p": mcnemar_exact(len(fixed), len(broken)), "categories": categories,
            "latency": _latency_test(a, b, keys),
            "fixed_cases": [_flip(a[k], b[k], failing=a[k]) for k in fixed],
            "broken_cases": [_flip(a[k], b[k], failing=b[k]) for k in broken]}


def _latency_test(a: dict[str, Case], b: dict[str, Case], keys: list) -> dict:
    """A paired sign test on per-case mean latency: is B consistently faster or slower than A, or is it noise?"""
    pairs = [(a[k].latency, b[k].latency) for k in keys]
    pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
    faster = sum(1 for x, y in pairs if y < x)
    slower = sum(1 for x, y in pairs if y > x)
    p = mcnemar_exact(faster, slower)
    return {"faster": faster, "slower": slower, "sign_test_p": p, "within_noise": p > NOISE_P}


def _flip(ca: Case, cb: Case, failing: Case) -> dict:
    worst = failing.failed or failing.first
    return {"id": ca.first.id, "category": ca.first.category, "reason": worst.reason, "detail": worst.detail,
            "output_a": ca.first.output, "output_b": cb.first.output, "pass_rate_a": ca.rate, "pass_rate_b": cb.rate}


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
