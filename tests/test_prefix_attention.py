"""Shared-prefix attention equals ordinary attention over [prefix; own keys], and its swap into the model's
module lasts only as long as batched generation."""
import sys

import pytest

from harness.backends import mlx_batch, mlx_fast_math, mlx_prefix_attention  # first: loads OpenBLAS before mlx

import mlx.core as mx  # noqa: E402,I001
from harness.backends.base import Request
from harness.backends.mlx import MLXBackend
from harness.models import ModelSpec
from harness.suite import load_suite
from conftest import REFERENCE_SUITE


@pytest.mark.parametrize("queries_len", [1, 5, 300])  # 300: query blocks, each with its rows of the mask
def test_shared_prefix_attention_matches_fast_sdpa(queries_len):
    B, H, KV, D, P, S = 3, 8, 2, 16, 40, queries_len + 8
    mx.random.seed(0)
    q = mx.random.normal((B, H, queries_len, D))
    prefix_k, prefix_v = mx.random.normal((1, KV, P, D)), mx.random.normal((1, KV, P, D))
    own_k, own_v = mx.random.normal((B, KV, S, D)), mx.random.normal((B, KV, S, D))
    left_padding = mx.array([0, 3, 7])
    prefix = mlx_prefix_attention.prefix_operands(prefix_k, prefix_v)
    cache = mlx_prefix_attention.SharedPrefixBatchCache(left_padding.tolist(), prefix)
    cache.update_and_fetch(own_k[..., :S - queries_len, :], own_v[..., :S - queries_len, :])
    mask = cache.make_mask(queries_len)  # causal over the own keys, hiding each sequence's left padding

    got = mlx_prefix_attention.attention(q, own_k, own_v, 0.25, mask, prefix)
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


@pytest.mark.parametrize("slots, prefill_step", [(None, mlx_batch.PREFILL_STEP), (2, 4)])
def test_shared_prefix_decode_equals_standard_with_uneven_suffixes(demo_model, monkeypatch, slots, prefill_step):
    """Own caches of different lengths (one empty) merge into one batch; in two slots a refilled sequence's
    batch extends the running one, and 4-token passes prefill a suffix in several. Outputs must match the
    standard path."""
    from mlx_lm import load
    from mlx_lm.sample_utils import make_sampler

    monkeypatch.setattr(mlx_batch, "PREFILL_STEP", prefill_step)
    model, tokenizer = load(str(demo_model))
    prefix = mlx_batch.prefill(model, list(range(10, 50)))
    suffixes = [[7], [3, 4, 5, 6, 8], list(range(60, 69))]

    def decode():
        done = mlx_batch.decode_batch(model, tokenizer, prefix, suffixes, [0, 1, 2], 12, make_sampler(temp=0.0),
                                      slots=slots)
        return sorted((f.index, f.text, f.completion_tokens) for f in done)

    shared = decode()
    monkeypatch.setattr(mlx_prefix_attention, "VERIFIED_MODULES", ())
    assert decode() == shared


@pytest.mark.parametrize("slots, first_steps", [(None, [0] * 5), (2, None)])
def test_prefilled_suffixes_go_straight_to_decoding(demo_model, monkeypatch, slots, first_steps):
    """BatchGenerator gets one-token prompts, at most a slot's worth at a time; with a slot for every case,
    every case writes its first token at the same step."""
    from mlx_lm import load
    from mlx_lm.sample_utils import make_sampler

    inserted, first, steps = [], {}, [0]

    class Recording(mlx_batch.BatchGenerator):
        def insert(self, prompts, **kwargs):
            inserted.append([len(p) for p in prompts])
            return super().insert(prompts, **kwargs)

        def next_generated(self):
            responses = super().next_generated()
            for r in responses:
                first.setdefault(r.uid, steps[0])
            steps[0] += 1
            return responses

    monkeypatch.setattr(mlx_batch, "BatchGenerator", Recording)
    model, tokenizer = load(str(demo_model))
    prefix = mlx_batch.prefill(model, list(range(10, 50)))
    suffixes = [list(range(60, 60 + n)) for n in (1, 3, 9, 30, 31)]
    done = list(mlx_batch.decode_batch(model, tokenizer, prefix, suffixes, list(range(5)), 6, make_sampler(temp=0.0),
                                       slots=slots))
    assert len(done) == 5 and all(0 < f.ttft_s <= f.latency_s for f in done)
    assert all(n == 1 for wave in inserted for n in wave) and max(len(w) for w in inserted) == (slots or 5)
    if first_steps:
        assert sorted(first.values()) == first_steps


