"""`harness --help`, `harness validate` and `import harness` must not import the heavy libraries
(mlx_lm alone takes about 0.9 s to import): they are imported inside the commands that generate."""
import os
import subprocess
import sys

import pytest

from conftest import REFERENCE_SUITE, ROOT

HEAVY = ("mlx", "mlx_lm", "transformers", "pandas")


def imported_modules(*args: str) -> set[str]:
    """Top-level names of every module a fresh interpreter imports for `python -X importtime ARGS`."""
    r = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, cwd=ROOT,
                       timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [line.split("|")[-1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")]
    return {name.split(".")[0] for name in rows}


def test_import_harness_cli_is_light():
    assert not imported_modules("-c", "import harness.cli").intersection(HEAVY)


def test_import_harness_is_light():
    assert not imported_modules("-c", "import harness").intersection(HEAVY)


def test_help_and_validate_do_not_import_heavy_libraries():
    assert not imported_modules("-m", "harness.cli", "--help").intersection(HEAVY)
    assert not imported_modules("-m", "harness.cli", "validate", str(REFERENCE_SUITE)).intersection(HEAVY)


def test_help_is_laid_out_without_importing_shutil():
    """argparse would import shutil (and bz2, lzma) to learn the terminal's width; cli.Formatter gives it."""
    assert "shutil" not in imported_modules("-m", "harness.cli", "detect", "--text", "x")


def _script(*argv: str) -> subprocess.CompletedProcess:
    """The `harness` script's entry, with an atexit handler that prints "teardown" when the interpreter
    tears down normally."""
    code = ("import atexit, sys, harness.cli; atexit.register(lambda: print('teardown', file=sys.stderr)); "
            f"sys.argv = ['harness', *{list(argv)!r}]; harness.cli.entry()")
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as a user's shell runs it
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                          env=buffered)


def test_quick_exit_commands_skip_teardown_but_flush_and_keep_their_exit_code(tmp_path):
    """A QUICK_EXIT command ends without the interpreter's teardown, its printed output whole and its exit
    code kept; any other command ends normally."""
    done = _script("detect", "--text", '<tool_call>{"name": "f", "arguments": {}}</tool_call>')
    assert done.returncode == 0 and "teardown" not in done.stderr
    assert done.stdout.startswith("format:    hermes_json\n") and done.stdout.endswith("near miss: -\n")
    bad = _script("detect", str(tmp_path / "missing.jsonl"))
    assert bad.returncode == 2 and "cannot read" in bad.stderr and "teardown" not in bad.stderr
    other = _script("run", str(tmp_path / "missing.toml"), "--model", "demo")
    assert other.returncode == 2 and "teardown" in other.stderr


@pytest.mark.parametrize("columns", [None, "120", "0", "-5", "wide"])
def test_help_width_is_the_one_shutil_gives(monkeypatch, columns):
    """cli._columns stands in for shutil.get_terminal_size's width: $COLUMNS when positive, else the terminal's."""
    import shutil

    from harness.cli import _columns

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.delenv("LINES", raising=False)
    assert _columns() == shutil.get_terminal_size().columns
