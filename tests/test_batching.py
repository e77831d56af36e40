"""Batched generation (shared prefix cache + mlx-lm BatchGenerator) gives the same greedy outputs as
one-at-a-time generation, groups cases by prefix, sizes batches to memory and falls back honestly."""
import dataclasses
import json

import pytest

from conftest import REFERENCE_SUITE
from harness import cli
from harness.backends import mlx_batch
from harness.backends.base import Request
from harness.backends.mlx import MLXBackend
from harness.models import ModelSpec
from harness.suite import load_suite, openai_tools

COMPARED = ("output", "completion_tokens", "finish_reason", "prompt_sha256", "prompt_tokens")


@pytest.fixture(scope="module")
def suite():
    return load_suite(REFERENCE_SUITE)


@pytest.fixture(scope="module")
def random_model(tmp_path_factory, suite):
    """A freshly built random model whose output depends on its prompt (projections scaled up)."""
    from harness.demo.build import TinySpec, build_tiny_model, scale_projections

    out = tmp_path_factory.mktemp("random") / "model"
    build_tiny_model(out, TinySpec(seed=2), [{"messages": c.messages, "tools": openai_tools(c.tools)}
                                             for c in suite.cases])
    scale_projections(out, 4.0)
    return out


def generate(path, requests, max_tokens=32, **options):
    backend = MLXBackend(ModelSpec(name="m", max_tokens=max_tokens, options={"path": str(path), **options}))
    backend.load()
    gens = {(g.case_id, g.sample): g for g in backend.generate(requests)}
    assert len(gens) == len(requests)
    return gens, backend.generation_details()


def assert_same(batched: dict, sequential: dict) -> None:
    for key, seq in sequential.items():
        got = batched[key]
        assert [getattr(got, f) for f in COMPARED] == [getattr(seq, f) for f in COMPARED], key
        assert got.timing == "batched" and seq.timing == "sequential"
        assert 0 < got.ttft_s <= got.latency_s


def two_tool_sets(suite) -> list[Request]:
    """The reference suite, plus each case again with one tool fewer: two prefix groups."""
    fewer = [dataclasses.replace(c, id=c.id + "-fewer", tools=c.tools[:-1]) for c in suite.cases]
    return [Request(c) for c in suite.cases + fewer]


def test_batched_equals_sequential_on_random_model(random_model, suite):
    requests = two_tool_sets(suite)
    sequential, seq_details = generate(random_model, requests, latency_mode="sequential")
    assert seq_details["mode"] == "sequential" and "latency_mode" in seq_details["reason"]
    outputs = [g.output for g in sequential.values()]
    assert len(set(outputs)) > 30, "the fixture model should write prompt-dependent text"
    for options in ({}, {"batch_size": 3}):
        batched, details = generate(random_model, requests, **options)
        assert_same(batched, sequential)
        assert details["mode"] == "batched" and details["continuous"] and len(details["groups"]) == 2
        assert all(g["cases"] == 33 and g["prefix_tokens"] > 200 for g in details["groups"])
        assert details["batch_size"] == options.get("batch_size", min(33, mlx_batch.MAX_BATCH))
        assert details["cases_per_s"] > 0 and details["generated_tokens_per_s"] > 0


def test_batched_equals_sequential_on_demo_model(demo_model, suite):
    requests = [Request(c) for c in suite.cases]
    sequential, _ = generate(demo_model, requests, max_tokens=64, latency_mode="sequential")
    batched, _ = generate(demo_model, requests, max_tokens=64)
    assert_same(batched, sequential)
    assert any("<tool_call>" in g.output for g in batched.values())


def test_plan_groups_fits_memory_and_keeps_a_token_to_decode():
    prompts = [[1, 2, 3, 4], [1, 2, 3, 5, 6], [1, 2, 3, 4], [9, 9]]
    groups = mlx_batch.plan_groups(prompts, ["a", "a", "a", "b"], max_tokens=6, bytes_per_token=100,
                                   budget=100 * (5 + 6) * 2)
    assert [(g.indices, g.prefix_tokens, g.batch_size) for g in groups] == [([0, 1, 2], 3, 2), ([3], 1, 1)]
    big = mlx_batch.plan_groups([[1, 2]] * 100, ["a"] * 100, max_tokens=1, bytes_per_token=1, budget=10**9)
    assert big[0].batch_size == mlx_batch.MAX_BATCH
    assert mlx_batch.plan_groups([[1, 2]] * 5, ["a"] * 5, 1, 10**9, batch_size=None, budget=1)[0].batch_size == 1


