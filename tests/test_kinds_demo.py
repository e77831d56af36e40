"""The demo model is trained to ask and decline: on the reference suite's held-out ask and decline
cases it must produce some replies of those kinds (its exact outputs differ between machines)."""

from conftest import REFERENCE_SUITE, run_cli
from harness.results import read_records


def test_demo_asks_and_declines_on_held_out_cases(tmp_path, demo_model):
    suite = tmp_path / "outcomes.toml"
    text = REFERENCE_SUITE.read_text()
    head, _, _ = text.partition("[[cases]]")
    cases = text[text.index("# --- ask:"):]  # only the ask and decline cases, to keep the run short
    suite.write_text(head + cases)
    r = run_cli("run", str(suite), "--model", "demo", "--run-dir", str(tmp_path / "run"), "--quiet")
    assert r.returncode == 0, r.stderr
    records = read_records(tmp_path / "run")
    assert {rec.category for rec in records} == {"ask", "decline"} and len(records) == 6
    kinds = [(rec.category, rec.response_kind) for rec in records]
    assert sum(category == kind for category, kind in kinds) >= 2, kinds
    assert {"ask", "decline"} & {kind for _, kind in kinds}, kinds
    assert all(rec.kind_cue for rec in records)
