"""Shared-prefix ("cascade") attention for batched decode: the prompt prefix all sequences of a batch share
is kept once per layer instead of copied into every sequence, and attention against it runs as one matrix
product for the whole batch instead of one small product per sequence.

The result is ordinary attention over [prefix keys, own keys]; only the f32 summation order differs.
"""
import sys
from contextlib import contextmanager

import mlx.core as mx
import numpy as np
from mlx_lm.models.cache import BatchKVCache, KVCache

# model modules whose attention calls scaled_dot_product_attention plainly (GQA, no sinks, no sliding
# window) and whose batched outputs the tests compare with sequential generation
VERIFIED_MODULES = ("mlx_lm.models.qwen2",)


def supported(model) -> bool:
    """Verified on the CPU only, where the softmax runs in numpy (a GPU would pay a copy to the host)."""
    return type(model).__module__ in VERIFIED_MODULES and mx.default_device() == mx.cpu


class SharedPrefixBatchCache(BatchKVCache):
    """A left-padded batch cache of each sequence's own tokens after the shared prefix. RoPE offsets count
    the prefix; the mask (inherited) covers only the own tokens, as the prefix is visible to every query."""

    def __init__(self, left_padding: list[int], prefix: tuple[mx.array, mx.array]):
        super().__init__(left_padding)
        self.prefix = prefix
        self.offset = self.offset + prefix[0].shape[2]


class SharedPrefixCache(KVCache):
    """One sequence's cache, still empty, that continues the shared prefix; BatchGenerator merges these
    into a SharedPrefixBatchCache without copying the prefix."""

    def __init__(self, prefix: tuple[mx.array, mx.array]):
        super().__init__()
        self.prefix = prefix

    @classmethod
    def merge(cls, caches):
        if any(c.prefix is not caches[0].prefix for c in caches):
            raise ValueError("a shared-prefix batch needs one prefix for all its sequences")
        return SharedPrefixBatchCache([0] * len(caches), caches[0].prefix)


def sequence_caches(prefix_cache: list) -> list:
    """Per-layer caches for sequences that continue `prefix_cache` (one object serves every sequence)."""
    return [SharedPrefixCache((mx.contiguous(c.keys[..., :c.offset, :]), mx.contiguous(c.values[..., :c.offset, :])))
            for c in prefix_cache]


def shared_prefix_attention(queries, keys, values, prefix_keys, prefix_values, scale: float, mask=None):
    """softmax(q [prefix_keys; keys]^T * scale) [prefix_values; values] with queries (B, H, L, D), own
    keys/values (B, KV, S, D), prefix (1, KV, P, D) and a boolean mask (B, 1, L, S) over the own keys."""
    B, H, L, D = queries.shape
    KV, P = prefix_keys.shape[1], prefix_keys.shape[2]
    GL = H // KV * L
    # kv-head-major layout (KV, B, G*L, D): against the prefix, all queries of a kv head form one GEMM
    q = (queries * scale).reshape(B, KV, GL, D).transpose(1, 0, 2, 3)
    prefix_scores = (q.reshape(KV, B * GL, D) @ prefix_keys[0].swapaxes(-1, -2)).reshape(KV, B, GL, P)
    own_scores = q @ keys.transpose(1, 0, 3, 2)
    if mask is not None:
        S = own_scores.shape[-1]
        own_scores = mx.where(mask.reshape(1, B, 1, L, S), own_scores.reshape(KV, B, -1, L, S),
                              mx.finfo(own_scores.dtype).min).reshape(KV, B, GL, S)
    prefix_weights, own_weights, total = _softmax_parts(prefix_scores, own_scores)
    out = (prefix_weights.reshape(KV, B * GL, P) @ prefix_values[0]).reshape(KV, B, GL, -1)
    out = (out + own_weights @ values.transpose(1, 0, 2, 3)) / total
    return out.reshape(KV, B, -1, L, out.shape[-1]).transpose(1, 0, 2, 3, 4).reshape(B, H, L, -1)


def _softmax_parts(prefix_scores, own_scores):
    """Unnormalised softmax weights of the two score blocks, merged by their joint max, and the row sums.
    In numpy: mlx's CPU exp is scalar (~10 ns a value), numpy's is SIMD, and exps dominate this attention."""
    mx.eval(prefix_scores, own_scores)
    prefix, own = np.asarray(prefix_scores), np.asarray(own_scores)
    top = np.maximum(prefix.max(-1, keepdims=True), own.max(-1, keepdims=True))
    prefix, own = np.exp(prefix - top), np.exp(own - top)
    total = prefix.sum(-1, keepdims=True) + own.sum(-1, keepdims=True)
    return mx.array(prefix), mx.array(own), mx.array(total)


@contextmanager
def installed(model):
    """Route the model's attention to shared_prefix_attention for SharedPrefixBatchCache layers while the
    block runs; model modules import scaled_dot_product_attention by name, so the swap is in their globals."""
    module = sys.modules[type(model).__module__]
    original = module.scaled_dot_product_attention

    def attention(queries, keys, values, cache, scale, mask, **kwargs):
        if isinstance(cache, SharedPrefixBatchCache):  # extra arguments (sinks) fail loudly there
            return shared_prefix_attention(queries, keys, values, *cache.prefix, scale=scale, mask=mask, **kwargs)
        return original(queries, keys, values, cache=cache, scale=scale, mask=mask, **kwargs)

    module.scaled_dot_product_attention = attention
    try:
        yield
    finally:
        module.scaled_dot_product_attention = original
