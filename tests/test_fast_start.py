"""`harness --help`, `harness validate` and `import harness` must not import the heavy libraries
(mlx_lm alone takes about 0.9 s to import): they are imported inside the commands that generate."""
import subprocess
import sys

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
