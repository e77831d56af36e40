"""One self-contained HTML file for a run (`harness report --format html`) or a diff (`harness diff
--format html`): inline CSS and SVG drawn here, no script, nothing fetched from anywhere.

Model output, case ids and category names are untrusted: every piece of run data goes through
`_e` (html.escape) on its way into the page, in text and in attributes alike.
"""
import math
from html import escape

from harness.reporting import diff
from dataclasses import asdict

from harness.reporting.render import headers, status_line, summary_lines, table_rows
from harness.reporting.kinds import confusion_rows
from harness.reporting.stats import percentile
from harness.reporting.summary import summarize_run
from harness.results import LoadedRun
from harness.text import excerpt, failure_label, pct, scrub

RUN_COLORS = ["#4e79a7", "#f28e2b", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#bab0ac"]
PASS_COLOR, FAIL_COLOR = "#59a14f", "#e15759"
WIDTH = 960
FAILED_SHOWN = 300  # a page stays readable (and small) on a 100,000-case run

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; padding: 0 12px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; } th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
pre { white-space: pre-wrap; word-break: break-word; max-height: 14em; overflow: auto; margin: 0;
      background: #f8f8f8; padding: 4px; font-size: 12px; }
svg text { font: 12px system-ui, sans-serif; fill: #333; } .muted { color: #777; }
.partial { color: #fff; background: #c0392b; padding: 6px 10px; font-weight: bold; }
"""


def _e(value) -> str:
    return escape(scrub(str(value)), quote=True)


def _page(title: str, sections: list[str]) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>\n<h1>{_e(title)}</h1>\n" + "\n".join(sections) + "\n</body></html>\n")


def _table(headers: list | None, rows: list[list], raw_columns: tuple = ()) -> str:
    """An HTML table of escaped cells; columns in raw_columns hold HTML this module made (escaped already)."""
    head = "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead>" if headers else ""
    body = "".join("<tr>" + "".join(f"<td>{cell if i in raw_columns else _e(cell)}</td>" for i, cell in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _pre(text: str | None) -> str:
    return f"<pre>{_e(text or '')}</pre>"


# --- plots -----------------------------------------------------------------------------------

def accuracy_chart(groups: dict[str, list[dict | None]], labels: list[str]) -> str:
    """Bars of accuracy per group (categories, overall), one bar per run, with 95% Wilson whiskers."""
    left, top, bottom, plot_h = 44, 34, 44, 220
    plot_w = WIDTH - left - 10
    group_w = plot_w / max(1, len(groups))
    bar_w = min(48, group_w * 0.8 / len(labels))
    parts = [_legend([(c, lab) for c, lab in zip(RUN_COLORS * 9, labels)], left, 14)]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#e4e4e4"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{100 * tick:.0f}%</text>')
    for g, (name, counts) in enumerate(groups.items()):
        x0 = left + g * group_w + (group_w - bar_w * len(labels)) / 2
        for i, (c, label) in enumerate(zip(counts, labels)):
            x = x0 + i * bar_w
            if not c or c["accuracy"] is None:
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - 4}" text-anchor="middle">n/a</text>')
                continue
            h = plot_h * c["accuracy"]
            lo, hi = c["ci95"]
            tip = f"{name}, {label}: {c['passed']}/{c['total']} = {pct(c['accuracy'])} (95% CI {pct(lo)} to {pct(hi)})"
            cx, y_lo, y_hi = x + bar_w / 2, top + plot_h * (1 - lo), top + plot_h * (1 - hi)
            parts.append(f'<g><title>{_e(tip)}</title>'
                         f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                         f'fill="{RUN_COLORS[i % len(RUN_COLORS)]}"/>'
                         f'<line x1="{cx:.1f}" y1="{y_lo:.1f}" x2="{cx:.1f}" y2="{y_hi:.1f}" stroke="#222"/>'
                         f'<line x1="{cx - 4:.1f}" y1="{y_lo:.1f}" x2="{cx + 4:.1f}" y2="{y_lo:.1f}" stroke="#222"/>'
                         f'<line x1="{cx - 4:.1f}" y1="{y_hi:.1f}" x2="{cx + 4:.1f}" y2="{y_hi:.1f}" stroke="#222"/></g>')
        parts.append(f'<text x="{left + (g + 0.5) * group_w:.1f}" y="{top + plot_h + 18}" text-anchor="middle">{_e(name)}</text>')
    return _svg(top + plot_h + bottom, parts, "accuracy per category with 95% Wilson intervals")


def latency_strips(rows: list[tuple[str, list[tuple[float, bool]]]]) -> str:
    """One strip per run: a dot per case at its latency (green passed, red failed), p50 and p95 marks."""
    values = [lat for _, points in rows for lat, _ in points]
    if not values:
        return '<p class="muted">no latencies recorded</p>'
    left, top, row_h = 180, 34, 56
    plot_w = WIDTH - left - 20
    step, top_value = _axis(max(values))
    scale = plot_w / top_value
    parts = [_legend([(PASS_COLOR, "passed"), (FAIL_COLOR, "failed"), ("#222", "p50 (solid), p95 (dashed)")], left, 14)]
    axis_y = top + row_h * len(rows)
    for k in range(round(top_value / step) + 1):
        x = left + k * step * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}" stroke="#e4e4e4"/>'
                     f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle">{k * step:g} s</text>')
    for r, (label, points) in enumerate(rows):
        mid = top + r * row_h + row_h / 2
        parts.append(f'<text x="{left - 8}" y="{mid + 4:.1f}" text-anchor="end">{_e(excerpt(label, 26))}</text>')
        for j, (lat, passed) in enumerate(points):
            jitter = ((j * 0.618034) % 1 - 0.5) * row_h * 0.6  # deterministic spread so equal latencies stay visible
            parts.append(f'<circle cx="{left + lat * scale:.1f}" cy="{mid + jitter:.1f}" r="3.5" fill-opacity="0.75" '
                         f'fill="{PASS_COLOR if passed else FAIL_COLOR}"/>')
        lats = [lat for lat, _ in points]
        for q, dash in ((50, ""), (95, ' stroke-dasharray="4 3"')):
            p = percentile(lats, q)
            if p is not None:
                x = left + p * scale
                parts.append(f'<line x1="{x:.1f}" y1="{mid - row_h / 2 + 4:.1f}" x2="{x:.1f}" y2="{mid + row_h / 2 - 4:.1f}" '
                             f'stroke="#222" stroke-width="2"{dash}><title>p{q} {p:.2f} s</title></line>')
    return _svg(axis_y + 26, parts, "latency per case")


def _axis(largest: float) -> tuple[float, float]:
    """A round tick step (1, 2 or 5 times a power of ten) giving about five ticks, and the axis end."""
    raw = max(largest, 1e-3) / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return step, step * math.ceil(largest / step) if largest > 0 else step


def _legend(items: list[tuple[str, str]], x: float, y: float) -> str:
    out = []
    for color, label in items:
        out.append(f'<rect x="{x:.0f}" y="{y - 10}" width="12" height="12" fill="{color}"/>'
                   f'<text x="{x + 16:.0f}" y="{y}">{_e(label)}</text>')
        x += 28 + 7 * len(label)
    return "".join(out)


def _svg(height: float, parts: list[str], title: str) -> str:
    return (f'<svg width="{WIDTH}" height="{height:.0f}" viewBox="0 0 {WIDTH} {height:.0f}" role="img" '
            f'aria-label="{_e(title)}">' + "".join(parts) + "</svg>")


# --- pages -----------------------------------------------------------------------------------

def render_report(run: LoadedRun) -> str:
    summary = summarize_run(run)
    scored = [r for r in run.records if not r.not_judged]
    name = summary.model["name"] or str(run.run_dir)
    groups = {c: [asdict(v)] for c, v in summary.categories.items()} | {"overall": [asdict(summary.overall)]}
    failed = [r for r in scored if not r.passed]
    errors = [r for r in run.records if r.not_judged]
    sections = [
        f'<p class="muted">run folder {_e(run.run_dir)}, suite {_e(summary.suite)}</p>',
        f'<p class="{"partial" if summary.coverage["partial"] else "muted"}">{_e(status_line(summary))}</p>',
        _table(headers(summary), table_rows(summary)),
        _table(None, summary_lines(summary)),
        ("<h2>Response kinds: expected (rows) vs produced (columns)</h2>"
         + _table(confusion_rows(summary.kinds)[0], confusion_rows(summary.kinds)[1:]) if summary.kinds else ""),
        "<h2>Accuracy per category</h2>" + accuracy_chart(groups, [name]),
        "<h2>Latency</h2>" + latency_strips([(name, [(r.latency_s, r.passed) for r in scored
                                                     if r.latency_s is not None])]),
        f"<h2>Failed cases ({len(failed)})</h2>" + (_table(
            ["case", "category", "reason", "detail", "output"],
            [[r.name, r.category, failure_label(r.reason, r.p_call), r.detail, _pre(r.output)]
             for r in failed[:FAILED_SHOWN]],
            raw_columns=(4,)) if failed else '<p class="muted">none</p>')
        + (f'<p class="muted">{len(failed) - FAILED_SHOWN} more failed cases not shown; '
           f'harness report --format json lists them all</p>' if len(failed) > FAILED_SHOWN else ""),
    ]
    for reason, title in (("backend_error", "Backend errors"), ("harness_error", "Harness errors")):
        rows = [[r.name, r.error or r.detail] for r in errors if r.reason == reason]
        if rows:
            sections.append(f"<h2>{title} ({len(rows)})</h2>" + _table(["case", "error"], rows))
    return _page(f"{summary.suite} on {name}", sections)


def render_diff(doc: dict) -> str:
    labels = [f"{r['label']}: {r['name']}" for r in doc["runs"]]
    groups = doc["categories"] | {"overall": doc["overall"]}
    headers, rows = diff.side_by_side(doc)
    strips = [(label, [(c["latency_s"][i], c["passed"][i] == 1) for c in doc["cases"] if c["latency_s"][i] is not None])
              for i, label in enumerate(labels)]
    sections = [
        "<ul>" + "".join(f"<li>{_e(lab)} ({_e(r['run_dir'])}, suite {_e(r['suite'])}, {_e(diff.run_state(r))})</li>"
                         for lab, r in zip(labels, doc["runs"])) + "</ul>",
        f"<p>{_e(diff.coverage_line(doc))}</p>",
        _table(headers, rows),
        "<h2>Accuracy per category</h2>" + accuracy_chart(groups, labels),
        "<h2>Latency</h2>" + latency_strips(strips),
    ]
    for pair in doc["pairs"]:
        sections.append(f"<h2>{_e(diff.pair_headline(pair))}</h2>" + _table(
            ["category", "fixed", "broken", "McNemar p"],
            [[c, v["fixed"], v["broken"], f"{v['mcnemar_p']:.3g}"] for c, v in pair["categories"].items()]))
        for kind in ("broken", "fixed"):
            flips = pair[f"{kind}_cases"]
            sections.append(f"<h3>{kind} in {_e(pair['b'])} ({len(flips)})</h3>" + (_table(
                ["case", "category", "reason", f"{pair['a']} output", f"{pair['b']} output"],
                [[f["id"], f["category"], f"{f['reason']}: {f['detail']}", _pre(f["output_a"]), _pre(f["output_b"])]
                 for f in flips[:FAILED_SHOWN]], raw_columns=(3, 4)) if flips else '<p class="muted">none</p>')
                + (f'<p class="muted">{len(flips) - FAILED_SHOWN} more {kind} cases not shown; '
                   f'harness diff --format json lists them all</p>' if len(flips) > FAILED_SHOWN else ""))
    return _page("diff: " + " vs ".join(r["name"] for r in doc["runs"]), sections)
