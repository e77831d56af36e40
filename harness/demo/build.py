"""Build small real-architecture mlx-lm model folders offline: the demo model and test fixtures.

Everything here is seeded and needs no network: a byte-level BPE trained on the text the model
will see, a Qwen2-family model initialised by mlx-lm's own classes, and an optional short full
fine-tune on chat conversations (assistant tokens only).
"""
import fcntl
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from harness.backends.mlx_env import ensure_fast_blas

# transformers builds Qwen2Tokenizer for model_type qwen2 and swaps in Qwen's split regex, so the
# tokenizer is trained with the same regex to keep ids identical either way.
QWEN_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TOOL_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>"]
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"  # other templates tests build fixtures with
DEMO_TEMPLATE = Path(__file__).resolve().parent / "template.jinja"


@dataclass
class TinySpec:
    """What to build. Fields that tests vary to make flawed fixtures are grouped last."""
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 384
    vocab: int = 1536
    seed: int = 0
    template: str = str(DEMO_TEMPLATE)  # a path, or a name in TEMPLATES
    added_tokens: list[str] = field(default_factory=lambda: list(TOOL_TOKENS))
    eos_token: str = "<|im_end|>"
    extra_corpus: list[str] = field(default_factory=list)


# The demo: big enough to learn which requests need a tool, when to ask or decline, and what to do with a
# tool's result (its score on the held-out reference suite varies by machine; see README), small enough to
# build in a few minutes on 2 free cores. 900 steps since it also learns to ask and decline.
DEMO_SPEC_ARGS = {"hidden": 192, "layers": 4, "intermediate": 576}
DEMO_STEPS = 900


def _train_tokenizer(spec: TinySpec, corpus: list[str]):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab, min_frequency=2, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in spec.added_tokens])
    return tok


def render(template_text: str, messages: list[dict], tools: list[dict] | None, add_generation_prompt: bool) -> str:
    """Render a chat template the way transformers does (for corpora and training masks)."""
    import jinja2

    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = lambda x, indent=None: json.dumps(x, ensure_ascii=False, indent=indent)
    return env.from_string(template_text).render(messages=messages, tools=tools, add_generation_prompt=add_generation_prompt)


def build_tiny_model(out: Path, spec: TinySpec, conversations: list[dict] = ()) -> Path:
    """Write an untrained model folder loadable by mlx_lm.load; the tokenizer sees `conversations`."""
    ensure_fast_blas()
    import mlx.core as mx
    from mlx_lm.utils import _get_classes, save_model

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    template = (TEMPLATES / spec.template).read_text()
    corpus = [render(template, c["messages"], c.get("tools"), False) for c in conversations] + list(spec.extra_corpus)
    corpus = corpus or [template]
    tok = _train_tokenizer(spec, corpus)
    tok.save(str(out / "tokenizer.json"))
    eos_id, pad_id = tok.token_to_id(spec.eos_token), tok.token_to_id("<|endoftext|>")
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 4096,
        "eos_token": spec.eos_token, "pad_token": "<|endoftext|>", "bos_token": None, "unk_token": None,
        "add_bos_token": False, "add_eos_token": False, "clean_up_tokenization_spaces": False,
        "tool_parser_type": "json_tools", "chat_template": template,
    }, indent=2))
    cfg = {
        "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": spec.hidden,
        "num_hidden_layers": spec.layers, "intermediate_size": spec.intermediate,
        "num_attention_heads": spec.heads, "num_key_value_heads": spec.kv_heads, "rms_norm_eps": 1e-6,
        "vocab_size": tok.get_vocab_size(), "max_position_embeddings": 4096, "rope_theta": 1000000.0,
        "tie_word_embeddings": True, "eos_token_id": eos_id, "bos_token_id": None, "torch_dtype": "float32",
    }
    mx.random.seed(spec.seed)
    model_cls, args_cls = _get_classes(cfg)
    model = model_cls(args_cls.from_dict(cfg))
    mx.eval(model.parameters())
    save_model(out, model)
    (out / "config.json").write_text(json.dumps(cfg, indent=2))
    (out / "generation_config.json").write_text(json.dumps({"eos_token_id": [eos_id, pad_id]}))
    return out


