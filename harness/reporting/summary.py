"""Summarise a run: per-category accuracy at each scoring level, tool calls made, formats seen,
model size, load time and latency (rendering lives in render.py)."""
from collections import Counter
from pathlib import Path

from harness.errors import InputError
from harness.expect import is_tool_expected, parse_expectation
from harness.reporting.stats import percentile, wilson
from harness.scoring import LEVELS
from harness.results import is_backend_error, read_manifest, read_records


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
    """The case expects a call (ask, decline and answer cases do not)."""
    try:
        return is_tool_expected(parse_expectation(record.get("expect"), f"record {record.get('id')!r}"))
    except InputError:  # a record from an older or foreign run: count it as a tool case, as before
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


