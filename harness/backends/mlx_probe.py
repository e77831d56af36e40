"""Every mlx call for decision probes: teacher-forced log-probabilities of given tokens after each prompt
(p_call, candidate scoring) and adapter checkpoints swapped into a loaded model.

Prompts are grouped as generation groups them (mlx_batch.plan_groups): each group's shared prefix is
prefilled once, then the suffixes and the forced tokens run as one right-padded batch. Right padding
is exact under a causal mask: pad tokens come after every position that is read.
"""
from contextlib import contextmanager
from dataclasses import dataclass, field

# first: mlx_batch sets up the BLAS mlx and numpy use
from harness.backends import mlx_batch, mlx_prefix_attention  # isort: skip
from harness.backends.mlx_batch import mx  # isort: skip
import numpy as np  # noqa: E402

LOGITS_BUDGET = 1 << 28  # bytes of float32 logits one batch may hold (B x T x vocab x 4)
TOP_TOKENS = 5


@dataclass
class Forced:
    """Log-probability of each forced token, and the most likely tokens at position `top_at`."""
    logprobs: list[float]
    top: list[tuple[int, float]] = field(default_factory=list)  # (token id, probability)


def _batch_cache(prefix_cache: list, size: int) -> list:
    """A copy of the prefix's KV cache for a batch of `size` sequences (the prefix cache stays untouched)."""
    from mlx_lm.models.cache import KVCache

    caches = []
    for layer in prefix_cache:
        cache = KVCache()
        if layer.offset:
            keys, values = layer.keys_and_values()
            cache.state = (mx.repeat(keys, size, axis=0), mx.repeat(values, size, axis=0), layer.offset)
        caches.append(cache)
    return caches


