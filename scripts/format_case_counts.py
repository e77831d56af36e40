"""The format table of docs/formats.md: each label the detector reports, the module that reads
it, its markers, and how many rows of the detector's test tables expect it (so gaps show). Rows are
the (id, output, outcome, format, calls) tuples of the lists in tests/test_detect_*.py.

    .venv/bin/python scripts/format_case_counts.py           # print the table
    .venv/bin/python scripts/format_case_counts.py --write   # rewrite it in docs/formats.md
    .venv/bin/python scripts/format_case_counts.py --check   # exit 1 when docs/formats.md is stale
"""
import argparse
import importlib.util
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.detect.cascade import REGISTRY  # noqa: E402

DOC = ROOT / "docs" / "formats.md"
START, END = "<!-- format-table:start -->", "<!-- format-table:end -->"
OUTCOMES = ("call", "malformed", "none")


def table_rows(path: Path) -> list[tuple]:
    """The case rows of one test module's module-level lists."""
    spec = importlib.util.spec_from_file_location(f"_cases_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [row for value in vars(module).values() if isinstance(value, list) for row in value
            if isinstance(row, tuple) and len(row) == 5 and isinstance(row[0], str) and row[2] in OUTCOMES
            and (row[3] is None or isinstance(row[3], str)) and isinstance(row[4], list)]


def case_counts() -> Counter:
    counts = Counter()
    for path in sorted((ROOT / "tests").glob("test_detect_*.py")):
        counts.update(row[3] or "(no call)" for row in table_rows(path))
    return counts


def _formats() -> list[tuple[str, object]]:
    """(module name, Format) for every Format defined in harness/detect/formats/."""
    out = []
    for path in sorted((ROOT / "harness" / "detect" / "formats").glob("[a-z]*.py")):
        module = importlib.import_module(f"harness.detect.formats.{path.stem}")
        out += [(path.stem, fmt) for fmt in vars(module).values() if fmt in REGISTRY]
    return out


def _code(marker: str) -> str:
    marker = marker.replace("|", "\\|")
    return f"`` {marker} ``" if "`" in marker else f"`{marker}`"


def table() -> str:
    """The markdown table, one row per reported label."""
    counts, formats = case_counts(), _formats()
    rows = {}  # label -> [modules, markers, read as the whole answer]
    for module, fmt in formats:
        row = rows.setdefault(fmt.label, [[], [], False])
        row[0] += [module] if module not in row[0] else []
        row[1] += [m for m in fmt.markers if m not in row[1]]
        row[2] = row[2] or not fmt.markers
    for module, fmt in formats:  # labels a module reports besides its Formats' own (deepseek_v31, json_list)
        source = (ROOT / "harness" / "detect" / "formats" / f"{module}.py").read_text(encoding="utf-8")
        for label in set(re.findall(r'"([a-z0-9_]+)"', source)) & set(counts) - set(rows):
            rows[label] = [[module], list(fmt.markers), not fmt.markers]
    lines = ["| format label | module (harness/detect/formats/) | markers | test cases |", "|---|---|---|---|"]
    for label in sorted(rows):
        module, markers, whole = rows[label]
        shown = ", ".join(map(_code, markers)) + ("; " if markers and whole else "") + ("the whole answer" if whole else "")
        lines.append(f"| `{label}` | {', '.join(module)} | {shown} | {counts.get(label, 0)} |")
    lines.append(f"| (no call expected) | | | {counts.get('(no call)', 0)} |")
    return "\n".join(lines)


def current() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index(START) + len(START):text.index(END)].strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/formats.md")
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/formats.md is not current")
    args = parser.parse_args()
    fresh = table()
    if args.write:
        text = DOC.read_text(encoding="utf-8")
        head, rest = text.split(START, 1)
        DOC.write_text(head + START + "\n" + fresh + "\n" + END + rest.split(END, 1)[1], encoding="utf-8")
    elif args.check:
        if current() != fresh:
            print("docs/formats.md is stale: run scripts/format_case_counts.py --write", file=sys.stderr)
            return 1
    else:
        print(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