def fine_tune(model_dir: Path, conversations: list[dict], steps: int = 150, batch_size: int = 8,
              learning_rate: float = 1e-3, seed: int = 0,
              on_step: Callable[[int, int, float], None] | None = None) -> list[float]:
    """Full fine-tune in place on the assistant turns of `conversations`; returns the loss curve.
    `on_step(done, steps, loss)` is called after every step, for progress.

    Full fine-tuning, not LoRA: on a random base LoRA barely learns (measured while building this demo), full FT
    learns the tool-call format in a few dozen steps.
    """
    ensure_fast_blas()
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    from mlx_lm import load
    from mlx_lm.models.cache import make_prompt_cache
    from mlx_lm.utils import save_model

    model_dir = Path(model_dir)
    model, tokenizer = load(str(model_dir))
    template = (model_dir / "tokenizer_config.json")
    template = json.loads(template.read_text())["chat_template"]
    examples = []
    for c in conversations:
        prompt = render(template, c["messages"][:-1], c.get("tools"), True)
        full = render(template, c["messages"], c.get("tools"), False)
        p_ids = tokenizer.encode(prompt, add_special_tokens=False)
        f_ids = tokenizer.encode(full.rstrip("\n"), add_special_tokens=False)
        examples.append((f_ids, len(p_ids)))

    # All examples share the system prompt and tool block; run that prefix once per step at batch 1
    # and train on the suffixes only (about 5x faster; the prefix still gets no gradient to learn).
    prefix_len = _common_prefix_len([ids for ids, _ in examples])
    prefix_len = min([prefix_len] + [n_prompt - 1 for _, n_prompt in examples])
    prefix = mx.array(examples[0][0][:prefix_len])[None]

    def loss_fn(m, inputs, targets, mask):
        cache = make_prompt_cache(m)
        if prefix_len:
            m(prefix, cache=cache)
            for c in cache:
                keys, values = c.keys_and_values()
                c.state = (mx.stop_gradient(mx.repeat(keys, inputs.shape[0], 0)),
                           mx.stop_gradient(mx.repeat(values, inputs.shape[0], 0)), c.offset)
        logits = m(inputs, cache=cache)
        ce = nn.losses.cross_entropy(logits, targets) * mask
        return ce.sum() / mask.sum()

    mx.random.seed(seed)
    rng = random.Random(seed)
    warmup = max(1, steps // 10)
    schedule = optim.join_schedules([optim.linear_schedule(learning_rate / 10, learning_rate, warmup),
                                     optim.cosine_decay(learning_rate, steps - warmup, learning_rate / 20)], [warmup])
    optimizer = optim.Adam(learning_rate=schedule)
    loss_and_grad = nn.value_and_grad(model, loss_fn)
    losses = []
    order: list[int] = []
    for _ in range(steps):
        if len(order) < batch_size:
            order = list(range(len(examples)))
            rng.shuffle(order)
        batch = [examples[order.pop()] for _ in range(batch_size)]
        width = max(len(ids) for ids, _ in batch) - 1 - prefix_len
        inputs, targets, mask = [], [], []
        for ids, n_prompt in batch:
            body = ids[prefix_len:]
            pad = width - (len(body) - 1)
            inputs.append(body[:-1] + [0] * pad)
            targets.append(body[1:] + [0] * pad)
            # learn only what the assistant writes: tokens after the prompt
            n_masked = n_prompt - 1 - prefix_len
            mask.append([0.0] * n_masked + [1.0] * (len(body) - 1 - n_masked) + [0.0] * pad)
        loss, grads = loss_and_grad(model, mx.array(inputs), mx.array(targets), mx.array(mask))
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state, loss)
        losses.append(loss.item())
        if on_step:
            on_step(len(losses), steps, losses[-1])
    save_model(model_dir, model)
    return losses


