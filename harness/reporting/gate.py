"""`harness gate RUN --rules gate.toml [--baseline RUN] [--junit FILE [--junit-cases]] [--summary FILE]`: a CI verdict.

Rules are floors on accuracy (overall and per category, per scoring level), limits against a
baseline run (cases broken, accuracy drop) and budgets (latency, size, memory, backend errors).
Exit 0 when every rule passes, 1 when one fails, 2 when the rules file or a run is wrong.
"""
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from harness.reporting import diff
from harness.errors import InputError
from harness.records import LEVELS, Record
from harness.reporting.render import status_line
from harness.reporting.kinds import GATE_KEYS as KIND_KEYS
from harness.reporting.kinds import gate_value as kind_gate_value
from harness.reporting.summary import Counts, Summary
from harness.text import excerpt, human_bytes, md_code, pct, secs
from harness.userfiles import read_toml

# Floors on a group of records (overall or a category): key -> scoring level (None: passed at all levels).
FLOORS = {"min_accuracy": None, "min_decision": "decision", "min_tool": "tool", "min_call": "call",
          "min_pass_all": "pass_all_k", "min_pass_at_k": "pass_at_k"}  # the last two need --samples > 1
# Floors on multi-turn figures (reporting/turns.py), [overall] only: key -> (summary section, what it measures).
TURN_FLOORS = {"min_episode_success": ("episodes", "episode success"),
               "min_turn_accuracy": ("turns", "per-turn accuracy")}
# Budgets: key -> (what is measured, how it is read from a report summary, kind of value).
BUDGETS = {
    "max_latency_p95_s": ("latency p95", lambda s: s.latency["p95_s"], "seconds"),
    "max_latency_p50_s": ("latency p50", lambda s: s.latency["p50_s"], "seconds"),
    "max_latency_mean_s": ("latency mean", lambda s: s.latency["mean_s"], "seconds"),
    "max_load_s": ("load time", lambda s: s.model["load_s"], "seconds"),
    "max_size_bytes": ("disk size", lambda s: s.model["size_bytes"], "bytes"),
    "max_peak_memory_bytes": ("peak memory", lambda s: s.model["peak_memory_bytes"], "bytes"),
    "min_tokens_per_s": ("generated tokens/s", lambda s: s.tokens_per_s, "rate"),
    "max_backend_errors": ("backend errors", lambda s: s.backend_errors["count"], "count"),
}
DEFAULT_BUDGETS = {"max_backend_errors": 0}  # a gate never passes a run that lost cases unless the rules allow it
BASELINE = {"max_broken": ("cases broken vs baseline", "count"),
            "max_accuracy_drop": ("accuracy drop vs baseline", "points")}
SECTIONS = ("overall", "categories", "baseline", "budgets", "kinds")
LEVEL_NAMES = {"pass_all_k": "pass^k", "pass_at_k": "pass@k"}
COMPLETE_RULE = "[run] complete"  # added by evaluate unless allow_partial: a partial run fails the gate
TOLERANCE = 1e-9  # accuracies are float ratios: 0.95 - 0.9 must not exceed a 0.05 limit


@dataclass
class Rule:
    """One gate rule: what it measures, its limit, and what the run measured."""
    key: str  # where it is written: "[categories.lint] min_tool"
    what: str  # what it measures: "lint tool accuracy"
    limit: float
    measured: float | None  # None: the run does not measure it, which fails the rule
    kind: str  # fraction | points | seconds | bytes | count | rate
    bound: str  # "min" or "max"
    note: str = ""  # why a rule that is not measured failed, and the fix

    @property
    def passed(self) -> bool:
        if self.measured is None:
            return False
        if self.bound == "min":
            return self.measured >= self.limit - TOLERANCE
        return self.measured <= self.limit + TOLERANCE

    def missed_by(self) -> str:
        if self.passed or self.measured is None:
            return ""
        gap = abs(self.measured - self.limit)
        return f"{'short' if self.bound == 'min' else 'over'} by {_value(gap, 'points' if self.kind == 'fraction' else self.kind)}"

    def line(self) -> str:
        sign = ">=" if self.bound == "min" else "<="
        measured = "not measured" if self.measured is None else _value(self.measured, self.kind)
        missed = f" ({self.missed_by()})" if self.missed_by() else ""
        missed += f" ({self.note})" if self.note and not self.passed else ""
        return f"{'PASS' if self.passed else 'FAIL'}  {self.key}: {self.what} {measured}, limit {sign} {_value(self.limit, self.kind)}{missed}"


def _value(x: float, kind: str) -> str:
    if kind == "fraction":
        return pct(x)
    if kind == "points":
        return f"{100 * x:.1f} points"
    if kind == "seconds":
        return secs(x)
    if kind == "bytes":
        return human_bytes(x)
    if kind == "rate":
        return f"{x:.1f}/s"
    return str(int(x))


# --- rules file ------------------------------------------------------------------------------

