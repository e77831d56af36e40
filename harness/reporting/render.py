"""A run's summary as a terminal table, Markdown or JSON: status and coverage first, then accuracy per
category, then costs, then the failed cases by name."""
import json
import sys
from pathlib import Path

from harness.errors import InputError
from harness.reporting.kinds import confusion_rows
from harness.records import LEVELS
from harness.reporting.summary import Counts, Summary
from harness.text import ci_text, excerpt, failure_label, human_bytes, md_code, pct, secs
from harness.userfiles import check_output_path

HEADERS = ["category", "correct", "total", "accuracy", "95% CI", "decision (95% CI)", "tool (95% CI)", "call (95% CI)"]
SAMPLE_HEADERS = ["pass@k", "pass^k", "flip rate"]
FAILURES_SHOWN = 10  # in the terminal and Markdown; --failures all shows every one


def status_line(summary: Summary) -> str:
    """What state the run is in and how much of it was judged: read first, since a partial run's figures
    are not the suite's."""
    cov = summary.coverage
    state = summary.status or "unknown (no manifest)"
    line = f"status: {state}; {cov['judged']} of {cov['expected']} case records judged"
    if cov["not_judged"]:
        line += f", {cov['not_judged']} not judged (backend or harness errors)"
    if cov["partial"]:
        line += " - PARTIAL RUN: figures cover the judged records only"
    if summary.damaged:
        line += f"; {summary.damaged} damaged results lines skipped"
    return line


def _row(name: str, c: Counts, with_samples: bool) -> list:
    row = [name, c.passed if isinstance(c.passed, int) else f"{c.passed:.2f}", c.total, pct(c.accuracy), ci_text(c.ci95)]
    row += [f"{pct(getattr(c, level).accuracy)} ({ci_text(getattr(c, level).ci95)})" for level in LEVELS]
    if with_samples:
        row += [pct(c.pass_at_k), pct(c.pass_all_k), pct(c.flip_rate)]
    return row


def table_rows(summary: Summary) -> list[list]:
    with_samples = summary.overall.pass_at_k is not None
    groups = list(summary.categories.items()) + [("overall", summary.overall)]
    return [_row(name, c, with_samples) for name, c in groups]


def headers(summary: Summary) -> list[str]:
    return HEADERS + (SAMPLE_HEADERS if summary.overall.pass_at_k is not None else [])


def summary_lines(summary: Summary) -> list[tuple[str, str]]:
    m, lat, tc = summary.model, summary.latency, summary.tool_calls
    lines = [
        ("model", f"{m['name']} ({m['backend']})"),
        ("tool calls on tool cases", f"{tc['made']}/{tc['tool_cases']}"),
        ("formats seen", _counted(summary.formats)),
        ("near misses", _counted(summary.near_misses)),
        ("failure reasons", _counted(summary.reasons)),
        ("backend errors", str(summary.backend_errors["count"])),
    ]
    if summary.harness_errors["count"]:
        lines.append(("harness errors", f"{summary.harness_errors['count']} (a detector or scorer failed; not the "
                                        f"model's fault: {', '.join(summary.harness_errors['cases'][:5])})"))
    if summary.samples > 1:
        lines.append(("samples", f"{summary.samples} per case; accuracy is the mean of each case's pass rate"))
    lines += [
        ("disk size", human_bytes(m["size_bytes"])),
        ("load time", secs(m["load_s"])),
        ("peak memory", human_bytes(m["peak_memory_bytes"])),
        ("latency mean / p50 / p95", f"{secs(lat['mean_s'])} / {secs(lat['p50_s'])} / {secs(lat['p95_s'])}"
                                     f" ({', '.join(lat['timing'])}: {lat['measured']})"),
    ]
    if summary.ttft:
        t = summary.ttft
        lines.append(("time to first token mean / p50 / p95", f"{secs(t['mean_s'])} / {secs(t['p50_s'])} / {secs(t['p95_s'])}"))
    lines += kind_lines(summary)
    if judge := summary.extra.get("judge"):
        lines.append(("judge", f"{judge['model']} settled {judge['settled']} of {judge['unsure']} replies the "
                               "classifier found unsure"))
    lines += _batch_lines(summary.generation)
    lines.append(("generated tokens/s", "-" if summary.tokens_per_s is None else
                  f"{summary.tokens_per_s:.1f} (all generated tokens / generation wall time)"))
    if summary.decode_tokens_per_s is not None:
        lines.append(("decode tokens/s per case", f"{summary.decode_tokens_per_s:.1f} (mean over cases run one at a time)"))
    return lines + _turn_lines(summary.extra) + [("warning", w) for w in summary.warnings]


