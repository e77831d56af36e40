"""Response-kind figures of a run, from its records: a confusion matrix of expected vs produced kind,
per-kind precision and recall, macro-F1 and hallucination rates, per run and per category, and the
gate keys that read them. Pure functions of the records; records the model was never judged on
(backend and harness errors) are left out.
"""
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from harness.errors import InputError
from harness.expect import intended_kinds, parse_expectation
from harness.records import KINDS, Record

EXPECTED = ("call", "answer", "ask", "decline")  # kinds a case is written for, in report order
ORDER = EXPECTED + tuple(k for k in KINDS if k not in EXPECTED)


@dataclass
class KindMetrics:
    """Expected against produced response kinds: the confusion table and each kind's scores."""
    judged: int  # records with a response kind (unjudged and pre-kind records left out)
    # expected kind -> produced kind -> records; a case accepting several kinds (BFCL irrelevance's
    # any_of) has the row "answer|ask|decline" and stays out of precision, recall and F1
    confusion: dict[str, dict[str, int]]
    precision: dict[str, float | None]  # of the records that produced the kind, the share expected to
    recall: dict[str, float | None]  # of the records expected to produce the kind, the share that did
    f1: dict[str, float | None]
    macro_f1: float | None  # mean F1 over the kinds some case expects
    tool_hallucinations: int  # records calling at least one tool the case did not offer
    tool_hallucination_rate: float | None  # ... of judged records
    argument_hallucinations: int  # records giving an offered tool an argument its schema does not declare
    argument_hallucination_rate: float | None  # ... of records that called an offered tool
    no_tools_calls: int  # records with a call although the case offered no tools
    no_tools_call_rate: float | None  # ... of records whose case offered no tools


def expected_label(record: Record) -> str:
    """The kind(s) a record's case is written for ("direct" reads as answer), joined by | in EXPECTED order."""
    try:
        kinds = intended_kinds(parse_expectation(record.expect, f"record {record.id!r}"))
    except InputError:
        return "unknown"
    return "|".join(k for k in ORDER if k in kinds) or "unknown"


def kind_metrics(records: list[Record]) -> KindMetrics:
    judged = [r for r in records if not r.not_judged and r.response_kind in KINDS]
    confusion: dict[str, Counter] = {}
    for r in judged:
        confusion.setdefault(expected_label(r), Counter())[r.response_kind] += 1
    single = {label: row for label, row in confusion.items() if label in EXPECTED}
    precision, recall, f1 = {}, {}, {}
    for kind in EXPECTED:
        produced = sum(row[kind] for row in single.values())
        expected = sum(single.get(kind, Counter()).values())
        hit = single.get(kind, Counter())[kind]
        precision[kind] = hit / produced if produced else None
        recall[kind] = hit / expected if expected else None
        f1[kind] = 2 * hit / (produced + expected) if expected else None  # = 2PR/(P+R); 0 when never produced
    scored = [f1[k] for k in EXPECTED if k in single]
    offered_calls = [r for r in judged if r.tools_offered and _called_offered(r)]
    no_tools = [r for r in judged if not r.tools_offered]
    tool_h = sum(1 for r in judged if r.hallucinated_tools)
    arg_h = sum(1 for r in offered_calls if r.hallucinated_arguments)
    bare = sum(1 for r in no_tools if r.detection.calls)
    return KindMetrics(
        judged=len(judged), confusion={label: dict(row) for label, row in sorted(confusion.items(), key=_row_order)},
        precision=precision, recall=recall, f1=f1, macro_f1=sum(scored) / len(scored) if scored else None,
        tool_hallucinations=tool_h, tool_hallucination_rate=_rate(tool_h, len(judged)),
        argument_hallucinations=arg_h, argument_hallucination_rate=_rate(arg_h, len(offered_calls)),
        no_tools_calls=bare, no_tools_call_rate=_rate(bare, len(no_tools)))


def by_category(records: list[Record]) -> dict[str, KindMetrics]:
    return {name: kind_metrics([r for r in records if r.category == name])
            for name in sorted({r.category for r in records})}


# Gate keys -> (what is measured, how it is read from KindMetrics); all are fractions, and the
# key's prefix (min_/max_) is the bound. None (nothing to measure) fails a rule, as budgets do.
GATE_KEYS: dict[str, tuple[str, Callable[[KindMetrics], float | None]]] = {
    "max_tool_hallucination_rate": ("share of records calling a tool not offered", lambda m: m.tool_hallucination_rate),
    "max_argument_hallucination_rate": ("share of calls to offered tools with an undeclared argument",
                                        lambda m: m.argument_hallucination_rate),
    "max_no_tools_call_rate": ("share of no-tool cases answered with a call", lambda m: m.no_tools_call_rate),
    "min_macro_f1": ("macro-F1 over expected response kinds", lambda m: m.macro_f1),
    **{f"min_{kind}_recall": (f"{kind} recall", lambda m, kind=kind: m.recall[kind]) for kind in EXPECTED},
    **{f"min_{kind}_precision": (f"{kind} precision", lambda m, kind=kind: m.precision[kind]) for kind in EXPECTED},
}


def gate_value(key: str, metrics: KindMetrics) -> float | None:
    return GATE_KEYS[key][1](metrics)


def confusion_rows(metrics: KindMetrics) -> list[list[str]]:
    """A table: header row, then one row per expected label with a count per produced kind."""
    produced = [k for k in KINDS if any(row.get(k) for row in metrics.confusion.values())]
    rows = [["expected \\ produced", *produced, "recall"]]
    for label, row in metrics.confusion.items():
        recall = metrics.recall.get(label)
        rows.append([label, *(str(row.get(k, 0)) for k in produced),
                     "-" if recall is None else f"{100 * recall:.1f}%"])
    return rows


def _called_offered(record: Record) -> bool:
    return any(c.name not in record.hallucinated_tools for c in record.detection.calls)


def _row_order(item: tuple[str, Counter]) -> tuple:
    label = item[0]
    return (EXPECTED.index(label) if label in EXPECTED else len(EXPECTED), label)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None
