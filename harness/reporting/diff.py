"""`harness diff RUN_A RUN_B [RUN_C ...]`: runs side by side on the cases they share.

Cases are aligned by (id, sample). Only cases every run holds are compared, and a case any run
lost to a backend error is left out for all runs, so each run's accuracy is over the same cases
and the accuracy change of B over A is exactly (fixed - broken) / compared. Every later run is
paired with the first: flips (fixed, broken) and an exact McNemar test overall and per category.
"""
import json
from pathlib import Path

from harness.errors import InputError
from harness.reporting.summary import summarize
from harness.scoring import LEVELS
from harness.text import excerpt, human_bytes, md_code, pct, secs
from harness.results import is_backend_error, is_turn_record, read_records, record_key
from harness.reporting.stats import mcnemar_exact

# Kept from each run's summary for the side-by-side table.
RUN_FACTS = ("model", "tool_calls", "formats", "latency", "tokens_per_s")





def case_name(record: dict) -> str:
    sample = record.get("sample", 0)
    return record["id"] if not sample else f"{record['id']}#{sample}"


# --- comparison ------------------------------------------------------------------------------

def compare(run_dirs: list[str | Path]) -> dict:
    """The JSON document of a diff; the first run is A, pairs compare each later run with A."""
    by_key = []
    for run_dir in run_dirs:
        records = read_records(run_dir)
        if not records:
            raise InputError(f"{run_dir}: no results; give a run folder written by `harness run` (it holds results.jsonl)")
        by_key.append({record_key(r): r for r in records})
    shared = set.intersection(*(set(run) for run in by_key))
    errored = {k for k in shared if any(is_backend_error(run[k]) for run in by_key)}
    keys = [k for k in by_key[0] if k in shared and k not in errored]  # A's order
    if not keys:
        raise InputError(f"{', '.join(map(str, run_dirs))}: no case is scored in every run ({len(shared)} shared "
                         f"case ids, {len(errored)} of them with a backend error); compare runs of the same suite")
    summaries = [summarize(d, [run[k] for k in keys]) for d, run in zip(run_dirs, by_key)]
    keys = [k for k in keys if not is_turn_record(by_key[0][k])]  # cases flip by their verdicts, not their turns
    runs = []
    for i, (run_dir, run, s) in enumerate(zip(run_dirs, by_key, summaries)):
        runs.append({"label": _letter(i), "name": s["model"]["name"] or Path(run_dir).name, "run_dir": str(run_dir),
                     "suite": s["suite"], "records": len(run), "not_shared": len(run) - len(shared),
                     "backend_errors": sum(1 for r in run.values() if is_backend_error(r)),
                     **{fact: s[fact] for fact in RUN_FACTS}})
    categories = sorted({c for s in summaries for c in s["categories"]})
    pairs = [_pair(by_key[0], by_key[i], keys, runs[0]["label"], runs[i]["label"]) for i in range(1, len(by_key))]
    return {
        "runs": runs,
        "compared": len(keys),
        "backend_error_cases": len(errored),
        "overall": [s["overall"] for s in summaries],
        "episodes": [s["episodes"] for s in summaries],
        "turns": [s["turns"] for s in summaries],
        "categories": {c: [s["categories"].get(c) for s in summaries] for c in categories},
        "cases": [{"id": k[0], "sample": k[1], "category": by_key[0][k]["category"],
                   "passed": [run[k]["passed"] for run in by_key], "reason": [run[k]["reason"] for run in by_key],
                   "latency_s": [run[k].get("latency_s") for run in by_key]} for k in keys],
        "flips": pairs[0]["flips"],
        "mcnemar_p": pairs[0]["mcnemar_p"],
        "pairs": pairs,
    }


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"R{i + 1}"


def _pair(a: dict, b: dict, keys: list, label_a: str, label_b: str) -> dict:
    fixed = [k for k in keys if not a[k]["passed"] and b[k]["passed"]]
    broken = [k for k in keys if a[k]["passed"] and not b[k]["passed"]]
    categories = {}
    for cat in sorted({a[k]["category"] for k in keys}):  # A's category when suites disagree
        n_fixed = sum(1 for k in fixed if a[k]["category"] == cat)
        n_broken = sum(1 for k in broken if a[k]["category"] == cat)
        categories[cat] = {"fixed": n_fixed, "broken": n_broken, "mcnemar_p": mcnemar_exact(n_fixed, n_broken)}
    return {"a": label_a, "b": label_b,
            "flips": {"fixed": [case_name(a[k]) for k in fixed], "broken": [case_name(a[k]) for k in broken]},
            "mcnemar_p": mcnemar_exact(len(fixed), len(broken)), "categories": categories,
            "fixed_cases": [_flip(a[k], b[k], failing=a[k]) for k in fixed],
            "broken_cases": [_flip(a[k], b[k], failing=b[k]) for k in broken]}


def _flip(ra: dict, rb: dict, failing: dict) -> dict:
    return {"id": case_name(ra), "category": ra["category"], "reason": failing["reason"], "detail": failing["detail"],
            "output_a": ra["output"], "output_b": rb["output"]}


# --- rendering -------------------------------------------------------------------------------

