"""Decision probes on real mlx-lm models: p_call separates tool from direct cases on the demo model; on a
copy whose call marker is unreachable p_call is ~0 while a forced call is still right (issue 17)."""
import json
import math
import shutil
from pathlib import Path

import pytest

from conftest import REFERENCE_SUITE, run_cli
from harness.text import p_text
from harness.suite import load_suite

pytest.importorskip("mlx_lm")

MARKER = "<tool_call>"


def silence_output_token(model_dir: Path, token: str) -> None:
    """Untie the output layer from the embeddings and zero `token`'s row: its logit is then always 0, so the
    model practically never writes it, but it still reads it as input (a forced marker works as before)."""
    import mlx.core as mx
    from tokenizers import Tokenizer

    token_id = Tokenizer.from_file(str(model_dir / "tokenizer.json")).token_to_id(token)
    path = str(model_dir / "model.safetensors")
    weights = mx.load(path)
    head = mx.array(weights.get("lm_head.weight", weights["model.embed_tokens.weight"]))
    head[token_id] = 0
    mx.save_safetensors(path, {**weights, "lm_head.weight": head})
    config = json.loads((model_dir / "config.json").read_text())
    (model_dir / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": False}))


@pytest.fixture(scope="module")
def silenced_model(demo_model, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("silenced") / "model"
    shutil.copytree(demo_model, target)
    silence_output_token(target, MARKER)
    return target


@pytest.fixture(scope="module")
def demo_backend():
    from harness.backends.mlx import MLXBackend
    from harness.models import resolve_model

    backend = MLXBackend(resolve_model("demo", "models.toml"))
    backend.load()
    return backend


def _probe_json(*args: str) -> dict:
    proc = run_cli("probe", str(REFERENCE_SUITE), *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_batched_p_call_equals_one_full_forward_pass(demo_backend):
    """The shared prefix prefilled once and a right-padded batch give the figures of a plain forward pass."""
    from harness.backends import mlx_probe
    from harness.backends.base import Request
    from harness.suite import load_suite

    cases = load_suite(REFERENCE_SUITE).cases
    probed = demo_backend.probe([Request(c) for c in cases])
    marker_ids = demo_backend.tokenizer.encode(MARKER, add_special_tokens=False)
    assert len(marker_ids) == 1
    for case, found in zip(cases, probed):
        full = math.exp(sum(mlx_probe.full_logprobs(demo_backend.model, demo_backend.render(Request(case)), marker_ids)))
        assert found.p_call == pytest.approx(full, rel=1e-3, abs=1e-7), case.id
        tokens = [t for t, _ in found.top_tokens]
        probs = [p for _, p in found.top_tokens]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-5
        if MARKER in tokens:  # the top-token list and p_call read the same distribution
            assert probs[tokens.index(MARKER)] == pytest.approx(found.p_call, rel=1e-4)


def test_multi_token_marker_is_teacher_forced(demo_backend):
    """A marker of several tokens scores as the product of each token's probability given the ones before."""
    from harness.backends import mlx_probe
    from harness.backends.base import Request
    from harness.probe import CallMarker
    from harness.suite import load_suite

    case = load_suite(REFERENCE_SUITE).cases[0]
    marker = MARKER + '\n{"name": "'
    ids = demo_backend.tokenizer.encode(marker, add_special_tokens=False)
    assert len(ids) > 2
    saved = demo_backend._marker
    demo_backend._marker = CallMarker(marker=marker)
    try:
        found = demo_backend.probe([Request(case)])[0]
    finally:
        demo_backend._marker = saved
    prompt = demo_backend.render(Request(case))
    expected = math.exp(sum(mlx_probe.full_logprobs(demo_backend.model, prompt, ids)))
    first_only = math.exp(mlx_probe.full_logprobs(demo_backend.model, prompt, ids[:1])[0])
    assert found.p_call == pytest.approx(expected, rel=1e-3)
    assert found.p_call < first_only  # every further token multiplies in a probability below 1


def test_candidate_scores_follow_the_case(demo_backend):
    """A call scores higher after a tool request than after a direct one, and prose the other way round."""
    from harness.backends.base import Request
    from harness.errors import InputError
    from harness.suite import load_suite

    by_id = {c.id: c for c in load_suite(REFERENCE_SUITE).cases}
    call = MARKER + '\n{"name": "execute_code", "arguments": {"code": "ruff check ."}}\n</tool_call>'
    prose = "You can do that with a short standard-library call."
    lint = demo_backend.score_candidates(Request(by_id["lint-2"]), [call, prose])
    direct = demo_backend.score_candidates(Request(by_id["direct-4"]), [call, prose])
    assert all(s < 0 for s in lint + direct)
    assert lint[0] > direct[0] and direct[1] > lint[1]
    # length-normalised: a candidate repeated twice does not score twice as low
    doubled = demo_backend.score_candidates(Request(by_id["direct-4"]), [prose + " " + prose])[0]
    assert doubled > 2 * direct[1]
    with pytest.raises(InputError, match="empty"):
        demo_backend.score_candidates(Request(by_id["lint-2"]), [call, ""])


def test_probe_separates_tool_from_direct_cases_and_resumes(demo_model, tmp_path):
    run_dir = tmp_path / "probe"
    report = _probe_json("--model", "demo", "--run-dir", str(run_dir))
    cases = report["cases"]
    assert len(cases) == len(load_suite(REFERENCE_SUITE).cases) and {"id", "category", "expects_call", "p_call", "forced"} <= set(cases[0])
    # first requests only: after a tool result the demo leans to calling again, whatever the expectation
    fresh = [c for c in cases if c["category"] != "multi_turn"]
    tool = [c["p_call"] for c in fresh if c["expects_call"]]
    direct = [c["p_call"] for c in fresh if not c["expects_call"]]
    print(f"demo model: AUC {report['auc']:.3f} (all cases), mean p_call tool {sum(tool) / len(tool):.3f}, "
          f"direct {sum(direct) / len(direct):.4f}")
    assert report["auc"] > 0.7
    assert sorted(tool)[len(tool) // 2] > 10 * sorted(direct)[len(direct) // 2]
    assert all(c["forced"] is None for c in cases)
    lines = (run_dir / "probe.jsonl").read_text().splitlines()
    assert len(lines) == len(load_suite(REFERENCE_SUITE).cases)
    again = _probe_json("--model", "demo", "--run-dir", str(run_dir))  # resumed: nothing new to probe
    assert (run_dir / "probe.jsonl").read_text().splitlines() == lines
    assert [c["p_call"] for c in again["cases"]] == [c["p_call"] for c in cases]
    table = run_cli("probe", str(REFERENCE_SUITE), "--model", "demo", "--run-dir", str(run_dir))
    assert "AUC" in table.stdout and "overall" in table.stdout and "nearest p_call 0.5" in table.stdout


@pytest.mark.slow
def test_unreachable_marker_p_call_near_zero_yet_forced_calls_are_right(silenced_model, tmp_path):
    """The reference team's situation: the model knows the format and the arguments but never starts a call."""
    out = tmp_path / "probe.html"
    report = _probe_json("--model", str(silenced_model), "--force-call", "--run-dir", str(tmp_path / "p"))
    tool = [c for c in report["cases"] if c["expects_call"]]
    assert max(c["p_call"] for c in report["cases"]) < 1e-2
    forced = [c["forced"] for c in tool]
    assert all(f is not None and set(f) >= {"passed", "reason"} for f in forced)
    assert all(c["forced"] is None for c in report["cases"] if not c["expects_call"])
    passed = sum(f["passed"] for f in forced)
    # the decision apart from the knowledge: once the marker is given, the silenced copy writes the calls the
    # original model writes (how many are right depends on the demo build: it differs between machines)
    original = _probe_json("--model", "demo", "--force-call", "--run-dir", str(tmp_path / "original"))
    knows = sum(c["forced"]["passed"] for c in original["cases"] if c["expects_call"])
    print(f"unreachable marker: max p_call {max(c['p_call'] for c in tool):.1e}, forced calls right {passed}/{len(tool)} "
          f"(the original model forced: {knows}/{len(tool)})")
    assert knows > 0 and passed >= knows - 1
    assert sum(f["reason"] != "malformed_call" for f in forced) > len(tool) / 2  # it knows the format
    assert all(f["output"].startswith(MARKER) for f in forced)
    tool_level = report["summary"]["overall"]["forced"]
    assert tool_level["n"] == len(tool) and tool_level["call"] == pytest.approx(passed / len(tool))
    # the same folder renders as HTML without generating again
    html = run_cli("probe", str(REFERENCE_SUITE), "--model", str(silenced_model), "--force-call", "--run-dir",
                   str(tmp_path / "p"), "--format", "html", "-o", str(out))
    page = out.read_text()
    assert html.returncode == 0 and "<script" not in page and "Forced calls" in page and "&lt;tool_call&gt;" in page


@pytest.mark.slow
def test_run_with_probe_shows_p_call_beside_failed_tool_cases(silenced_model, tmp_path):
    proc = run_cli("run", str(REFERENCE_SUITE), "--model", str(silenced_model), "--probe", "--quiet",
                   "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert all(isinstance(r["p_call"], float) and 0 <= r["p_call"] < 1e-2 for r in records)
    failed = [r for r in records if r["expects_call"] and r["reason"] == "no_call"]
    assert failed
    report = run_cli("report", str(tmp_path / "run"), "--failures", "all")
    for r in failed:  # each failed tool case's line carries its own p_call
        line = next(x for x in report.stdout.splitlines() if x.startswith(f"  {r['id']} ["))
        assert f"no_call (p_call {p_text(r['p_call'])}):" in line


@pytest.mark.parametrize("args, needle", [
    (["probe", str(REFERENCE_SUITE), "--model", "demo", "--format", "html"], "-o FILE.html"),
    (["probe", "nowhere.toml", "--model", "demo"], "nowhere.toml"),
    (["sweep", str(REFERENCE_SUITE), "--base", "demo", "--adapters", "no_such_adapters"], "adapter_config.json"),
])
def test_bad_input_exits_2_with_one_line(args, needle):
    proc = run_cli(*args)
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("seed", range(6))
def test_length_buckets_cover_every_sequence_once_and_cut_padding(seed):
    """Batches of similar width: each sequence once, within the size and token caps, never more padded tokens
    (plus per-batch overhead) than one batch of all, and strictly fewer when widths spread widely."""
    import random

    from harness.backends.mlx_batch import FORWARD_OVERHEAD_TOKENS, length_buckets

    rng = random.Random(seed)
    widths = [rng.choice([rng.randint(5, 20), rng.randint(100, 400)]) for _ in range(rng.randint(1, 60))]
    max_size = rng.choice([1, 4, 32])
    buckets = length_buckets(widths, max_size, max_tokens=10**9)
    assert sorted(i for b in buckets for i in b) == list(range(len(widths)))
    assert all(1 <= len(b) <= max_size for b in buckets)

    def cost(bs):
        return sum(FORWARD_OVERHEAD_TOKENS + len(b) * max(widths[i] for i in b) for b in bs)

    naive = [list(range(len(widths)))[i:i + max_size] for i in range(0, len(widths), max_size)]
    assert cost(buckets) <= cost(naive)
    if max_size == 32 and min(widths) < 30 and max(widths) > 100 and len(widths) > 10:
        assert cost(buckets) < cost(naive)
    capped = length_buckets(widths, 32, max_tokens=max(widths) * 2)
    assert all(len(b) * max(widths[i] for i in b) <= max(widths) * 2 or len(b) == 1 for b in capped)