def test_merge_left_pads_own_caches_of_different_lengths():
    KV, D, P = 2, 4, 6
    mx.random.seed(3)
    prefix = mlx_prefix_attention.prefix_operands(mx.random.normal((1, KV, P, D)), mx.random.normal((1, KV, P, D)))
    caches, own = [], []
    for n in (0, 2, 5):
        cache = mlx_prefix_attention.SharedPrefixCache(prefix)
        if n:
            keys, values = mx.random.normal((1, KV, n, D)), mx.random.normal((1, KV, n, D))
            cache.state = (keys, values, n)
            own.append((keys, values))
        caches.append(cache)
    merged = mlx_prefix_attention.SharedPrefixCache.merge(caches)
    assert isinstance(merged, mlx_prefix_attention.SharedPrefixBatchCache) and merged.prefix is prefix
    assert merged.left_padding.tolist() == [5, 3, 0] and merged.offset.tolist() == [P, P + 2, P + 5]
    assert merged.keys.shape == (3, KV, 5, D) and not mx.any(merged.keys[0]).item()
    for row, (keys, values) in zip((1, 2), own):
        assert mx.array_equal(merged.keys[row:row + 1, :, 5 - keys.shape[2]:], keys)
        assert mx.array_equal(merged.values[row:row + 1, :, 5 - keys.shape[2]:], values)
    assert merged.make_mask(1)[:, 0, 0].tolist() == [[False] * 5 + [True], [False] * 3 + [True] * 3, [True] * 6]
    with pytest.raises(ValueError, match="one prefix"):
        other = mlx_prefix_attention.SharedPrefixCache(prefix[::-1])
        mlx_prefix_attention.SharedPrefixCache.merge([caches[0], other])


@pytest.mark.parametrize("queries_len, keys_len", [(1, 30), (7, 30), (1300, 1300), (600, 1700)])
def test_causal_attention_matches_fast_sdpa(queries_len, keys_len):
    """The prefill path: a plain cache's "causal" mask, long queries attended block by block."""
    mx.random.seed(1)
    q = mx.random.normal((1, 8, queries_len, 16))
    k, v = mx.random.normal((1, 2, keys_len, 16)), mx.random.normal((1, 2, keys_len, 16))
    mask = "causal" if queries_len > 1 else None
    got = mlx_prefix_attention.attention(q, k, v, 0.25, mask)
    want = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.25, mask=mask)
    assert mx.abs(got - want).max().item() < 1e-5


@pytest.mark.parametrize("L", [3, 300])
def test_additive_and_per_head_masks_match_fast_sdpa(L):
    mx.random.seed(2)
    B, H, KV, S, D = 2, 4, 2, L + 8, 8
    q, k, v = mx.random.normal((B, H, L, D)), mx.random.normal((B, KV, S, D)), mx.random.normal((B, KV, S, D))
    boolean = mx.random.uniform(shape=(B, H, L, S)) > 0.3
    boolean[..., 0] = True  # every query sees a key
    additive = mx.where(boolean, 0.0, -1e9)
    for mask in (boolean, additive):
        got = mlx_prefix_attention.attention(q, k, v, 0.5, mask)
        want = mx.fast.scaled_dot_product_attention(q, k, v, scale=0.5, mask=mask)
        assert mx.abs(got - want).max().item() < 1e-5