def scale_projections(model_dir: Path, factor: float) -> None:
    """Scale a saved model's attention and MLP projections in place. A random model mostly repeats its
    last prompt token; scaled up, its output depends on the whole prompt, so it can tell two
    generation paths apart (batched against sequential)."""
    ensure_fast_blas()
    import mlx.core as mx

    path = str(Path(model_dir) / "model.safetensors")
    weights = mx.load(path)
    mx.save_safetensors(path, {k: v * factor if k.endswith("proj.weight") else v for k, v in weights.items()})


def _common_prefix_len(seqs: list[list[int]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for s in seqs[1:]:
        i = 0
        while i < n and s[i] == first[i]:
            i += 1
        n = i
    return n


def cache_root() -> Path:
    return Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "toolcall-harness")


def demo_recipe_hash() -> str:
    """Hash of everything that decides the demo model, so an edited recipe never reuses a stale build."""
    from harness.demo import data as demo_data

    digest = hashlib.sha256()
    for path in (Path(__file__), Path(demo_data.__file__), TEMPLATES / TinySpec().template):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class BuildProgress:
    """What a demo build tells its user: a line per stage and, once the first steps are timed, the
    fine-tune's time left measured on this machine. On a terminal, a redrawn step/loss/time-left line."""

    TIMED_STEPS = 10  # steps timed before the estimate: the first few include mlx's compile warm-up

    def __init__(self, say: Callable[[str], None] | None):
        self.say = say or (lambda line: None)
        self.live = say is not None and sys.stderr.isatty()
        self.start = self.drawn = 0.0

    def step(self, done: int, steps: int, loss: float) -> None:
        now = time.perf_counter()
        if done == 1:
            self.start = now
            return
        rate = (now - self.start) / (done - 1)  # seconds a step, step 1's warm-up left out
        left = rate * (steps - done)
        if self.live and (now - self.drawn > 0.2 or done == steps):
            self.drawn = now
            sys.stderr.write(f"\r  fine-tune step {done}/{steps}  loss {loss:.3f}  {left:.0f} s left   ")
            if done == steps:
                sys.stderr.write("\n")
            sys.stderr.flush()
        elif not self.live and done == self.TIMED_STEPS:
            self.say(f"  fine-tuning {steps} steps: about {left:.0f} s left (timed over steps 2-{done} on this machine)")


def demo_model_path(progress: Callable[[str], None] | None = print) -> Path:
    """The built-in demo model, built on first use into the cache (1.5-5 minutes on 2 free cores).
    `progress` gets a line per stage of a build (None: silent); see BuildProgress."""
    from harness.demo import data as demo_data

    target = cache_root() / f"demo-{demo_recipe_hash()}"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    report = BuildProgress(progress)
    # one builder at a time: parallel test processes wait for the first build instead of repeating it
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report.say(f"waiting for another process building the demo model into {target} ...")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "config.json").exists():
            return target
        report.say(f"building the demo model into {target} (first use only: 1.5-5 minutes on 2 free "
                   "CPU cores, longer on a busy machine; the time left follows once measured)")
        t0 = time.perf_counter()
        conversations = demo_data.conversations()
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            work = Path(tmp) / "model"
            build_tiny_model(work, TinySpec(**DEMO_SPEC_ARGS), conversations)
            report.say(f"  tokenizer trained and model initialised on {len(conversations)} conversations "
                       f"({time.perf_counter() - t0:.1f} s)")
            t1 = time.perf_counter()
            losses = fine_tune(work, conversations, steps=DEMO_STEPS, on_step=report.step)
            report.say(f"  fine-tuned {len(losses)} steps in {time.perf_counter() - t1:.0f} s "
                       f"(loss {losses[0]:.2f} -> {losses[-1]:.2f})")
            (work / "demo_build.json").write_text(json.dumps({
                "recipe": target.name, "examples": len(conversations), "steps": len(losses),
                "first_loss": losses[0], "last_loss": losses[-1], "build_s": time.perf_counter() - t0,
            }, indent=2))
            os.replace(work, target)
        report.say(f"demo model ready in {time.perf_counter() - t0:.0f} s")
    return target
