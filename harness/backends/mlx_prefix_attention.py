"""Shared-prefix ("cascade") attention for batched decode: the prompt prefix all sequences of a batch share
is kept once per layer instead of copied into every sequence, and attention against it runs as one matrix
product for the whole batch instead of one small product per sequence.

mlx computes exp one scalar at a time on a CPU, and exps dominate this attention, so each layer's scores
are evaluated and their softmax runs in numpy's SIMD loops, in a decode step as in a prefill: one
evaluation per layer cost less than the lazy graph with a polynomial exp it replaced (decode 6-8% faster
on 25M-parameter models). The result is ordinary attention over [prefix keys, own keys]; only the f32
rounding differs. While installed, the model's SwiGLU gate is mlx_fast_math's too.
"""
import sys
from contextlib import contextmanager

# first: mlx_fast_math loads OpenBLAS before mlx is imported
from harness.backends import mlx_fast_math  # isort: skip
from harness.backends.mlx_fast_math import mx  # isort: skip
import numpy as np  # noqa: E402
from mlx_lm.models import switch_layers  # noqa: E402
from mlx_lm.models.cache import BatchKVCache, KVCache  # noqa: E402

# model modules whose attention calls scaled_dot_product_attention plainly (GQA, no sinks, no softcap) and
# whose batched outputs tests/test_model_families.py compares with sequential generation; mistral and
# other model types that mlx-lm maps to llama run through mlx_lm.models.llama
VERIFIED_MODULES = ("mlx_lm.models.qwen2", "mlx_lm.models.qwen3", "mlx_lm.models.qwen3_moe",
                    "mlx_lm.models.llama", "mlx_lm.models.gemma")
# a prefill attends block by block: each block's scores stay in cache for the softmax's passes (512: 1.5x
# slower on 886 tokens), and a causal block skips the keys after its last query
QUERY_BLOCK = 128


def supported(model) -> bool:
    """Verified on the CPU only (a GPU has a fused attention kernel of its own)."""
    return type(model).__module__ in VERIFIED_MODULES and mx.default_device() == mx.cpu


