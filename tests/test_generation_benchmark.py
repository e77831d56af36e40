"""Smoke test of benchmarks/suite_speed.py (CI only): every path runs, ratios and identity are printed."""
import re
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_suite_speed_benchmark_prints_ratios_and_identity():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "suite_speed.py"), "--size", "tiny",
                           "--families", "qwen2,llama", "--max-tokens", "6", "--vocab", "1500"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.count("harness vs mlx-lm best path") == 4 and out.count("continuous vs fixed batches") == 2
    for label in ("harness", "harness, fixed batches", "mlx-lm best path", "sequential mlx_lm.generate"):
        assert re.search(rf"{re.escape(label)} +[\d.]+ s +[\d.]+x bound", out), label
    identical = re.findall(r"   harness  .*identical (\d+)/(\d+)", out)
    assert len(identical) == 4 and all(same == total for same, total in identical), identical