def test_half_precision_attention_keeps_its_dtype():
    mx.random.seed(3)
    q = mx.random.normal((2, 4, 3, 16)).astype(mx.bfloat16)
    k, v = (mx.random.normal((2, 2, 20, 16)).astype(mx.bfloat16) for _ in range(2))
    prefix_k, prefix_v = (mx.random.normal((1, 2, 9, 16)).astype(mx.bfloat16) for _ in range(2))
    got = mlx_prefix_attention.attention(q, k, v, 0.25, "causal", mlx_prefix_attention.prefix_operands(prefix_k, prefix_v))
    keys = mx.concatenate([mx.broadcast_to(prefix_k, (2, 2, 9, 16)), k], axis=2)
    values = mx.concatenate([mx.broadcast_to(prefix_v, (2, 2, 9, 16)), v], axis=2)
    mask = mx.arange(29)[None] <= mx.arange(3)[:, None] + 26
    want = mx.fast.scaled_dot_product_attention(q.astype(mx.float32), keys.astype(mx.float32),
                                                values.astype(mx.float32), scale=0.25, mask=mask)
    assert got.dtype == mx.bfloat16 and mx.abs(got.astype(mx.float32) - want).max().item() < 0.05


@pytest.mark.parametrize("shape", [(3, 1, 96), (2, 17, 96), (96,)])  # decode step, prefill, one vector
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_fast_swiglu_matches_mlx_lm(shape, dtype):
    from mlx_lm.models.activations import swiglu

    dtype = getattr(mx, dtype)
    gate = (mx.random.normal(shape) * 12).astype(dtype)  # far into both tails
    x = mx.random.normal(shape).astype(dtype)
    got, want = mlx_fast_math.swiglu(gate, x), swiglu(gate, x)
    assert got.dtype == want.dtype and got.shape == want.shape
    tolerance = 1e-5 if dtype == mx.float32 else 0.05
    assert mx.allclose(got.astype(mx.float32), want.astype(mx.float32), rtol=tolerance, atol=tolerance).item()


def test_installed_swaps_the_gate_and_restores_it(demo_model):
    import mlx_lm.models.qwen2 as qwen2
    from mlx_lm.models import switch_layers
    from mlx_lm.models.activations import swiglu

    backend = MLXBackend(ModelSpec(name="demo", options={"path": str(demo_model)}))
    backend.load()
    with mlx_prefix_attention.installed(backend.model):  # a dense model: the experts' gate stays mlx-lm's
        assert qwen2.swiglu is mlx_fast_math.swiglu and switch_layers.swiglu is swiglu
    assert qwen2.swiglu is swiglu and switch_layers.swiglu is swiglu


def test_prefill_fills_the_last_layer_cache_without_its_attention_or_feed_forward(demo_model, monkeypatch):
    """The prefix prefill's cache equals a plain forward pass's, layer by layer, while the eager softmax and
    SwiGLU run for every layer but the last (whose output nothing reads); the model's blocks are restored."""
    from mlx_lm import load
    from mlx_lm.models.cache import make_prompt_cache

    model, _ = load(str(demo_model))
    tokens = list(range(10, 310))  # over one query block: the eager softmax runs block by block
    plain = make_prompt_cache(model)
    model(mx.array(tokens)[None], cache=plain)
    calls = {"softmax": 0, "swiglu": 0}
    softmax, swiglu = mlx_prefix_attention._weighted, mlx_fast_math.swiglu

    def counted(name, real):
        def call(*args):
            calls[name] += 1
            return real(*args)
        return call

    monkeypatch.setattr(mlx_prefix_attention, "_weighted", counted("softmax", softmax))
    monkeypatch.setattr(mlx_fast_math, "swiglu", counted("swiglu", swiglu))
    blocks = list(model.model.layers)
    filled = mlx_batch.prefill(model, tokens)
    layers, query_blocks = len(blocks), -(-len(tokens) // mlx_prefix_attention.QUERY_BLOCK)
    assert calls == {"softmax": (layers - 1) * query_blocks, "swiglu": layers - 1}
    assert list(model.model.layers) == blocks
    for mine, theirs in zip(filled, plain):
        assert mine.offset == theirs.offset == len(tokens)
        n = len(tokens)
        for a, b in ((mine.keys, theirs.keys), (mine.values, theirs.values)):
            assert mx.allclose(a[..., :n, :], b[..., :n, :], atol=1e-4, rtol=1e-4).item()
