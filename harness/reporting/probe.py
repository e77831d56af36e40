"""Probe and sweep reports as a terminal table, JSON or one self-contained HTML page (inline SVG, no
script; every piece of run data escaped)."""
import json

from harness.reporting.html import _e, _page, _table
from harness.text import excerpt, p_text, pct

MEASURED = ("p_call: the model's probability that the assistant turn starts with the template's call marker, "
            "from one teacher-forced forward pass over the rendered prompt (no generation)")
AUC_MEANS = "AUC: probability that a random tool case gets a higher p_call than a random direct case (ties half)"
SWEEP_COLORS = {"tool": "#4e79a7", "direct": "#f28e2b", "accuracy": "#59a14f"}


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _spread_cells(s: dict) -> list:
    return [s["n"], p_text(s["mean"]), p_text(s["median"])]


def _forced_cells(f: dict | None) -> list:
    return ["-", "-"] if not f else [f"{pct(f['tool'])} of {f['n']}", f"{pct(f['call'])} of {f['n']}"]


PROBE_HEADERS = ["category", "tool n", "tool mean", "tool median", "direct n", "direct mean", "direct median",
                 "AUC", "forced: tool", "forced: call"]


def probe_rows(report: dict) -> list[list]:
    blocks = list(report["summary"]["categories"].items()) + [("overall", report["summary"]["overall"])]
    return [[name] + _spread_cells(b["tool"]) + _spread_cells(b["direct"]) + [_num(b["auc"])] + _forced_cells(b["forced"])
            for name, b in blocks]


def _top(case: dict) -> str:
    return ", ".join(f"'{excerpt(t, 16)}' {p_text(p)}" for t, p in case["top_tokens"][:3])


def boundary_rows(report: dict) -> list[list]:
    by_id = {c["id"]: c for c in report["cases"]}
    return [[c["id"], c["category"], "tool" if c["expects_call"] else "direct", p_text(c["p_call"]), _top(c)]
            for c in (by_id[i] for i in report["summary"]["boundary"])]


def probe_report(suite: str, model: str, run_dir: str, cases: list, summary: dict) -> dict:
    """The JSON form of a probe (harness.probe.ProbeRecord per case), a fixed interface other tools read:
    cases[{id, category, expects_call, p_call, forced: {passed, reason, ...} | null}] and auc."""
    keep = ("id", "category", "expects_call", "p_call", "na", "marker", "top_tokens", "forced")
    return {"suite": suite, "model": model, "run_dir": run_dir, "auc": summary["overall"]["auc"],
            "measured": MEASURED, "cases": [{k: getattr(c, k) for k in keep} for c in cases], "summary": summary}


def render_probe(report: dict, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False)
    facts = [("marker", ", ".join(sorted({repr(c["marker"]) for c in report["cases"] if c["marker"]})) or "-"),
             ("AUC tool vs direct", _num(report["auc"])), ("measured", MEASURED), ("AUC means", AUC_MEANS)]
    facts += [("n/a", reason) for reason in report["summary"]["na"]]
    boundary_headers = ["nearest p_call 0.5", "category", "expects", "p_call", "top first tokens"]
    if fmt == "html":
        forced = [[c["id"], c["category"], p_text(c["p_call"]), "pass" if c["forced"]["passed"] else "fail",
                   c["forced"]["reason"] or "", f"<pre>{_e(c['forced']['output'])}</pre>"]
                  for c in report["cases"] if c.get("forced")]
        sections = [f"<p class=\"muted\">{_e(report['run_dir'])}</p>", "<h2>p_call by category</h2>",
                    _table(PROBE_HEADERS, probe_rows(report)), "<h2>Nearest the decision boundary</h2>",
                    _table(boundary_headers, boundary_rows(report)), _table(None, [list(f) for f in facts])]
        if forced:
            sections += ["<h2>Forced calls</h2>",
                         _table(["case", "category", "p_call", "forced", "reason", "output"], forced, raw_columns=(5,))]
        return _page(f"Decision probe: {report['suite']} on {report['model']}", sections)
    from tabulate import tabulate  # disable_numparse: cells are already formatted (6e-4 stays 6e-4)

    return (f"{tabulate(probe_rows(report), headers=PROBE_HEADERS, disable_numparse=True)}\n\n"
            f"{tabulate(boundary_rows(report), headers=boundary_headers, disable_numparse=True)}\n\n{tabulate(facts, disable_numparse=True)}\n")


# --- sweeps ---------------------------------------------------------------------------------------

SWEEP_HEADERS = ["iteration", "checkpoint", "tool mean p_call", "tool median", "direct mean p_call", "direct median",
                 "AUC", "accuracy"]


def sweep_rows(report: dict) -> list[list]:
    return [[p["iteration"], p["checkpoint"], p_text(p["tool"]["mean"]), p_text(p["tool"]["median"]),
             p_text(p["direct"]["mean"]), p_text(p["direct"]["median"]), _num(p["auc"]), pct(p["accuracy"])]
            for p in report["points"]]


def sweep_chart(points: list[dict], width: int = 760, height: int = 280) -> str:
    """Mean p_call on tool and direct cases (and accuracy) against the training iteration, as inline SVG."""
    left, top, right, bottom = 48, 30, 16, 36
    w, h = width - left - right, height - top - bottom
    xs = [p["iteration"] for p in points]
    span = (max(xs) - min(xs)) or 1

    def x(it):
        return left + w * (it - min(xs)) / span

    def y(v):
        return top + h * (1 - v)

    parts = []
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{left + w}" y2="{y(tick):.1f}" stroke="#e4e4e4"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
    for it in xs:
        parts.append(f'<text x="{x(it):.1f}" y="{top + h + 16}" text-anchor="middle">{_e(it)}</text>')
    series = {"tool": [p["tool"]["mean"] for p in points], "direct": [p["direct"]["mean"] for p in points],
              "accuracy": [p["accuracy"] for p in points]}
    labels = {"tool": "mean p_call, tool cases", "direct": "mean p_call, direct cases", "accuracy": "accuracy"}
    for i, (name, values) in enumerate(series.items()):
        pts = [(x(it), y(v), it, v) for it, v in zip(xs, values) if v is not None]
        if not pts:
            continue
        color = SWEEP_COLORS[name]
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                     + " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in pts) + '"/>')
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{color}"><title>{_e(labels[name])} at '
                  f'iteration {_e(it)}: {_e(p_text(v))}</title></circle>' for px, py, it, v in pts]
        parts.append(f'<rect x="{left + 8 + 210 * i}" y="8" width="12" height="12" fill="{color}"/>'
                     f'<text x="{left + 24 + 210 * i}" y="18">{_e(labels[name])}</text>')
    parts.append(f'<text x="{left + w / 2:.1f}" y="{height - 4}" text-anchor="middle">training iteration</text>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def render_sweep(report: dict, fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False)
    facts = [("base", report["base"]), ("adapters", report["adapters"]),
             ("base load", f"{report['load_s']:.2f} s, once; each checkpoint's adapter weights swapped in"),
             ("measured", MEASURED), ("accuracy", "share of cases passed when generated (--generate)")]
    if fmt == "html":
        return _page(f"Checkpoint sweep: {report['suite']}", [
            sweep_chart(report["points"]), _table(SWEEP_HEADERS, sweep_rows(report)), _table(None, [list(f) for f in facts])])
    from tabulate import tabulate  # disable_numparse: cells are already formatted (6e-4 stays 6e-4)

    return f"{tabulate(sweep_rows(report), headers=SWEEP_HEADERS, disable_numparse=True)}\n\n{tabulate(facts, disable_numparse=True)}\n"