def load_rules(path: str | Path) -> dict:
    path = Path(path)
    rules = read_toml(path, "gate rules file", "see examples/gate.toml")
    for section, table in rules.items():
        if section not in SECTIONS:
            raise InputError(f"{path}: unknown section [{section}]; known: {', '.join(SECTIONS)}")
        if not isinstance(table, dict):
            raise InputError(f"{path}: '{section}' must be a table, [{section}]")
    _check(path, "overall", rules.get("overall", {}), dict.fromkeys([*FLOORS, *TURN_FLOORS], "fraction"))
    for name, table in rules.get("categories", {}).items():
        if not isinstance(table, dict):
            raise InputError(f"{path}: 'categories.{name}' must be a table, [categories.{name}]")
        _check(path, f"categories.{name}", table, dict.fromkeys(FLOORS, "fraction"))
    _check(path, "baseline", rules.get("baseline", {}), {k: kind for k, (_, kind) in BASELINE.items()})
    _check(path, "budgets", rules.get("budgets", {}), {k: kind for k, (_, _, kind) in BUDGETS.items()})
    _check(path, "kinds", rules.get("kinds", {}), dict.fromkeys(KIND_KEYS, "fraction"))
    return rules


def _check(path: Path, section: str, table: dict, kinds: dict[str, str]) -> None:
    for key, value in table.items():
        if key not in kinds:
            raise InputError(f"{path}: unknown key '{key}' in [{section}]; known: {', '.join(kinds)}")
        kind = kinds[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind in ("fraction", "points"):
            if not (number and 0 <= value <= 1):
                raise InputError(f"{path}: [{section}] {key} = {value!r}: give a fraction from 0 to 1 (0.9 is 90%)")
        elif kind == "count":
            if not (number and isinstance(value, int) and value >= 0):
                raise InputError(f"{path}: [{section}] {key} = {value!r}: give a whole number, 0 or more")
        elif not (number and value >= 0):
            raise InputError(f"{path}: [{section}] {key} = {value!r}: give a number, 0 or more")


# --- evaluation ------------------------------------------------------------------------------

def rule_key(section: str, key: str) -> str:
    """Where a rule is written, as the gate prints it: "[categories.lint] min_tool"."""
    return f"[{section}] {key}"


def rule_keys(rules: dict, allow_partial: bool = False) -> list[str]:
    """The keys `evaluate` returns rules for, in its order, known before anything is measured."""
    keys = [] if allow_partial else [COMPLETE_RULE]
    keys += [rule_key("overall", k) for k in rules.get("overall", {})]
    keys += [rule_key(f"categories.{name}", k) for name, table in rules.get("categories", {}).items() for k in table]
    keys += [rule_key("baseline", k) for k in rules.get("baseline", {})]
    keys += [rule_key("budgets", k) for k in {**DEFAULT_BUDGETS, **rules.get("budgets", {})}]
    return keys + [rule_key("kinds", k) for k in rules.get("kinds", {})]


def evaluate(rules: dict, summary: Summary, comparison: dict | None, rules_path: str | Path,
             allow_partial: bool = False) -> list[Rule]:
    """Each rule measured on the run (and on its comparison with the baseline, for [baseline]). A partial,
    interrupted or failed run fails its own rule unless `allow_partial`."""
    cov = summary.coverage
    out = [] if allow_partial else [Rule(COMPLETE_RULE, f"run status {summary.status or 'unknown'}, judged records",
                                         cov["expected"], cov["judged"] if not cov["partial"] else None, "count", "min",
                                         note="partial run; pass --allow-partial to gate it anyway"
                                         if cov["partial"] else "")]
    overall = rules.get("overall", {})
    out += _floors("overall", "overall", {k: v for k, v in overall.items() if k in FLOORS}, summary.overall)
    for key, limit in overall.items():
        if key in TURN_FLOORS:  # a run without rollouts measures no episode success: the rule fails
            section, what = TURN_FLOORS[key]
            out.append(Rule(f"[overall] {key}", what, limit, summary.extra[section]["accuracy"], "fraction", "min"))
    for name, table in rules.get("categories", {}).items():
        if name not in summary.categories:
            raise InputError(f"{rules_path}: [categories.{name}] names no category of {summary.run_dir} "
                             f"(it has: {', '.join(summary.categories)})")
        out += _floors(f"categories.{name}", name, table, summary.categories[name])
    if rules.get("baseline"):
        if comparison is None:
            raise InputError(f"{rules_path}: [baseline] rules need a baseline run: give --baseline RUN")
        pair = comparison["pairs"][0]
        base, new = (c["accuracy"] for c in comparison["overall"])
        measured = {"max_broken": len(pair["flips"]["broken"]), "max_accuracy_drop": base - new}
        for key, limit in rules["baseline"].items():
            what, kind = BASELINE[key]
            out.append(Rule(rule_key("baseline", key), what, limit, measured[key], kind, "max"))
    for key, limit in {**DEFAULT_BUDGETS, **rules.get("budgets", {})}.items():
        what, get, kind = BUDGETS[key]
        out.append(Rule(rule_key("budgets", key), what, limit, get(summary), kind, "min" if key.startswith("min_") else "max"))
    for key, limit in rules.get("kinds", {}).items():  # a run without response kinds measures none: the rule fails
        what, _ = KIND_KEYS[key]
        measured = kind_gate_value(key, summary.kinds) if summary.kinds else None
        out.append(Rule(rule_key("kinds", key), what, limit, measured, "fraction", "min" if key.startswith("min_") else "max"))
    if not any(rules.get(section) for section in SECTIONS):
        raise InputError(f"{rules_path}: no rules; see examples/gate.toml")
    return out


def _floors(section: str, group: str, table: dict, counts: Counts) -> list[Rule]:
    rules = []
    for key, limit in table.items():
        level = FLOORS[key]
        if level is None:
            measured = counts.accuracy
        elif level in LEVELS:
            measured = getattr(counts, level).accuracy
        else:
            measured = getattr(counts, level)
        what = f"{group} {LEVEL_NAMES.get(level, level)} accuracy" if level else f"{group} accuracy"
        rules.append(Rule(rule_key(section, key), what, limit, measured, "fraction", "min"))
    return rules


# --- outputs ---------------------------------------------------------------------------------

def junit_xml(records: list[Record], summary: Summary, rules: list[Rule], cases: bool = False) -> str:
    """JUnit where the rules are the tests: a failed rule is a failure, and nothing else is.

    With `cases`, a second testsuite lists every case; a failed case (or a backend error) is
    <skipped> with its reason, and its output in <system-out>: CI tools count any failure or error
    as a red build, but list skipped tests with their message, so the cases stay visible while
    the verdict stays the gate's.
    """
    root = ET.Element("testsuites", name="harness gate")
    suite_name = f"{summary.suite} on {summary.model['name']}"
    checks = ET.SubElement(root, "testsuite", name=f"gate rules: {suite_name}")
    for rule in rules:
        tc = ET.SubElement(checks, "testcase", classname="gate", name=rule.key, time="0")
        if not rule.passed:
            ET.SubElement(tc, "failure", type="gate", message=rule.line())
    _count(checks)
    if cases:
        listed = ET.SubElement(root, "testsuite", name=f"cases: {suite_name}")
        for r in [r for r in records if not r.is_turn]:  # a rollout is one testcase: its episode record
            _case_testcase(listed, r, summary.suite)
        _count(listed)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr)) for s in root)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _case_testcase(parent: ET.Element, r: Record, suite: str) -> None:
    tc = ET.SubElement(parent, "testcase", classname=f"{suite}.{excerpt(r.category)}",
                       name=excerpt(r.name, 200), time=f"{r.latency_s or 0:.3f}")
    if r.passed:
        return
    if r.not_judged:  # the harness or server failed, not the model; [budgets] max_backend_errors caps it
        ET.SubElement(tc, "skipped", type=r.reason,
                      message=f"not judged (the gate decides the build): {excerpt(r.error or r.detail, 500)}")
        return
    ET.SubElement(tc, "skipped", type=r.reason or "failed",
                  message=f"case failed (not a gate rule; the gate decides the build): {r.reason}: {excerpt(r.detail, 500)}")
    ET.SubElement(tc, "system-out").text = f"{excerpt(r.detail, 2000)}\noutput: {excerpt(r.output, 2000)}"


