"""Report arithmetic against hand-computed values, and backend errors kept apart from accuracy."""
import pytest

from harness.detect.base import Detection
from harness.records import Manifest, Record
from harness.reporting.render import render
from harness.reporting.stats import percentile, wilson
from harness.reporting.summary import summarize


def test_wilson_matches_hand_computation():
    lo, hi = wilson(17, 20)
    assert lo == pytest.approx(0.6396, abs=1e-4) and hi == pytest.approx(0.9476, abs=1e-4)
    assert wilson(0, 0) is None
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0


def test_percentile_interpolates():
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile(list(range(1, 21)), 95) == pytest.approx(19.05)
    assert percentile([], 50) is None


def _rec(id, category, passed, latency, reason=None, outcome="call", fmt="hermes_json", expect="tool"):
    judged = None if reason == "backend_error" else passed
    return Record(id=id, category=category, passed=passed, reason=reason, decision=judged, tool=judged, call=judged,
                  latency_s=latency, completion_tokens=10, expect=expect, expects_call=expect != "direct",
                  tokens_per_s=10 / latency if latency else None, timing="sequential",
                  detection=Detection(outcome=outcome, format=fmt))


def test_summary_counts_and_backend_errors_apart(tmp_path):
    records = [_rec("a", "x", True, 1.0), _rec("b", "x", False, 3.0, reason="wrong_tool"),
               _rec("c", "y", True, 2.0, outcome="none", fmt=None, expect="direct"),
               _rec("d", "y", False, None, reason="backend_error", outcome="none", fmt=None)]
    manifest = Manifest(run_dir=str(tmp_path), status="partial", suite={"name": "s", "cases": 4},
                        model={"name": "m", "backend": "mlx", "size_bytes": 2_500_000, "load_s": 0.5},
                        generation={"throughput": {"tokens_per_s": 7.5}})
    s = summarize(records, manifest, tmp_path)
    assert s.overall.total == 3 and s.overall.passed == 2
    assert s.categories["y"].total == 1
    assert s.backend_errors == {"count": 1, "cases": ["d"]}
    assert s.tool_calls == {"made": 2, "tool_cases": 2}
    assert s.formats == {"hermes_json": 2}
    assert s.latency["mean_s"] == 2.0 and s.latency["p50_s"] == 2.0
    assert s.tokens_per_s == 7.5  # the run's throughput, not a sum of per-case rates
    assert s.decode_tokens_per_s == pytest.approx((10 + 10 / 3 + 5) / 3)
    assert s.coverage == {"expected": 4, "judged": 3, "not_judged": 1, "partial": True}
    assert [f.id for f in s.failures] == ["b"]
    text = render(s, "table")
    assert "2.5 MB" in text and "0.50 s" in text and "2/2" in text
    md = render(s, "md")
    assert md.startswith("## ") and "| category" in md
    assert "PARTIAL RUN" in text and "3 of 4" in text  # a partial run says so before any figure
    assert text.index("PARTIAL RUN") < text.index("category")
    assert "failed cases (1)" in text and "wrong_tool" in text


@pytest.mark.parametrize("samples", [1, 3])
def test_counts_are_over_cases_whatever_the_samples_and_a_category_of_errors_alone_counts_zero(samples):
    """One record per case is counted in C, several per case case by case: both give the same figures; a
    category whose only records are backend errors has no judged case, whatever the path."""
    import dataclasses

    base = [_rec("a", "x", True, 1.0), _rec("b", "x", False, 2.0, reason="wrong_tool"), _rec("c", "y", True, 1.0),
            _rec("e", "z", False, None, reason="backend_error")]
    records = [dataclasses.replace(r, sample=k) for r in base for k in range(samples)]
    s = summarize(records, Manifest(samples=samples))
    assert (s.overall.total, s.overall.passed, s.overall.records) == (3, 2, 3 * samples)
    assert s.overall.accuracy == pytest.approx(2 / 3) and s.overall.call.passed == 2
    assert s.categories["x"].total == 2 and s.categories["x"].passed == 1
    assert s.categories["z"].total == 0 and s.categories["z"].accuracy is None
    assert (s.overall.pass_at_k is None) == (samples == 1)


def test_mcnemar_on_thousands_of_pairs_agrees_with_the_exact_sum_and_stays_fast():
    from math import comb

    from harness.reporting import stats

    for b, c in [(900, 1100), (700, 1290), (20, 1970)]:
        n = b + c
        exact = min(1.0, 2 * sum(comb(n, k) for k in range(min(b, c) + 1)) / 2**n)
        assert stats.mcnemar_exact(b, c) == exact  # under EXACT_UP_TO: the integer sum itself
        old, stats.EXACT_UP_TO = stats.EXACT_UP_TO, 0
        try:
            assert stats.mcnemar_exact(b, c) == pytest.approx(exact, rel=1e-9, abs=1e-300)
        finally:
            stats.EXACT_UP_TO = old
    assert 0.9 < stats.mcnemar_exact(50_000, 50_010) <= 1.0  # 100,000 pairs: float path, no big integers