def forced_logprobs(model, prompts: list[list[int]], targets: list[list[int]], keys: list[str],
                    top_at: list[int | None] | None = None) -> list[Forced]:
    """log p(target token | prompt, earlier targets) for each prompt; `top_at[i]` asks for the most likely
    tokens at that target position (0 = right after the prompt)."""
    top_at = top_at or [None] * len(prompts)
    vocab = model(mx.array([[0]])).shape[-1]  # never evaluated: the shape alone
    groups = mlx_batch.plan_groups(prompts, keys, max(len(t) for t in targets), mlx_batch.kv_bytes_per_token(model))
    results: list[Forced | None] = [None] * len(prompts)
    for group in groups:
        prefix_cache = _PrefixCache(model, mlx_batch.prefill(model, prompts[group.indices[0]][:group.prefix_tokens]))
        widths = [len(prompts[i]) + len(targets[i]) - 1 - group.prefix_tokens for i in group.indices]
        for bucket in mlx_batch.length_buckets(widths, group.batch_size, LOGITS_BUDGET // (4 * vocab)):
            chunk = [group.indices[b] for b in bucket]
            for i, forced in zip(chunk, _score_chunk(model, prefix_cache, group.prefix_tokens, prompts, targets,
                                                      top_at, chunk)):
                results[i] = forced
    return results


class _PrefixCache:
    """A group's prefilled prefix, and the batch caches that continue it: on verified models the prefix is
    kept once and attended to by mlx_prefix_attention (numpy's exp: mlx's own made the probe 3x slower),
    else it is copied into every sequence."""

    def __init__(self, model, cache: list):
        self.model, self.cache = model, cache
        self.shared = mlx_batch.attention_path(model, cache[0].offset) == "shared_prefix"
        self.operands = mlx_prefix_attention.layer_prefixes(cache) if self.shared else None

    def logits(self, batch: mx.array, positions: list[int]) -> mx.array:
        """Logits (len(positions), vocab) at the given flat positions (row * width + column) of the batch; on
        verified models the last block and the output layer run on those positions alone."""
        if not self.shared:
            logits = self.model(batch, cache=_batch_cache(self.cache, batch.shape[0]))
            return logits.reshape(-1, logits.shape[-1])[mx.array(positions)]
        flat = mx.array(positions)
        caches = [mlx_prefix_attention.SuffixCache(op) for op in self.operands]
        with mlx_prefix_attention.installed(self.model), \
                _last_block_at(self.model, flat, batch.shape[1]) as gathered:
            hidden = self.model.model(batch, cache=caches)
        hidden = hidden.reshape(-1, hidden.shape[-1])
        if not gathered:  # the last block ran at every position
            hidden = hidden[flat]
        if hasattr(self.model, "lm_head") and not getattr(self.model.args, "tie_word_embeddings", False):
            return self.model.lm_head(hidden)
        return self.model.model.embed_tokens.as_linear(hidden)  # as these model families' __call__ does


class _ProbedBlock:
    """The model's last block at the probed positions only. A first pass over every position fills the
    layer's keys and values (its queries and output are never computed); a second runs the block on the
    probed positions alone, each attending to its row's keys. No later layer reads the other positions,
    so this is most of a last layer's work saved; the block is the one form of every family in
    VERIFIED_MODULES."""

    def __init__(self, block, flat: mx.array, width: int):
        self.block, self.flat, self.width = block, flat, width

    def __call__(self, x, mask=None, cache=None):
        b = self.block
        mlx_prefix_attention.fill_cache(b, x, mask, cache)
        rows = x.reshape(-1, x.shape[-1])[self.flat][:, None]
        h = rows + b.self_attn(b.input_layernorm(rows), None,
                               mlx_prefix_attention.ProbedRowsCache(cache, self.flat, self.width))
        h = h.reshape(1, -1, h.shape[-1])
        return h + b.mlp(b.post_attention_layernorm(h))

    def __getattr__(self, name):  # what the model reads off its blocks (llama: use_sliding)
        return getattr(self.block, name)


@contextmanager
def _last_block_at(model, flat: mx.array, width: int):
    """The last block as a _ProbedBlock while the block runs, unless it attends through a sliding window
    (its probed queries would see every earlier key); yields whether it did (the hidden states are the
    probed rows)."""
    layers = model.model.layers
    last = layers[-1]
    if getattr(last, "use_sliding", False):
        yield False
        return
    layers[-1] = _ProbedBlock(last, flat, width)
    try:
        yield True
    finally:
        layers[-1] = last


def _score_chunk(model, prefix_cache: _PrefixCache, prefix: int, prompts, targets, top_at,
                 chunk: list[int]) -> list[Forced]:
    seqs = [prompts[i][prefix:] + targets[i][:-1] for i in chunk]
    width = max(len(s) for s in seqs)
    batch = mx.array([s + [0] * (width - len(s)) for s in seqs])
    positions, spans = [], []
    for row, i in enumerate(chunk):
        first = len(prompts[i]) - prefix - 1  # the position whose logits predict the first target token
        spans.append((len(positions), len(targets[i])))
        positions += range(row * width + first, row * width + first + len(targets[i]))
    # numpy from the logits on: each mlx evaluation costs ~60 us on a CPU, more than this arithmetic
    logits = np.asarray(prefix_cache.logits(batch, positions).astype(mx.float32))
    logp = logits - logits.max(-1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(-1, keepdims=True))
    picked = logp[np.arange(len(positions)), [t for i in chunk for t in targets[i]]].tolist()
    asked = [row for row, i in enumerate(chunk) if top_at[i] is not None]
    probs = np.exp(logp[[spans[row][0] + top_at[chunk[row]] for row in asked]])
    top_ids = np.argpartition(-probs, min(TOP_TOKENS, probs.shape[-1]) - 1, axis=-1)[:, :TOP_TOKENS]
    top_ids = np.take_along_axis(top_ids, np.argsort(-np.take_along_axis(probs, top_ids, -1), -1), -1)
    tops = {row: list(zip(ids.tolist(), p[ids].tolist())) for row, ids, p in zip(asked, top_ids, probs)}
    return [Forced(logprobs=picked[start:start + n], top=tops.get(row, [])) for row, (start, n) in enumerate(spans)]


def full_logprobs(model, prompt: list[int], target: list[int]) -> list[float]:
    """The same figures from one uncached, unbatched forward pass: the reference the batched path must match."""
    logits = model(mx.array(prompt + target[:-1])[None])[0].astype(mx.float32)
    first = len(prompt) - 1
    logp = logits[first:] - mx.logsumexp(logits[first:], axis=-1, keepdims=True)
    return mx.take_along_axis(logp, mx.array(target)[:, None], axis=-1)[:, 0].tolist()


# --- adapter checkpoints ------------------------------------------------------------------------

def attach_adapters(model, adapter_dir) -> None:
    """Turn the model's linears into the adapter's LoRA (or DoRA) layers, as mlx-lm's load_adapters does,
    without loading weights: each checkpoint's weights are then swapped in by load_checkpoint."""
    import json
    from pathlib import Path

    from mlx_lm.tuner.utils import linear_to_lora_layers

    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    kind = config.get("fine_tune_type", "lora")
    if kind != "full":
        linear_to_lora_layers(model, config["num_layers"], config["lora_parameters"], use_dora=kind == "dora")
    model.eval()


def load_checkpoint(model, path) -> None:
    """Swap one checkpoint's adapter weights into an attached model (strict about names and shapes)."""
    from mlx.utils import tree_flatten

    weights = mx.load(str(path))
    params = dict(tree_flatten(model.parameters()))
    bad = [name for name, w in weights.items() if name not in params or params[name].shape != w.shape]
    if bad:
        raise ValueError(f"{path}: {len(bad)} tensors fit no parameter of the model (first: {bad[0]})")
    model.load_weights(list(weights.items()), strict=False)
    mx.eval(model.parameters())
