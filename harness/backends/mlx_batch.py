"""Batched generation for the mlx backend: the prompt prefix a group of cases shares (system prompt and
tool block) is prefilled once, then the group decodes with mlx-lm's BatchGenerator in a fixed number of
slots, each slot taking the group's next case as soon as its case finishes (continuous batching).

On a CPU, prefill dominates and batching alone barely helps; the shared prefix plus batched decode gave
7.8x over sequential generation with identical greedy outputs (measured by benchmarks/suite_speed.py).
"""
import json
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Iterator

from harness.backends.mlx_env import ensure_fast_blas

ensure_fast_blas()  # before mlx is first imported, whoever imports this module first
import mlx.core as mx  # noqa: E402
from mlx_lm.generate import BatchGenerator  # noqa: E402
from mlx_lm.models.cache import KVCache, make_prompt_cache  # noqa: E402

from harness.backends import mlx_prefix_attention  # noqa: E402

# slots a group may take: a decode step reads every weight once, so up to where the step turns compute-bound
# (~70 sequences on a 2-core CPU) more slots cost little; at 32, a suite of 33 left one case decoding alone
MAX_BATCH = 64
MEMORY_SHARE = 0.25  # of RAM (or Metal's recommended working set) that a batch's KV caches may take
PREFILL_STEP = 2048  # as mlx-lm's generate_step, so long prefixes prefill in the same chunks


@dataclass
class Finished:
    """One finished sequence; `index` is its position in the prompt list."""
    index: int
    text: str
    completion_tokens: int  # the stop token counts, as in mlx-lm's stream_generate
    finish_reason: str | None
    latency_s: float
    ttft_s: float | None


@dataclass
class Group:
    """Cases generated together: their indices, the prefix they share and the batch size."""
    indices: list[int]
    prefix_tokens: int
    batch_size: int


def unsupported_reason(model) -> str | None:
    """Why batching could change this model's outputs; None when every layer uses a plain KV cache,
    the one kind mlx-lm's BatchKVCache merges exactly (rotating and state-space caches differ)."""
    kinds = sorted({type(c).__name__ for c in make_prompt_cache(model)})
    if kinds != [KVCache.__name__]:
        return f"mlx-lm cannot batch this model's {', '.join(kinds)} exactly"
    return None


def attention_path(model, prefix_tokens: int) -> str:
    """"shared_prefix" (the prefix kept once, attended to in one GEMM per batch) where verified for the model
    and there is a prefix to share, else "standard" (the prefix copied into every sequence)."""
    return "shared_prefix" if prefix_tokens > 0 and mlx_prefix_attention.supported(model) else "standard"


def prefix_key(case) -> str:
    """Cases with the same tools and leading system messages render the same prompt prefix."""
    system = []
    for message in case.messages:
        if message.get("role") != "system":
            break
        system.append(message)
    return json.dumps([case.tools, system], sort_keys=True)


def kv_bytes_per_token(model) -> int:
    """KV cache bytes one token takes, read off the shapes of a one-token forward pass (never
    evaluated, so free); holds for any layer count, head layout and dtype."""
    cache = make_prompt_cache(model)
    model(mx.array([[0]]), cache=cache)
    return sum(c.keys[..., :1, :].nbytes + c.values[..., :1, :].nbytes for c in cache)


def memory_budget() -> int:
    total = mx.device_info().get("max_recommended_working_set_size")
    total = total or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(total * MEMORY_SHARE)


