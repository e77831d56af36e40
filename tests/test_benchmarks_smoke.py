"""Smoke tests of the benchmarks that print the speed goals' figures (CI only, `-m slow`): each runs on a
small input, every path of it, and prints its figures in the form the README and the notes quote."""
import re
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow


def benchmark(name: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], capture_output=True, text=True,
                          timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_detect_speed_prints_cli_and_in_process_rates():
    out = benchmark("detect_speed.py", "--outputs", "400", "--seconds", "0.01", "--repeat", "1")
    assert re.search(r"detect\(\) [\d,]+/s; harness detect - [\d,]+/s CPU .*start-up [\d,]+ ms CPU; [\d,]+/s after it", out)
    assert re.search(r"goal: harness detect - >= 50,000 outputs/s: after start-up (met|NOT met); with start-up on 400 "
                     r"outputs (met|NOT met)", out)
    assert re.search(r"slowest: \w+ at [\d,]+ detections/s", out)


def test_report_scale_times_every_command_against_its_goal():
    out = benchmark("report_scale.py", "--records", "1500")
    for command in ("report ", "report --format json", "report --format md", "report --format html", "diff A B",
                    "gate --baseline"):
        assert re.search(rf"{re.escape(command)} +[\d.]+ s \(goal < [\d.]+ s\) +peak +\d+ MiB", out), command
    assert "of 6 commands within their goals (1500 records per run)" in out


def test_startup_prints_the_help_figure():
    out = benchmark("startup.py", "--runs", "2")
    assert re.search(r"harness --help: [\d.]+ ms \(goal < 100 ms\): (met|NOT met)", out)
    assert out.count(" ms wall ") == 3


def test_probe_speed_prints_the_ratio():
    out = benchmark("probe_speed.py", "--random", "qwen2", "--size", "tiny", "--max-tokens", "4", "--repeats", "1",
                    "--skip-category", "multi_turn")
    assert re.search(r"without multi_turn\): \d+ cases", out)
    assert re.search(r"probing cost / generation cost: [\d.]+% \(goal < 20%\): (met|NOT met)", out)


def test_suite_speed_prints_ratios_and_identity():
    out = benchmark("suite_speed.py", "--size", "tiny", "--families", "qwen2,llama", "--max-tokens", "6", "--vocab", "1500")
    assert out.count("harness vs mlx-lm best path") == 4 and out.count("continuous vs fixed batches") == 2
    for label in ("harness", "harness, fixed batches", "mlx-lm best path", "sequential mlx_lm.generate"):
        assert re.search(rf"{re.escape(label)} +[\d.]+ s +[\d.]+x bound", out), label
    identical = re.findall(r"   harness  .*identical (\d+)/(\d+)", out)
    assert len(identical) == 4 and all(same == total for same, total in identical), identical
