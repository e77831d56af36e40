"""docs/formats.md keeps a current table of the formats and their test-case counts."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("format_case_counts", ROOT / "scripts" / "format_case_counts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_format_table_is_current():
    script = load_script()
    assert script.current() == script.table(), "run .venv/bin/python scripts/format_case_counts.py --write"


def test_table_counts_rows_of_the_test_tables():
    script = load_script()
    counts = script.case_counts()
    recovery = script.table_rows(ROOT / "tests" / "test_detect_recovery.py")
    assert sum(1 for row in recovery if row[3] == "functionary_v2") == counts["functionary_v2"] >= 5
    from harness.detect.cascade import REGISTRY
    table = script.table()
    assert all(f"| `{fmt.label}` |" in table for fmt in REGISTRY)  # every format has a row, gaps show as 0
