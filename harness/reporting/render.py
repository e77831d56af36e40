"""A run's summary as a terminal table, Markdown or JSON."""
import json
import sys
from pathlib import Path

from harness.scoring import LEVELS
from harness.text import ci_text, human_bytes, pct, secs

HEADERS = ["category", "correct", "total", "accuracy", "95% CI", "decision (95% CI)", "tool (95% CI)", "call (95% CI)"]


def table_rows(summary: dict) -> list[list]:
    rows = []
    for name, c in list(summary["categories"].items()) + [("overall", summary["overall"])]:
        rows.append([name, c["passed"], c["total"], pct(c["accuracy"]), ci_text(c["ci95"])]
                    + [f"{pct(c[level]['accuracy'])} ({ci_text(c[level]['ci95'])})" for level in LEVELS])
    return rows


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
    probed = [(f"failed tool case {case}", label) for case, label in summary.get("probed_failures", [])]
    return lines + probed + [("warning", w) for w in summary["warnings"]]


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
