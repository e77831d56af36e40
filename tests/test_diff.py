"""`harness diff`: flips aligned by case id, ratios, exact McNemar, runs of different suites."""
import json

import pytest

from conftest import run_cli
from harness.reporting.diff import compare, render, side_by_side
from harness.text import excerpt, md_code
from harness.errors import InputError
from harness.reporting.stats import mcnemar_exact
from replay_runs import make_run

BROKEN_IN_B = ["lint-1", "lint-2", "test-1", "read-1", "direct-1", "direct-2"]
SMALL_SUITE = """
name = "small"
[[tools]]
name = "read_file"
description = "Read a file."
parameters = { type = "object", properties = { path = { type = "string" } }, required = ["path"] }
[[cases]]
id = "direct-1"
category = "direct"
prompt = "What is a tuple?"
expect = "direct"
[[cases]]
id = "read-1"
category = "read_search"
prompt = "Show me config/settings.yaml."
expect = { call = "read_file" }
[[cases]]
id = "only-here"
category = "direct"
prompt = "What is a list?"
expect = "direct"
"""


def test_mcnemar_exact_by_hand():
    assert mcnemar_exact(1, 6) == pytest.approx(2 * (1 + 7) / 128)  # 0.125
    assert mcnemar_exact(6, 1) == mcnemar_exact(1, 6)
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 3) == 1.0  # capped at 1
    assert mcnemar_exact(0, 60) < 1e-15  # big counts stay exact integers until the last division


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("diff")
    a = make_run(root / "a", fail=["typecheck-1"], latency=1.0,
                 model={"name": "small", "size_bytes": 1_000_000_000, "load_s": 2.0, "peak_memory_bytes": 3_000_000_000})
    b = make_run(root / "b", fail=BROKEN_IN_B, latency=2.0,
                 model={"name": "big", "size_bytes": 4_000_000_000, "load_s": 3.0, "peak_memory_bytes": 6_000_000_000})
    return a, b


def test_flips_ratios_and_mcnemar(pair):
    doc = compare(list(pair))
    assert doc["flips"] == {"fixed": ["typecheck-1"], "broken": BROKEN_IN_B}
    assert doc["mcnemar_p"] == pytest.approx(0.125)  # b=1 fixed, c=6 broken
    assert doc["compared"] == 26 and doc["backend_error_cases"] == 0
    assert [o["passed"] for o in doc["overall"]] == [25, 20]
    assert doc["categories"]["lint"][1]["accuracy"] == pytest.approx(1 / 3)
    lint = doc["pairs"][0]["categories"]["lint"]
    assert lint == {"fixed": 0, "broken": 2, "mcnemar_p": pytest.approx(0.5)}
    broken = {f["id"]: f for f in doc["pairs"][0]["broken_cases"]}
    assert broken["direct-1"]["reason"] == "unexpected_call" and broken["lint-1"]["reason"] == "no_call"
    assert "<tool_call>" in broken["direct-1"]["output_b"] and broken["direct-1"]["output_a"] == "A direct answer."

    headers, rows = side_by_side(doc)
    assert headers == ["", "A: small", "B: big", "B/A"]
    table = {row[0]: row[1:] for row in rows}
    assert table["disk size"] == ["1.0 GB", "4.0 GB", "4.00x"]
    assert table["load time"] == ["2.00 s", "3.00 s", "1.50x"]
    assert table["peak memory"][-1] == "2.00x"
    assert table["latency p95"] == ["1.00 s", "2.00 s", "2.00x"]
    assert table["overall (26)"] == ["96.2%", "76.9%", "0.80x"]
    assert table["tool calls on tool cases"][:2] == ["12/13", "9/13"]

    text = render(doc, "table")
    assert "B vs A: 1 fixed, 6 broken; exact McNemar p = 0.125" in text
    assert "lint-1 [lint] no_call" in text and "\\n" in text  # outputs shown on one escaped line
    md = render(doc, "md")
    assert "| ` direct-1 ` | ` direct ` | ` unexpected_call ` |" in md


def test_cli_json(pair):
    r = run_cli("diff", str(pair[0]), str(pair[1]), "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) >= {"runs", "overall", "categories", "flips", "mcnemar_p", "pairs"}
    assert doc["mcnemar_p"] == pytest.approx(0.125)


def test_three_runs_pair_each_with_the_first(pair, tmp_path):
    c = make_run(tmp_path / "c", fail=["typecheck-1", "typecheck-2"])
    doc = compare([*pair, c])
    assert [(p["a"], p["b"]) for p in doc["pairs"]] == [("A", "B"), ("A", "C")]
    assert doc["flips"] == doc["pairs"][0]["flips"]
    assert doc["pairs"][1]["flips"] == {"fixed": [], "broken": ["typecheck-2"]}
    assert "C vs A: 0 fixed, 1 broken" in render(doc, "table")


def test_different_suites_compare_shared_ids_only(pair, tmp_path):
    suite = tmp_path / "small.toml"
    suite.write_text(SMALL_SUITE)
    small = make_run(tmp_path / "small", fail=["direct-1"], suite=suite)
    doc = compare([pair[0], small])
    assert doc["compared"] == 2
    assert [r["not_shared"] for r in doc["runs"]] == [24, 1]
    assert doc["flips"] == {"fixed": [], "broken": ["direct-1"]}
    assert doc["mcnemar_p"] == 1.0
    assert "left out: 24 of A, 1 of B not in every run" in render(doc, "table")


def test_backend_errors_are_left_out_of_the_comparison(pair, tmp_path):
    lost = make_run(tmp_path / "lost", fail=["lint-1"], missing=["lint-1", "test-2"])  # lost, not failed
    doc = compare([pair[0], lost])
    assert doc["compared"] == 24 and doc["backend_error_cases"] == 2
    assert doc["runs"][1]["backend_errors"] == 2
    assert doc["flips"] == {"fixed": ["typecheck-1"], "broken": []}
    assert "2 with a backend error in some run" in render(doc, "table")


def test_usage_errors(pair, tmp_path):
    assert run_cli("diff", str(pair[0])).returncode == 2
    r = run_cli("diff", str(pair[0]), str(pair[1]), "--format", "html")
    assert r.returncode == 2 and "-o FILE.html" in r.stderr
    with pytest.raises(InputError, match="no results"):
        compare([pair[0], tmp_path])


def test_excerpt_and_markdown_cells():
    assert excerpt("a\nb\t\x01" + "x" * 100, 20) == "a\\nb\\t\\x01xxxxxxxxx…"
    assert excerpt("\ud800") == "\ufffd"  # a lone surrogate from JSON would break UTF-8 output
    assert md_code("a|b") == "` a\\|b `"
    assert md_code("x `y` z") == "`` x `y` z ``"


def test_load_results_gives_one_row_per_record(pair):
    import harness

    df = harness.load_results(pair[1])
    assert len(df) == 26 and df["id"].is_unique
    assert df["passed"].sum() == 20 and set(df["model"]) == {"big"}
    assert "detection.outcome" in df.columns