def _count(testsuite: ET.Element) -> None:
    testsuite.set("tests", str(len(testsuite)))
    testsuite.set("failures", str(len(testsuite.findall("testcase/failure"))))
    testsuite.set("errors", str(len(testsuite.findall("testcase/error"))))
    testsuite.set("skipped", str(len(testsuite.findall("testcase/skipped"))))


def summary_md(summary: Summary, rules: list[Rule], comparison: dict | None, baseline: str | None) -> str:
    failed = [r for r in rules if not r.passed]
    verdict = f"❌ failed: {len(failed)} of {len(rules)} rules" if failed else f"✅ passed: all {len(rules)} rules"
    o = summary.overall
    lines = [f"## Gate {verdict}", "", f"{status_line(summary)}", "",
             f"{md_code(summary.suite or '')} on {md_code(summary.model['name'] or '')}: "
             f"{o.passed}/{o.total} cases passed, {summary.backend_errors['count']} backend errors"
             + (f"; compared with baseline {md_code(baseline)} (A: baseline, B: this run)" if baseline else ""), "",
             "| rule | measured | limit | result |", "|---|---|---|---|"]
    for r in rules:
        measured = "not measured" if r.measured is None else _value(r.measured, r.kind)
        result = "✅ pass" if r.passed else f"❌ fail ({r.missed_by() or 'not measured'})"
        lines.append(f"| {md_code(r.key)} | {measured} | {'≥' if r.bound == 'min' else '≤'} "
                     f"{_value(r.limit, r.kind)} | {result} |")
    if comparison:
        lines += ["", diff.render_pair(comparison["pairs"][0], md=True)]
    return "\n".join(lines) + "\n"