def side_by_side(doc: dict) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the metrics table: one column per run, then a ratio column per later run."""
    runs = doc["runs"]
    rows = []

    def add(name, raws, shown):
        rows.append([name, *shown, *(_ratio(raws[0], x) for x in raws[1:])])

    def add_pct(name, counts):
        raws = [c["accuracy"] if c else None for c in counts]
        add(name, raws, [pct(x) for x in raws])

    groups = [(c, doc["categories"][c]) for c in doc["categories"]] + [("overall", doc["overall"])]
    for name, counts in groups:
        add_pct(f"{name} ({max(c['total'] for c in counts if c)})", counts)
        for level in LEVELS:
            add_pct(f"{name} / {level}", [c[level] if c else None for c in counts])
    made = [r["tool_calls"]["made"] for r in runs]
    add("tool calls on tool cases", made, [f"{r['tool_calls']['made']}/{r['tool_calls']['tool_cases']}" for r in runs])
    add("formats seen", [None] * len(runs), [", ".join(f"{k} ({v})" for k, v in r["formats"].items()) or "none" for r in runs])
    for name, get, show in [("disk size", lambda r: r["model"]["size_bytes"], human_bytes),
                            ("load time", lambda r: r["model"]["load_s"], secs),
                            ("peak memory", lambda r: r["model"]["peak_memory_bytes"], human_bytes),
                            ("latency mean", lambda r: r["latency"]["mean_s"], secs),
                            ("latency p50", lambda r: r["latency"]["p50_s"], secs),
                            ("latency p95", lambda r: r["latency"]["p95_s"], secs),
                            ("tokens/s", lambda r: r["tokens_per_s"], lambda x: "-" if x is None else f"{x:.1f}")]:
        raws = [get(r) for r in runs]
        add(name, raws, [show(x) for x in raws])
    headers = ["", *(f"{r['label']}: {r['name']}" for r in runs), *(f"{r['label']}/A" for r in runs[1:])]
    return headers, rows


def _ratio(a, b) -> str:
    return "-" if a is None or b is None or a == 0 else f"{b / a:.2f}x"


def coverage_line(doc: dict) -> str:
    left = ", ".join(f"{r['not_shared']} of {r['label']}" for r in doc["runs"])
    return (f"compared {doc['compared']} cases held by every run; left out: {left} not in every run, "
            f"{doc['backend_error_cases']} with a backend error in some run")


def render(doc: dict, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(doc, indent=2, ensure_ascii=False)
    from tabulate import tabulate

    md = fmt == "md"
    tablefmt = "github" if md else "simple"
    headers, rows = side_by_side(doc)
    runs = "\n".join(f"{'- ' if md else '  '}{r['label']}: {r['name']} ({r['run_dir']}, suite {r['suite']}, "
                     f"{r['records']} records, {r['backend_errors']} backend errors)" for r in doc["runs"])
    parts = [f"## diff\n\n{runs}" if md else f"runs:\n{runs}", coverage_line(doc), tabulate(rows, headers=headers, tablefmt=tablefmt)]
    parts += [render_pair(pair, md) for pair in doc["pairs"]]
    return "\n\n".join(parts) + "\n"


def pair_headline(pair: dict) -> str:
    return (f"{pair['b']} vs {pair['a']}: {len(pair['flips']['fixed'])} fixed, {len(pair['flips']['broken'])} broken; "
            f"exact McNemar p = {pair['mcnemar_p']:.3g}")


def render_pair(pair: dict, md: bool) -> str:
    from tabulate import tabulate

    head = f"### {pair_headline(pair)}" if md else pair_headline(pair)
    cats = tabulate([[c, v["fixed"], v["broken"], f"{v['mcnemar_p']:.3g}"] for c, v in pair["categories"].items()],
                    headers=["category", "fixed", "broken", "McNemar p"], tablefmt="github" if md else "simple")
    parts = [head, cats]
    for kind in ("broken", "fixed"):
        flips = pair[f"{kind}_cases"]
        if flips:
            parts.append(flip_table_md(flips, pair, kind) if md else flip_lines(flips, pair, kind))
    return "\n\n".join(parts)


def flip_table_md(flips: list[dict], pair: dict, kind: str) -> str:
    lines = [f"**{kind} in {pair['b']}** ({len(flips)})", "",
             f"| case | category | reason | {pair['a']} output | {pair['b']} output |", "|---|---|---|---|---|"]
    for f in flips:
        lines.append(f"| {md_code(f['id'])} | {md_code(f['category'])} | {md_code(excerpt(f['reason'] or ''))} "
                     f"| {md_code(excerpt(f['output_a']))} | {md_code(excerpt(f['output_b']))} |")
    return "\n".join(lines)


def flip_lines(flips: list[dict], pair: dict, kind: str) -> str:
    lines = [f"{kind} in {pair['b']} ({len(flips)}):"]
    for f in flips:
        lines += [f"  {excerpt(f['id'])} [{excerpt(f['category'])}] {f['reason']}: {excerpt(f['detail'], 120)}",
                  f"    {pair['a']}: {excerpt(f['output_a'])}", f"    {pair['b']}: {excerpt(f['output_b'])}"]
    return "\n".join(lines)
