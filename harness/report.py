"""Summarise a run: per-category accuracy at each scoring level, tool calls made, formats seen,
model size, load time and latency; rendered as a table, Markdown or JSON."""
import json
import math
import sys
from collections import Counter
from pathlib import Path

from harness.errors import InputError
from harness.results import is_backend_error, read_manifest, read_records

LEVELS = ("decision", "tool", "call")


def wilson(passed: int, total: int, z: float = 1.96) -> tuple[float, float] | None:
    """95% Wilson score interval for a proportion; None when there is nothing to estimate."""
    if total == 0:
        return None
    p = passed / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100), as numpy's default."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _counts(records: list[dict]) -> dict:
    total = len(records)
    passed = sum(1 for r in records if r["passed"])
    out = {"total": total, "passed": passed, "accuracy": passed / total if total else None,
           "ci95": wilson(passed, total)}
    for level in LEVELS:
        ok = sum(1 for r in records if r.get(level))
        out[level] = {"passed": ok, "accuracy": ok / total if total else None, "ci95": wilson(ok, total)}
    return out


def is_tool_case(record: dict) -> bool:
    return record.get("expect") != "direct"


def summarize(run_dir: str | Path, records: list[dict] | None = None) -> dict:
    """Summary of a run folder; `records` restricts it to some of the run's records (diff compares
    runs on the cases they share)."""
    run_dir = Path(run_dir)
    records = read_records(run_dir) if records is None else records
    if not records:
        raise InputError(f"{run_dir}: no results; give a run folder written by `harness run` (it holds results.jsonl)")
    manifest = read_manifest(run_dir)
    errors = [r for r in records if is_backend_error(r)]
    scored = [r for r in records if not is_backend_error(r)]  # backend errors are not model failures
    categories = {}
    for name in sorted({r["category"] for r in records}):
        categories[name] = _counts([r for r in scored if r["category"] == name])
    tool_cases = [r for r in scored if is_tool_case(r)]
    latencies = [r["latency_s"] for r in scored if r.get("latency_s") is not None]
    gen_tokens = sum(r.get("completion_tokens") or 0 for r in scored)
    gen_time = sum(r.get("latency_s") or 0 for r in scored)
    model = manifest.get("model", {})
    generation = manifest.get("generation", {})  # how the backend generated: mode, batch size, throughput
    tokens_per_s = gen_tokens / gen_time if gen_time else None
    if generation.get("mode") == "batched":  # batched latencies overlap: the run's wall-clock rate is the honest one
        tokens_per_s = generation.get("generated_tokens_per_s")
    return {
        "run_dir": str(run_dir),
        "suite": manifest.get("suite", {}).get("name"),
        "status": manifest.get("status"),
        "overall": _counts(scored),
        "categories": categories,
        "tool_calls": {"made": sum(1 for r in tool_cases if r["detection"]["outcome"] != "none"),
                       "tool_cases": len(tool_cases)},
        "formats": dict(Counter(r["detection"]["format"] for r in scored if r["detection"]["format"])),
        "near_misses": dict(Counter(r["detection"]["near_miss"] for r in scored if r["detection"].get("near_miss"))),
        "reasons": dict(Counter(r["reason"] for r in scored if r.get("reason"))),
        "backend_errors": {"count": len(errors), "cases": [r["id"] for r in errors]},
        "model": {"name": model.get("name"), "backend": model.get("backend"), "size_bytes": model.get("size_bytes"),
                  "load_s": model.get("load_s"), "peak_memory_bytes": model.get("peak_memory_bytes")},
        "latency": {"mean_s": sum(latencies) / len(latencies) if latencies else None,
                    "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
                    "timing": sorted({r.get("timing", "sequential") for r in scored})},
        "tokens_per_s": tokens_per_s,
        "generation": generation,
        "warnings": manifest.get("warnings", []),
    }


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _ci(ci) -> str:
    return "-" if not ci else f"{100 * ci[0]:.0f}-{100 * ci[1]:.0f}%"


def secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def table_rows(summary: dict) -> list[list]:
    rows = []
    for name, c in list(summary["categories"].items()) + [("overall", summary["overall"])]:
        rows.append([name, c["passed"], c["total"], pct(c["accuracy"]), _ci(c["ci95"])]
                    + [f"{pct(c[level]['accuracy'])} ({_ci(c[level]['ci95'])})" for level in LEVELS])
    return rows


HEADERS = ["category", "correct", "total", "accuracy", "95% CI", "decision (95% CI)", "tool (95% CI)", "call (95% CI)"]


def summary_lines(summary: dict) -> list[tuple[str, str]]:
    m, lat = summary["model"], summary["latency"]
    tc = summary["tool_calls"]
    formats = ", ".join(f"{k} ({v})" for k, v in summary["formats"].items()) or "none"
    lines = [
        ("model", f"{m['name']} ({m['backend']})"),
        ("tool calls on tool cases", f"{tc['made']}/{tc['tool_cases']}"),
        ("formats seen", formats),
        ("near misses", ", ".join(f"{k} ({v})" for k, v in summary["near_misses"].items()) or "none"),
        ("failure reasons", ", ".join(f"{k} ({v})" for k, v in summary["reasons"].items()) or "none"),
        ("backend errors", str(summary["backend_errors"]["count"])),
        ("disk size", human_bytes(m["size_bytes"])),
        ("load time", secs(m["load_s"])),
        ("peak memory", human_bytes(m["peak_memory_bytes"])),
        ("latency mean / p50 / p95", f"{secs(lat['mean_s'])} / {secs(lat['p50_s'])} / {secs(lat['p95_s'])}"
                                     f" ({', '.join(lat['timing'])})"),
        *_batch_lines(summary.get("generation") or {}),
        ("tokens/s", "-" if summary["tokens_per_s"] is None else f"{summary['tokens_per_s']:.1f}"),
    ]
    return lines + [("warning", w) for w in summary["warnings"]]


def _batch_lines(generation: dict) -> list[tuple[str, str]]:
    if generation.get("mode") != "batched":
        return []
    return [("batched latency", f"from batch start to each case's finish, batch size {generation['batch_size']}"),
            ("throughput", f"{generation['cases_per_s']:.2f} cases/s")]


def render(summary: dict, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(summary, indent=2)
    from tabulate import tabulate

    tablefmt = "github" if fmt == "md" else "simple"
    head = f"## {summary['suite']} on {summary['model']['name']}\n\n" if fmt == "md" else ""
    body = tabulate(table_rows(summary), headers=HEADERS, tablefmt=tablefmt)
    facts = tabulate(summary_lines(summary), tablefmt=tablefmt, headers=["", ""] if fmt == "md" else ())
    return f"{head}{body}\n\n{facts}\n"


def emit(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    else:
        print(text)