def test_only_plain_kv_caches_are_batched():
    from mlx_lm.models.cache import KVCache, RotatingKVCache

    class Model:
        def __init__(self, caches):
            self.make_cache = lambda: caches

    assert mlx_batch.unsupported_reason(Model([KVCache(), KVCache()])) is None
    assert "RotatingKVCache" in mlx_batch.unsupported_reason(Model([KVCache(), RotatingKVCache(max_size=8)]))


def test_unbatchable_model_falls_back_to_sequential(random_model, suite, monkeypatch):
    monkeypatch.setattr(mlx_batch, "unsupported_reason", lambda model: "cannot batch this cache")
    gens, details = generate(random_model, [Request(c) for c in suite.cases[:2]], max_tokens=4)
    assert details["mode"] == "sequential" and details["reason"] == "cannot batch this cache"
    assert {g.timing for g in gens.values()} == {"sequential"}


def test_run_flags_reach_the_manifest_and_report(random_model, tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["run", str(REFERENCE_SUITE), "--model", str(random_model), "--run-dir", str(run_dir), "--quiet",
            "--max-tokens", "8", "--batch-size", "7"]
    assert cli.main(args) == 0
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["generation"]["mode"] == "batched" and manifest["generation"]["batch_size"] == 7
    assert "batched" in capsys.readouterr().out
    seq_dir = tmp_path / "seq"
    assert cli.main(args[:5] + [str(seq_dir), "--quiet", "--max-tokens", "8", "--latency-mode", "sequential"]) == 0
    assert json.loads((seq_dir / "manifest.json").read_text())["generation"]["mode"] == "sequential"


def test_bad_latency_options_are_input_errors(random_model):
    from harness.errors import InputError
    from harness.models import spec_from_entry

    for options in ({"latency_mode": "fast"}, {"batch_size": 0}, {"batch_size": "8"}):
        with pytest.raises(InputError, match="latency_mode|batch_size"):  # checked once, as the entry is read
            spec_from_entry("m", {"path": str(random_model), **options}, "[models.m]")


def test_continuous_batching_times_each_case_from_its_own_prefill(random_model, suite):
    """The reference cases in three slots: a slot refills as its case finishes, and a late case's latency
    counts from its own prefill, not from the start of the run."""
    backend = MLXBackend(ModelSpec(name="m", max_tokens=8, options={"path": str(random_model), "batch_size": 3}))
    backend.load()
    gens = list(backend.generate([Request(c) for c in suite.cases]))  # in the order they finish
    assert len(gens) == len(suite.cases) > 18 and all(0 < g.ttft_s <= g.latency_s for g in gens)

    def per_token(g):
        return g.latency_s / g.completion_tokens

    # timed from the run's start, the last case would take ~len/3 times as long per token as the first
    assert per_token(gens[-1]) < 3 * per_token(gens[0])


def test_prefill_batch_size_takes_all_suffixes_of_one_length_and_splits_spread_ones():
    """Suffixes of one length prefill together (no padding to save); widely spread lengths prefill in
    smaller chunks of similar length, never costing more padded tokens than one chunk of all."""
    from harness.backends.mlx_batch import FORWARD_OVERHEAD_TOKENS, prefill_batch_size

    assert prefill_batch_size([40] * 20, 32) >= 20  # one chunk (a larger size admits the same 20)
    assert prefill_batch_size([40] * 20, 8) == 8
    spread = [13] * 20 + [132] * 4

    def cost(size):
        ordered = sorted(spread)
        return sum(FORWARD_OVERHEAD_TOKENS + len(ordered[i:i + size]) * ordered[min(i + size, len(ordered)) - 1]
                   for i in range(0, len(ordered), size))

    chosen = prefill_batch_size(spread, 32)
    assert chosen < len(spread) and cost(chosen) < cost(len(spread))
    assert 1 <= prefill_batch_size([5], 32) <= 32 and 1 <= prefill_batch_size([], 4) <= 4