def _turn_lines(extra: dict) -> list[tuple[str, str]]:
    """Multi-turn figures (reporting/turns.py), shown when the suite has scripted rollouts."""
    episodes, turns, mt = extra.get("episodes") or {}, extra.get("turns") or {}, extra.get("multi_turn") or {}
    if not episodes.get("total"):
        return []
    repeat, used = mt["repeat_rate"], mt["result_use_rate"]
    return [("episodes passed", f"{episodes['passed']}/{episodes['total']} ({pct(episodes['accuracy'])})"),
            ("turns passed", f"{turns['passed']}/{turns['total']} ({pct(turns['accuracy'])})"),
            ("first diverging turn", ", ".join(f"turn {k} ({v})" for k, v in mt["first_diverging_turn"].items()) or "none"),
            ("repeated calls", f"{repeat['repeats']}/{repeat['call_turns']} turns with calls"),
            ("results used", f"{used['used']}/{used['after_result']} turns after a tool result")]


def kind_lines(summary: Summary) -> list[tuple[str, str]]:
    """Response kinds: macro-F1, recall and precision per kind, and how often the model made tools up."""
    k = summary.kinds
    if k is None:
        return []
    per_kind = ", ".join(f"{kind} {pct(k.recall[kind])} / {pct(k.precision[kind])}" for kind in k.recall
                         if k.recall[kind] is not None)
    return [("response kinds: macro-F1", f"{k.macro_f1:.3f}" if k.macro_f1 is not None else "-"),
            ("recall / precision per kind", per_kind or "-"),
            ("tool hallucination", f"{pct(k.tool_hallucination_rate)} of judged records ({k.tool_hallucinations}) "
                                   "call a tool the case did not offer"),
            ("argument hallucination", f"{pct(k.argument_hallucination_rate)} of calls to offered tools "
                                       f"({k.argument_hallucinations}) pass an undeclared argument"),
            ("calls without tools", f"{pct(k.no_tools_call_rate)} of cases offering no tools ({k.no_tools_calls})")]


def confusion_table(summary: Summary, tablefmt: str) -> str:
    if summary.kinds is None:
        return ""
    from tabulate import tabulate

    header, *rows = confusion_rows(summary.kinds)
    return "response kinds, expected (rows) vs produced (columns):\n" + tabulate(rows, headers=header, tablefmt=tablefmt)


def _counted(counter: dict) -> str:
    return ", ".join(f"{k} ({v})" for k, v in counter.items()) or "none"


def _batch_lines(generation: dict) -> list[tuple[str, str]]:
    if generation.get("mode") != "batched":
        return []
    lines = [("batched latency", f"from each case's prefill to its finish, batch size {generation.get('batch_size')}")]
    cases_per_s = (generation.get("throughput") or {}).get("cases_per_s") or generation.get("cases_per_s")
    if cases_per_s:
        lines.append(("throughput", f"{cases_per_s:.2f} cases/s"))
    return lines


def failure_lines(summary: Summary, shown: int | None, md: bool) -> str:
    failures = summary.failures if shown is None else summary.failures[:shown]
    if not failures:
        return ""
    more = len(summary.failures) - len(failures)
    tail = f"\n({more} more: --failures all)" if more else ""
    if md:
        rows = [f"| {md_code(f.id)} | {md_code(f.category)} | {md_code(failure_label(f.reason, f.p_call))} | {md_code(f.output)} |"
                for f in failures]
        return "\n".join([f"### failed cases ({len(summary.failures)})", "", "| case | category | reason | output |",
                          "|---|---|---|---|", *rows]) + tail
    lines = [f"failed cases ({len(summary.failures)}):"]
    for f in failures:
        lines.append(f"  {excerpt(f.id, 60)} [{excerpt(f.category, 30)}] {failure_label(f.reason, f.p_call)}: "
                     f"{excerpt(f.detail, 100)}")
        lines.append(f"    output: {f.output}")
    return "\n".join(lines) + tail


def render(summary: Summary, fmt: str = "table", failures: int | None = FAILURES_SHOWN) -> str:
    """`failures`: how many failed cases to list (None: all); JSON always holds them all."""
    if fmt == "json":
        return json.dumps(summary.to_json(), indent=2, ensure_ascii=False)
    from tabulate import tabulate

    md = fmt == "md"
    tablefmt = "github" if md else "simple"
    head = f"## {summary.suite} on {summary.model['name']}\n\n" if md else ""
    body = tabulate(table_rows(summary), headers=headers(summary), tablefmt=tablefmt)
    facts = tabulate(summary_lines(summary), tablefmt=tablefmt, headers=["", ""] if md else ())
    parts = [f"{head}{status_line(summary)}", body, confusion_table(summary, tablefmt), facts,
             failure_lines(summary, failures, md)]
    return "\n\n".join(p for p in parts if p) + "\n"


def failures_option(value: str, flag: str = "--failures", what: str = "failed cases") -> int | None:
    """--failures N | all (and diff's --flips N | all)"""
    if value == "all":
        return None
    if value.isdigit():
        return int(value)
    raise InputError(f"{flag}: give a number of {what} to list, or 'all'; got {value!r}")


def emit(text: str, output: str | None) -> None:
    if output:
        check_output_path(output, "-o")
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    else:
        print(text)