def prefix_operands(keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
    """A layer's prefix keys and values (1, KV, P, D) laid out for attention's GEMMs, once per prefix:
    keys transposed (KV, D, P) and values (KV, P, D), both contiguous."""
    return mx.contiguous(keys[0].swapaxes(-1, -2)), mx.contiguous(values[0])


class SharedPrefixBatchCache(BatchKVCache):
    """A left-padded batch cache of each sequence's own tokens after the shared prefix (prefix_operands).
    RoPE offsets count the prefix; the mask (inherited) covers only the own tokens, as the prefix is visible
    to every query."""

    def __init__(self, left_padding: list[int], prefix: tuple[mx.array, mx.array]):
        super().__init__(left_padding)
        self.prefix = prefix
        self.offset = self.offset + prefix[1].shape[1]


class SuffixCache:
    """A layer's cache for passes over right-padded rows that all start right after the shared prefix (a
    probe's, a suffix prefill's): it keeps their keys and values, padding included, without BatchKVCache's
    copy into a fresh buffer. Lacking make_mask, the model's mask is plain "causal" over the own tokens,
    exact for right padding."""

    def __init__(self, prefix: tuple[mx.array, mx.array]):
        self.prefix = prefix
        self.offset = prefix[1].shape[1]
        self.keys = self.values = None

    def update_and_fetch(self, keys, values):
        self.offset += keys.shape[2]
        if self.keys is not None:  # a later pass of one long prefill
            keys = mx.concatenate([self.keys, keys], axis=2)
            values = mx.concatenate([self.values, values], axis=2)
        self.keys, self.values = keys, values
        return keys, values

    @property
    def state(self):
        return self.keys, self.values


class ProbedRowsCache:
    """A layer's cache for a second pass over a few positions of a SuffixCache pass (flat: row * width +
    column), each a one-token sequence of its own: RoPE at its position, and the keys and values of its
    row up to its column, from the first pass (attention adds the shared prefix)."""

    def __init__(self, filled: SuffixCache, flat: mx.array, width: int):
        keys, values = filled.keys, filled.values
        rows, columns = flat // width, flat % width
        self.prefix = filled.prefix
        self.offset = columns + filled.prefix[1].shape[1]
        self.keys, self.values = keys[rows], values[rows]
        self.mask = mx.arange(keys.shape[2])[None, None, None] <= columns[:, None, None, None]

    def update_and_fetch(self, keys, values):
        return self.keys, self.values


class SharedPrefixCache(KVCache):
    """One sequence's cache of its own tokens after the shared prefix; BatchGenerator merges these into a
    SharedPrefixBatchCache without copying the prefix."""

    def __init__(self, prefix: tuple[mx.array, mx.array]):
        super().__init__()
        self.prefix = prefix

    @classmethod
    def merge(cls, caches):
        if any(c.prefix is not caches[0].prefix for c in caches):
            raise ValueError("a shared-prefix batch needs one prefix for all its sequences")
        merged = SharedPrefixBatchCache([0] * len(caches), caches[0].prefix)
        merged.state = BatchKVCache.merge(caches).state  # the own tokens, left-padded to the longest
        merged.offset = merged.offset + caches[0].prefix[1].shape[1]
        return merged


def layer_prefixes(prefix_cache: list) -> list[tuple[mx.array, mx.array]]:
    """Each layer's prefix_operands for sequences that continue `prefix_cache`."""
    return [prefix_operands(c.keys[..., :c.offset, :], c.values[..., :c.offset, :]) for c in prefix_cache]


def attention(queries, keys, values, scale: float, mask=None, prefix=None):
    """softmax(q [prefix_keys; keys]^T * scale) [prefix_values; values] with queries (B, H, L, D), own
    keys/values (B, KV, S, D), an optional shared prefix (prefix_operands) seen by every query, and a mask
    over the own keys: None, "causal", boolean or additive, broadcastable to (B, 1 or H, L, S)."""
    L, S = queries.shape[2], keys.shape[2]
    if L <= QUERY_BLOCK:
        return _attention(queries, keys, values, scale, mask, prefix)
    blocks = []
    for i in range(0, L, QUERY_BLOCK):
        j = min(i + QUERY_BLOCK, L)
        end = S - L + j if isinstance(mask, str) else S  # a causal block sees only the keys up to its last position
        blocks.append(_attention(queries[:, :, i:j], keys[:, :, :end], values[:, :, :end], scale,
                                 _mask_rows(mask, i, j), prefix))
    return mx.concatenate(blocks, axis=2)


def _mask_rows(mask, start: int, stop: int):
    """The rows of a mask broadcastable to (B, heads, L, S) that a block of queries start:stop reads."""
    if mask is None or isinstance(mask, str) or mask.ndim < 2 or mask.shape[-2] == 1:
        return mask
    return mask[..., start:stop, :]


def _attention(queries, keys, values, scale, mask, prefix):
    B, H, L, D = queries.shape
    KV, S = keys.shape[1], keys.shape[2]
    G = H // KV
    # kv-head-major layout (KV, B, G*L, D): against the prefix, all queries of a kv head form one GEMM
    q = (queries * scale).reshape(B, KV, G * L, D).transpose(1, 0, 2, 3)
    scores = _masked(q @ keys.transpose(1, 0, 3, 2), mask, B, KV, G, L, S)
    prefix_scores = prefix_values = None
    if prefix is not None:
        prefix_keys_t, prefix_values = prefix
        prefix_scores = (q.reshape(KV, B * G * L, D) @ prefix_keys_t).reshape(KV, B, G * L, -1)
    out = _weighted(scores, values.transpose(1, 0, 2, 3), prefix_scores, prefix_values).astype(queries.dtype)
    return out.reshape(KV, B, G, L, -1).transpose(1, 0, 2, 3, 4).reshape(B, H, L, -1)


def _weighted(scores, values, prefix_scores, prefix_values):
    """softmax over [prefix scores; scores] times [prefix values; values], (KV, B, G*L, D), the softmax
    evaluated now, in numpy: its SIMD reductions and exp run several times faster than mlx's CPU ops (a
    decode step's attention too: evaluating per layer cost less than what it saved). The value products stay
    in mlx (numpy's own OpenBLAS threads would contend with mlx's)."""
    KV, B, GL, _ = scores.shape
    parts = [scores.astype(mx.float32)] + ([prefix_scores.astype(mx.float32)] if prefix_scores is not None else [])
    mx.eval(parts)
    # numpy views of the evaluated scores, which nothing else holds: the softmax overwrites them in place, and
    # the value products read them back without a copy (a prefill's weights were copied twice, ~2 GB a suite)
    arrays = [np.asarray(a) for a in parts]
    with np.errstate(invalid="ignore"):  # a row no key may see gives NaN, as mlx's own attention does
        top = arrays[0].max(-1, keepdims=True)
        for more in arrays[1:]:
            np.maximum(top, more.max(-1, keepdims=True), out=top)
        total = 0
        for a in arrays:
            np.subtract(a, top, out=a)
            np.exp(a, out=a)
            total = total + a.sum(-1, keepdims=True)
    out = parts[0] @ values
    if prefix_scores is not None:
        out = out + (parts[1].reshape(KV, B * GL, -1) @ prefix_values).reshape(KV, B, GL, -1)
    return out / mx.array(total)


def _masked(scores, mask, B, KV, G, L, S):
    """Scores (KV, B, G*L, S) plus the mask as an additive bias (-inf where a boolean mask is False): the
    mask has no kv-head or group axis, so converting it first is cheap, and an add is ~20x faster than
    mx.where over the scores on a CPU."""
    if mask is None:
        return scores
    if isinstance(mask, str):  # "causal": the L queries are the last L positions of the S keys
        mask = mx.arange(S)[None] <= mx.arange(L)[:, None] + (S - L)
    if mask.dtype == mx.bool_:
        mask = mx.where(mask, mx.array(0.0, scores.dtype), mx.array(-mx.inf, scores.dtype))
    mask = mx.broadcast_to(mask, (B, mask.shape[-3] if mask.ndim > 2 else 1, L, S))
    # (B, heads, L, S) -> (1 or KV, B, 1 or G, L, S), matching the scores' kv-head-major layout
    mask = mask.reshape(B, 1, 1, L, S) if mask.shape[1] == 1 else mask.reshape(B, KV, G, L, S)
    return (scores.reshape(KV, B, G, L, S) + mask.transpose(1, 0, 2, 3, 4)).reshape(KV, B, G * L, S)


@contextmanager
def installed(model):
    """Route the model's attention to attention() while the block runs (with the shared prefix for
    SharedPrefixBatchCache layers), and its SwiGLU to mlx_fast_math.swiglu; model modules import both by
    name, so the swaps are in their globals (MoE experts: in switch_layers'). Calls with extra arguments
    (sinks) keep mlx-lm's own attention."""
    module = sys.modules[type(model).__module__]
    original = module.scaled_dot_product_attention

    def routed(queries, keys, values, cache, scale, mask, **kwargs):
        if getattr(cache, "fill_only", False):  # a cache-filling pass: nothing reads this attention's output
            return queries
        if kwargs:
            return original(queries, keys, values, cache=cache, scale=scale, mask=mask, **kwargs)
        if isinstance(cache, ProbedRowsCache):
            mask = cache.mask
        # the shared prefix of SharedPrefixBatchCache, SuffixCache and ProbedRowsCache; none for the others
        return attention(queries, keys, values, scale, mask, getattr(cache, "prefix", None))

    # switch_layers: the experts' gate, for the models that build SwitchGLU experts (qwen3_moe)
    gated = [m for m in (module, switch_layers if hasattr(module, "SwitchGLU") else None) if hasattr(m, "swiglu")]
    activations = [m.swiglu for m in gated]
    module.scaled_dot_product_attention = routed
    for m in gated:
        m.swiglu = mlx_fast_math.swiglu
    try:
        yield
    finally:
        module.scaled_dot_product_attention = original
        for m, activation in zip(gated, activations):
            m.swiglu = activation


def fill_cache(block, x, mask, cache) -> None:
    """Run the block's attention only as far as its cache: its keys and values for x are stored, its queries
    and output never computed (the routed attention returns a placeholder)."""
    cache.fill_only = True
    try:
        block.self_attn(block.input_layernorm(x), mask, cache)
    finally:
        cache.fill_only = False


class _CacheFillingBlock:
    """A last block that only fills its layer's cache: nothing reads a prefill's output, and lazily it would
    never be computed, but the eager softmax and SwiGLU would compute its attention and feed-forward anyway."""

    def __init__(self, block):
        self.block = block

    def __call__(self, x, mask=None, cache=None):
        fill_cache(self.block, x, mask, cache)
        return x

    def __getattr__(self, name):  # what the model reads off its blocks (llama: use_sliding)
        return getattr(self.block, name)


@contextmanager
def last_layer_fills_cache(model):
    """While installed, forward passes only fill the last layer's cache: their output is garbage, for callers
    that read only the cache."""
    layers = model.model.layers
    last = layers[-1]
    layers[-1] = _CacheFillingBlock(last)
    try:
        yield
    finally:
        layers[-1] = last
