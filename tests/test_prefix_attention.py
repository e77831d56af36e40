"""Shared-prefix attention equals ordinary attention over [prefix; own keys], and its swap into the model's
module lasts only as long as batched generation."""
import sys

import mlx.core as mx
import pytest

from harness.backends import mlx_batch, mlx_prefix_attention
from harness.backends.base import Request
from harness.backends.mlx import MLXBackend
from harness.models import ModelSpec
from harness.suite import load_suite
from conftest import REFERENCE_SUITE


@pytest.mark.parametrize("queries_len", [1, 5])
def test_shared_prefix_attention_matches_fast_sdpa(queries_len):
    B, H, KV, D, P, S = 3, 8, 2, 16, 40, 9
    mx.random.seed(0)
    q = mx.random.normal((B, H, queries_len, D))
    prefix_k, prefix_v = mx.random.normal((1, KV, P, D)), mx.random.normal((1, KV, P, D))
    own_k, own_v = mx.random.normal((B, KV, S, D)), mx.random.normal((B, KV, S, D))
    left_padding = mx.array([0, 3, 7])
    cache = mlx_prefix_attention.SharedPrefixBatchCache(left_padding.tolist(), (prefix_k, prefix_v))
    cache.update_and_fetch(own_k[..., :S - queries_len, :], own_v[..., :S - queries_len, :])
    mask = cache.make_mask(queries_len)  # causal over the own keys, hiding each sequence's left padding

    got = mlx_prefix_attention.shared_prefix_attention(q, own_k, own_v, prefix_k, prefix_v, scale=0.25, mask=mask)
    keys = mx.concatenate([mx.broadcast_to(prefix_k, (B, KV, P, D)), own_k], axis=2)
    values = mx.concatenate([mx.broadcast_to(prefix_v, (B, KV, P, D)), own_v], axis=2)
    full_mask = mx.concatenate([mx.ones((B, 1, queries_len, P), dtype=mx.bool_), mask], axis=-1)
    want = mx.fast.scaled_dot_product_attention(q, keys, values, scale=0.25, mask=full_mask)
    assert mx.abs(got - want).max().item() < 1e-4
    assert cache.offset.tolist() == [P + S - queries_len - p for p in left_padding.tolist()]


def test_attention_swap_is_undone_after_generation(demo_model):
    backend = MLXBackend(ModelSpec(name="m", max_tokens=4, options={"path": str(demo_model)}))
    backend.load()
    module = sys.modules[type(backend.model).__module__]
    original = module.scaled_dot_product_attention
    swapped = []
    gens = backend.generate([Request(c) for c in load_suite(REFERENCE_SUITE).cases[:3]])
    for _ in gens:
        swapped.append(module.scaled_dot_product_attention is not original)
    assert swapped and all(swapped)
    assert module.scaled_dot_product_attention is original
    assert backend.generation_details()["attention"] == "shared_prefix"


def test_attention_swap_is_undone_when_generation_stops_early(demo_model):
    backend = MLXBackend(ModelSpec(name="m", max_tokens=4, options={"path": str(demo_model)}))
    backend.load()
    module = sys.modules[type(backend.model).__module__]
    original = module.scaled_dot_product_attention
    gens = backend.generate([Request(c) for c in load_suite(REFERENCE_SUITE).cases[:3]])
    next(gens)
    gens.close()
    assert module.scaled_dot_product_attention is original


def test_unverified_models_keep_standard_attention():
    class Model:
        pass

    assert mlx_batch.attention_path(Model(), prefix_tokens=100) == "standard"


def test_shared_prefix_decode_equals_standard_with_uneven_suffixes(demo_model, monkeypatch):
    """A one-token suffix starts decoding while longer ones still prefill, so BatchGenerator extends one
    shared-prefix batch cache with another; outputs must still match the standard path."""
    from mlx_lm import load
    from mlx_lm.sample_utils import make_sampler

    model, tokenizer = load(str(demo_model))
    prefix = mlx_batch.prefill(model, list(range(10, 50)))
    suffixes = [[7], [3, 4, 5, 6, 8], list(range(60, 69))]

    def decode():
        done = mlx_batch.decode_batch(model, tokenizer, prefix, suffixes, [0, 1, 2], 12, make_sampler(temp=0.0))
        return sorted((f.index, f.text, f.completion_tokens) for f in done)

    shared = decode()
    monkeypatch.setattr(mlx_prefix_attention, "VERIFIED_MODULES", ())
    assert decode() == shared
