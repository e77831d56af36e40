"""Shared fixtures: the demo model is built once (into the harness cache) and reused by every test."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_SUITE = ROOT / "suites" / "coding_tools.toml"


@pytest.fixture(scope="session")
def demo_model() -> Path:
    from harness.demo.build import demo_model_path

    return demo_model_path(progress=lambda m: None)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the real `harness` CLI in a subprocess, as a user would."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout, env=env)