def plan_groups(prompts: list[list[int]], keys: list[str], max_tokens: int, bytes_per_token: int,
                batch_size: int | None = None, budget: int | None = None) -> list[Group]:
    """Group prompts by key; each group's batch size fits its longest sequence in the memory budget."""
    by_key: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)
    budget = memory_budget() if budget is None else budget
    groups = []
    for indices in by_key.values():
        seqs = [prompts[i] for i in indices]
        # at least one token per prompt must stay outside the prefix: it starts the decode
        prefix = min(len(os.path.commonprefix(seqs)), min(len(s) for s in seqs) - 1)
        per_seq = bytes_per_token * (max(len(s) for s in seqs) + max_tokens)
        size = batch_size or max(1, min(MAX_BATCH, budget // max(1, per_seq)))
        groups.append(Group(indices=indices, prefix_tokens=prefix, batch_size=min(size, len(indices))))
    return groups


FORWARD_OVERHEAD_TOKENS = 32  # a forward pass's fixed cost, in padded tokens it could have run instead


def length_buckets(widths: list[int], max_size: int, max_tokens: int) -> list[list[int]]:
    """Positions of `widths` in batches of similar width, each padded to its widest: the cut that minimises
    padded tokens plus FORWARD_OVERHEAD_TOKENS per batch (exact, over widths in sorted order), with at most
    `max_size` sequences and `max_tokens` padded tokens a batch (probes: the suite's suffixes ranged 13-132
    tokens, and one padded batch ran 4.7x the tokens it needed)."""
    order = sorted(range(len(widths)), key=widths.__getitem__)
    best = [0] + [float("inf")] * len(order)
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        width = widths[order[end - 1]]
        for start in range(max(0, end - max_size), end):
            if (end - start) * width > max_tokens and end - start > 1:
                continue
            cost = best[start] + FORWARD_OVERHEAD_TOKENS + (end - start) * width
            if cost < best[end]:
                best[end], cut[end] = cost, start
    buckets, end = [], len(order)
    while end:
        buckets.append(order[cut[end]:end])
        end = cut[end]
    return buckets[::-1]


def prefill_batch_size(lengths: list[int], slots: int) -> int:
    """How many suffixes BatchGenerator prefills together (it pads them to the longest, and takes them in
    the order given: by length here): the fixed size whose chunks cost the fewest padded tokens plus
    FORWARD_OVERHEAD_TOKENS each. A sequence admitted in a later chunk starts decoding a step later."""
    ordered = sorted(lengths)

    def cost(size: int) -> int:
        return sum(FORWARD_OVERHEAD_TOKENS + len(ordered[i:i + size]) * ordered[min(i + size, len(ordered)) - 1]
                   for i in range(0, len(ordered), size))

    return min(range(1, max(1, slots) + 1), key=lambda size: (cost(size), -size))


def _fill(model, tokens: mx.array, cache: list) -> None:
    """Run the (B, T) tokens through the model in PREFILL_STEP-token passes, only for what they leave in `cache`."""
    for start in range(0, tokens.shape[1], PREFILL_STEP):
        model(tokens[:, start:start + PREFILL_STEP], cache=cache)
        mx.eval([c.state for c in cache])


def prefill(model, tokens: list[int]) -> list:
    """The prefix's cache; verified models attend through mlx_prefix_attention (numpy's exp, ~3x faster on a
    CPU) and skip the last layer's output."""
    cache = make_prompt_cache(model)
    verified = mlx_prefix_attention.supported(model)
    with mlx_prefix_attention.installed(model) if verified else nullcontext(), \
            mlx_prefix_attention.last_layer_fills_cache(model) if verified else nullcontext():
        _fill(model, mx.array(tokens)[None], cache)
    return cache


def prefill_suffixes(model, prefixes: list, suffixes: list[list[int]]) -> tuple[list[list], list[float]]:
    """Each suffix's own cache after the shared prefix (`prefixes`: layer_prefixes), one SharedPrefixCache a
    layer, prefilled in right-padded batches of similar length (length_buckets); and when each one's batch
    began (perf_counter). Empty suffixes get empty caches."""
    caches = [[mlx_prefix_attention.SharedPrefixCache(p) for p in prefixes] for _ in suffixes]
    began = [time.perf_counter()] * len(suffixes)
    todo = [i for i, s in enumerate(suffixes) if s]
    with mlx_prefix_attention.installed(model), mlx_prefix_attention.last_layer_fills_cache(model):
        for bucket in length_buckets([len(suffixes[i]) for i in todo], len(todo), PREFILL_STEP):
            rows = [todo[b] for b in bucket]
            width = max(len(suffixes[i]) for i in rows)
            start = time.perf_counter()
            batch = [mlx_prefix_attention.SuffixCache(p) for p in prefixes]
            _fill(model, mx.array([suffixes[i] + [0] * (width - len(suffixes[i])) for i in rows]), batch)
            for row, i in enumerate(rows):
                n, began[i] = len(suffixes[i]), start
                for own, layer in zip(caches[i], batch):
                    own.state = (layer.keys[row:row + 1, :, :n], layer.values[row:row + 1, :, :n], n)
    return caches, began


def generate_groups(model, tokenizer, prompts: list[list[int]], groups: list[Group], max_tokens: int,
                    sampler, continuous: bool = True) -> Iterator[Finished]:
    """Each group decodes in `batch_size` slots. Continuous: a slot takes the group's next case as soon as
    its case finishes; else the group runs in fixed batches, each waiting for its longest case. Cases go
    in by suffix length, so the suffixes prefilled together need little padding."""
    for group in groups:
        prefix_cache = prefill(model, prompts[group.indices[0]][:group.prefix_tokens])
        order = sorted(group.indices, key=lambda i: len(prompts[i]))
        step = len(order) if continuous else group.batch_size
        for start in range(0, len(order), step):
            chunk = order[start:start + step]
            suffixes = [prompts[i][group.prefix_tokens:] for i in chunk]
            yield from decode_batch(model, tokenizer, prefix_cache, suffixes, chunk, max_tokens, sampler,
                                    slots=group.batch_size)


def decode_batch(model, tokenizer, prefix_cache: list, suffixes: list[list[int]], indices: list[int],
                 max_tokens: int, sampler, slots: int | None = None) -> Iterator[Finished]:
    """Decode the suffixes in `slots` sequences at a time (default: all at once), refilling each slot as its
    sequence finishes, and yield each sequence as it finishes."""
    slots = slots or len(suffixes)
    if attention_path(model, prefix_cache[0].offset) == "standard":
        # BatchGenerator prefills each suffix after the prefix, copying the one prefix cache in its merge
        yield from _decode(model, tokenizer, lambda at: ([suffixes[p] for p in at], [prefix_cache] * len(at), None),
                           indices, max_tokens, sampler, slots, prefill_batch_size([len(s) for s in suffixes], slots),
                           refill=False)
        return
    prefixes = mlx_prefix_attention.layer_prefixes(prefix_cache)

    # all but the last token prefilled here, as slots free: BatchGenerator would run a decode step of the
    # slots already taken between its prefill batches; the one-token prompts go straight to decoding
    def admit(at):
        caches, began = prefill_suffixes(model, prefixes, [suffixes[p][:-1] for p in at])
        return [suffixes[p][-1:] for p in at], caches, began

    with mlx_prefix_attention.installed(model):
        yield from _decode(model, tokenizer, admit, indices, max_tokens, sampler, slots, slots, refill=True)


def _decode(model, tokenizer, admit, indices: list[int], max_tokens: int, sampler, slots: int, prefill_size: int,
            refill: bool) -> Iterator[Finished]:
    """admit(positions in `indices`) gives their prompts and caches for BatchGenerator.insert, and when each
    one's prefill began (None: BatchGenerator prefills them); refill: admit sequences as slots free, else
    all at once."""
    gen = BatchGenerator(model, max_tokens=max_tokens, stop_tokens=[[t] for t in tokenizer.eos_token_ids],
                         sampler=sampler, completion_batch_size=slots, prefill_batch_size=prefill_size)
    waiting = list(range(len(indices)))
    index, detokenizers, counts, started, first = {}, {}, {}, {}, {}
    paused = 0.0  # time the consumer held a yield, left out of every clock

    def insert(n: int) -> None:
        at = waiting[:n]
        del waiting[:n]
        prompts, caches, began = admit(at)
        for uid, p, t in zip(gen.insert(prompts, caches=caches), at, began or [None] * len(at)):
            index[uid], detokenizers[uid], counts[uid] = indices[p], tokenizer.detokenizer, 0
            if t is not None:
                started[uid] = t - paused

    insert(slots if refill else len(waiting))
    # a case's clock starts when its prefill began: our prefill's pass over its length bucket (insert), else
    # the BatchGenerator call that prefilled it (it prefills newly admitted cases after a decode step)
    previous = current = time.perf_counter()  # when the previous and the current call began
    try:
        while responses := gen.next_generated():
            now = time.perf_counter() - paused
            done = []
            for r in responses:
                started.setdefault(r.uid, previous)
                first.setdefault(r.uid, now - started[r.uid])
                counts[r.uid] += 1
                detok = detokenizers[r.uid]
                if r.finish_reason != "stop":  # stream_generate leaves the stop token out of the text too
                    detok.add_token(r.token)
                if r.finish_reason is not None:
                    detok.finalize()
                    done.append(Finished(index[r.uid], detok.text, counts[r.uid], r.finish_reason,
                                         now - started[r.uid], first[r.uid]))
            previous, current = current, now
            if refill and done and waiting:
                insert(len(done))
            for finished in done:
                held = time.perf_counter()
                yield finished
                paused += time.perf_counter() - held
    finally:
        gen.close()
