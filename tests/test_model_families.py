"""Every family on the shared-prefix allow-list gives, batched, the greedy outputs of one-at-a-time
generation: tiny random models (hidden 64) of each family, built offline, with fixed output lengths and
with an end token that makes the lengths vary (so continuous batching refills slots mid-batch)."""
from collections import Counter

import pytest

from conftest import REFERENCE_SUITE
from harness.backends import mlx_prefix_attention
from harness.backends.base import Request
from harness.backends.mlx import MLXBackend
from harness.backends.mlx_random_model import FAMILIES, rebuild_as, spread_token
from harness.models import ModelSpec
from harness.suite import load_suite, openai_tools

COMPARED = ("output", "completion_tokens", "finish_reason")
MAX_TOKENS = 16
CASES = 12  # cases per run: sequential generation dominates the time


@pytest.fixture(scope="module")
def suite():
    return load_suite(REFERENCE_SUITE)


@pytest.fixture(scope="module", params=list(FAMILIES))
def family_model(request, tmp_path_factory, suite):
    from harness.demo.build import TinySpec, build_tiny_model, scale_projections

    out = tmp_path_factory.mktemp(request.param) / "model"
    build_tiny_model(out, TinySpec(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128, seed=3),
                     [{"messages": c.messages, "tools": openai_tools(c.tools)} for c in suite.cases])
    rebuild_as(out, request.param, seed=3)
    scale_projections(out, 4.0)  # prompt-dependent outputs, so "identical" means something
    return request.param, out


def loaded(path, eos=(), **options) -> MLXBackend:
    backend = MLXBackend(ModelSpec(name="m", max_tokens=MAX_TOKENS, extra_eos_tokens=list(eos),
                                   options={"path": str(path), **options}))
    backend.load()
    return backend


def run(path, requests, **options):
    backend = loaded(path, **options)
    gens = {g.case_id: g for g in backend.generate(requests)}
    assert len(gens) == len(requests)
    return gens, backend


def varying_end_token(backend, requests) -> str:
    """A token the model writes at many different positions: as an end token, the cases stop after
    different numbers of tokens."""
    from mlx_lm import stream_generate

    written = [[step.token for step in stream_generate(backend.model, backend.tokenizer, backend.render(r),
                                                       max_tokens=MAX_TOKENS)] for r in requests]
    return str(spread_token(written))


def assert_identical(batched, sequential):
    for case_id, seq in sequential.items():
        assert [getattr(batched[case_id], f) for f in COMPARED] == [getattr(seq, f) for f in COMPARED], case_id


def test_family_batched_equals_sequential(family_model, suite):
    family, path = family_model
    requests = [Request(c) for c in suite.cases[:CASES]]
    sequential, backend = run(path, requests, latency_mode="sequential")
    assert len({g.output for g in sequential.values()}) > len(requests) // 2, "outputs should depend on the prompt"
    assert mlx_prefix_attention.supported(backend.model)
    for options in ({}, {"batch_size": 3}):
        batched, backend = run(path, requests, **options)
        assert_identical(batched, sequential)
        assert backend.generation_details()["attention"] == "shared_prefix", family


def test_family_varied_lengths_continuous_and_fixed(family_model, suite):
    family, path = family_model
    requests = [Request(c) for c in suite.cases[:CASES]]
    eos = [varying_end_token(loaded(path), requests[:8])]
    sequential, _ = run(path, requests, latency_mode="sequential", eos=eos)
    lengths = Counter(g.completion_tokens for g in sequential.values())
    assert len(lengths) >= 3, f"the end token should make the lengths vary, got {lengths}"
    for continuous in (True, False):
        backend = loaded(path, eos, batch_size=4)
        backend.continuous = continuous
        assert_identical({g.case_id: g for g in backend.generate(requests)}, sequential)


def test_family_probe_equals_one_full_forward_pass(family_model, suite):
    """The probe's shared-prefix path (its last block and output layer at the probed positions alone)
    gives each family the log-probabilities of one plain forward pass, several forced tokens per case
    and suffixes of different lengths in one batch."""
    from harness.backends import mlx_batch, mlx_probe

    _, path = family_model
    backend = loaded(path)
    requests = [Request(c) for c in suite.cases]
    prompts = [backend.render(r) for r in requests]
    assert len({len(p) for p in prompts}) > 3, "suffix lengths should differ"
    assert mlx_batch.attention_path(backend.model, 1) == "shared_prefix"
    targets = [prompt[-3:] for prompt in prompts]  # any tokens; three forced positions per case
    scores = mlx_probe.forced_logprobs(backend.model, prompts, targets,
                                       [mlx_batch.prefix_key(r.case) for r in requests], [0] * len(prompts))
    for prompt, target, found in zip(prompts, targets, scores):
        assert found.logprobs == pytest.approx(mlx_probe.full_logprobs(backend.model, prompt, target), abs=2e-4)


def test_family_experts_gate_is_swapped_only_where_experts_are(family_model):
    from mlx_lm.models import switch_layers
    from mlx_lm.models.activations import swiglu

    from harness.backends import mlx_fast_math

    family, path = family_model
    backend = loaded(path)
    with mlx_prefix_attention.installed(backend.model):
        assert (switch_layers.swiglu is mlx_fast_math.swiglu) is (family == "qwen3_moe")
    assert switch_layers.swiglu is swiglu
