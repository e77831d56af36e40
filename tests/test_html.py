"""HTML reports: self-contained, plots present, and model output / ids / categories always escaped."""
import re
import shutil
import subprocess

import pytest

from conftest import run_cli
from replay_runs import call, make_run

XSS = '<script>alert(1)</script><script src="https://evil.example/x.js"></script><img src=x onerror=alert(2)>'
WEIRD_SUITE = """
name = "weird<suite>"
[[cases]]
id = "<img src=x onerror=alert(3)>"
category = "<b>bold</b>"
prompt = "hi"
expect = "direct"
[[cases]]
id = "plain"
category = "</svg><script>alert(4)</script>"
prompt = "hello"
expect = "direct"
"""
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z]+:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("html")
    a = make_run(root / "a", latency={"read-1": 3.2, "lint-2": 0.4}, model={"name": "model<A>"})
    b = make_run(root / "b", fail=["lint-2", "direct-3"], outputs={"lint-2": XSS, "direct-3": f"ok {XSS}\n{call('read_file', path=XSS)}"},
                 latency={"read-1": 2.5, "lint-2": 1.7}, missing=["test-1"])
    suite = root / "weird.toml"
    suite.write_text(WEIRD_SUITE)
    weird = make_run(root / "weird", fail=["plain"], outputs={"plain": XSS}, suite=suite)
    out = {}
    for name, args in {"report": ("report", str(b)), "diff": ("diff", str(a), str(b)),
                       "weird": ("report", str(weird))}.items():
        out[name] = root / f"{name}.html"
        r = run_cli(*args, "--format", "html", "-o", str(out[name]))
        assert r.returncode == 0, r.stderr
    return out


@pytest.mark.parametrize("name", ["report", "diff", "weird"])
def test_untrusted_text_is_escaped_and_nothing_is_fetched(pages, name):
    page = pages[name].read_text(encoding="utf-8")
    assert "<script" not in page.lower()  # the page has no script of its own, so any would be injected
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or name == "weird" and "&lt;script&gt;alert(4)" in page
    assert "<img" not in page and "onerror=alert" not in page.replace("&lt;img src=x onerror=alert", "")
    assert not EXTERNAL.findall(page)
    assert "<link" not in page and "@import" not in page and "url(" not in page


def test_report_page_has_plots_and_failed_cases(pages):
    page = pages["report"].read_text(encoding="utf-8")
    assert page.count("<svg") == 2
    bars = re.findall(r'<g><title>[^<]*95% CI[^<]*</title><rect [^>]*fill="(#\w+)"', page)
    assert bars == ["#4e79a7"] * 8  # seven categories and overall, each with its interval
    assert len(re.findall(r"<circle ", page)) == 25  # one dot per scored case; test-1 was a backend error
    assert "Failed cases (2)" in page and "Backend errors (1)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.split("Failed cases")[1]


def test_diff_page_has_runs_side_by_side(pages):
    page = pages["diff"].read_text(encoding="utf-8")
    assert page.count("<svg") == 2
    bars = re.findall(r'<g><title>[^<]*95% CI[^<]*</title><rect [^>]*fill="(#\w+)"', page)
    assert bars == ["#4e79a7", "#f28e2b"] * 8  # A and B side by side per category
    assert len(re.findall(r"<circle ", page)) == 2 * 25  # compared cases only, both runs
    assert "B vs A: 0 fixed, 2 broken" in page and "model&lt;A&gt;" in page
    assert "broken in B (2)" in page and "fixed in B (0)" in page


def test_weird_ids_and_categories(pages):
    page = pages["weird"].read_text(encoding="utf-8")
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "&lt;/svg&gt;&lt;script&gt;alert(4)" in page
    assert "weird&lt;suite&gt;" in page


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("chromium"), reason="needs chromium")
@pytest.mark.parametrize("name", ["report", "diff"])
def test_renders_in_headless_chromium(pages, name, tmp_path):
    shot = tmp_path / f"{name}.png"
    r = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
                        "--enable-logging=stderr", "--v=0", f"--screenshot={shot}", "--window-size=1200,1600",
                        pages[name].as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    assert "Uncaught" not in r.stderr and "CONSOLE" not in r.stderr
