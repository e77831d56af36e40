"""A first run that talks: the demo build reports each stage and the fine-tune's time left, measured
on this machine; on a terminal a redrawn step/loss line. Built with the real builder on a shrunken
recipe (a tiny model, a few steps) into a temporary cache, so it takes seconds, not minutes.
And scripts/setup.sh says nothing but a start and a ready line unless a step fails."""
import io
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from harness.demo import build, data


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def small_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(build, "DEMO_SPEC_ARGS", {"hidden": 64, "layers": 1, "intermediate": 128, "vocab": 600})
    monkeypatch.setattr(build, "DEMO_STEPS", 14)
    conversations = data.conversations()[:24]
    monkeypatch.setattr(data, "conversations", lambda: conversations)
    return tmp_path / "cache"


def test_build_prints_a_line_per_stage_and_a_measured_estimate(small_recipe, monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: lines only, nothing redrawn
    lines: list[str] = []
    path = build.demo_model_path(progress=lines.append)
    assert (path / "config.json").is_file() and path.parent == small_recipe
    assert len(lines) == 5, lines
    assert lines[0].startswith(f"building the demo model into {path}") and "1.5-5 minutes" in lines[0] and "time left follows" in lines[0]
    assert re.fullmatch(r"  tokenizer trained and model initialised on 24 conversations \(\d+\.\d s\)", lines[1])
    assert re.fullmatch(r"  fine-tuning 14 steps: about \d+ s left \(timed over steps 2-10 on this machine\)", lines[2])
    losses = re.fullmatch(r"  fine-tuned 14 steps in \d+ s \(loss (\d+\.\d+) -> (\d+\.\d+)\)", lines[3])
    assert losses and float(losses[2]) < float(losses[1])  # it did learn
    assert re.fullmatch(r"demo model ready in \d+ s", lines[4])
    assert sys.stderr.getvalue() == ""
    # built once: the next call finds it and says nothing
    assert build.demo_model_path(progress=lines.append) == path and len(lines) == 5


def test_build_on_a_terminal_redraws_step_loss_and_time_left(small_recipe, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    lines: list[str] = []
    build.demo_model_path(progress=lines.append)
    drawn = terminal.getvalue()
    steps = re.findall(r"\r  fine-tune step (\d+)/14  loss (\d+\.\d{3})  (\d+) s left", drawn)
    assert steps and steps[-1][0] == "14" and steps[-1][2] == "0" and drawn.endswith("\n")
    assert not any("timed over" in line for line in lines)  # the live line replaces the estimate line
    assert lines[0].startswith("building the demo model") and lines[-1].startswith("demo model ready")



@pytest.mark.parametrize("fail", [False, True])
def test_setup_is_quiet_unless_a_step_fails(tmp_path, fail):
    """scripts/setup.sh in a copy whose .venv python is a noisy stand-in for pip (no install happens)."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "Collecting noise for $*"\n'
                      + ('case "$*" in *-e*) echo "ERROR: no matching distribution" >&2; exit 1;; esac\n' if fail else ""))
    python.chmod(0o755)
    r = subprocess.run(["bash", str(tmp_path / "scripts" / "setup.sh")], capture_output=True, text=True, timeout=120)
    if not fail:
        assert r.returncode == 0 and "Collecting" not in r.stdout + r.stderr, r.stdout + r.stderr
        assert r.stdout.splitlines()[-1] == "ready: .venv/bin/harness --help"
    else:
        assert r.returncode == 1 and "ready" not in r.stdout
        assert "setup failed while installing the package (pip install -e .[dev]); its output:" in r.stderr
        assert "Collecting noise for -m pip install -e .[dev]" in r.stderr and "ERROR: no matching distribution" in r.stderr
        assert "upgrade pip" not in r.stderr  # the step that passed stays quiet
