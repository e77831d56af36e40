"""What `harness doctor` asks of an mlx-lm model folder: tokenizer, template, eos ids, and next-token
behaviour of a model with or without an adapter. Every call into mlx, mlx-lm and transformers that the
checks make lives here; harness/doctor.py holds the judgement."""
from pathlib import Path

from harness.backends.mlx_env import ensure_fast_blas
from harness.errors import InputError


def load_tokenizer(path: Path, extra_eos_tokens: list[str] = ()):
    """The tokenizer exactly as `mlx_lm.load` builds it (eos ids from config and generation config),
    plus the models.toml extra_eos_tokens the mlx backend adds."""
    ensure_fast_blas()
    from mlx_lm.utils import load_config, load_tokenizer as mlx_load_tokenizer

    try:
        tok = mlx_load_tokenizer(Path(path), eos_token_ids=load_config(Path(path)).get("eos_token_id"))
    except Exception as e:  # transformers and mlx-lm raise many kinds for a bad folder; say which folder
        raise InputError(f"mlx-lm could not load the tokenizer of '{path}': {type(e).__name__}: {e}") from None
    for token in extra_eos_tokens:
        tok.add_eos_token(token)
    return tok


def render(tok, messages: list[dict], tools: list[dict] | None, add_generation_prompt: bool, **kwargs) -> str:
    """The prompt text as the mlx backend renders it (mlx-lm passes enable_thinking by default)."""
    return tok.apply_chat_template(messages, tools=tools, add_generation_prompt=add_generation_prompt,
                                   tokenize=False, **kwargs)


def template_text(tok) -> str:
    return tok.chat_template or ""


def pieces(tok, text: str) -> list[str]:
    """The tokens `text` encodes to, each decoded on its own."""
    return [tok.decode([i]) for i in tok.encode(text, add_special_tokens=False)]


def token_id(tok, text: str) -> int | None:
    """The id of `text` when it encodes to exactly one token."""
    ids = tok.encode(text, add_special_tokens=False)
    return ids[0] if len(ids) == 1 else None


def token_text(tok, token: int) -> str:
    return tok.decode([token])


def stop_ids(tok) -> set[int]:
    """The token ids generation stops on."""
    return set(tok.eos_token_ids)


def has_think_tokens(tok) -> bool:
    return bool(tok.has_thinking)


def reasons_by_default(tok, kwargs: dict) -> bool:
    """The model opens a reasoning block itself: think tokens, a template that reads enable_thinking, and
    kwargs that do not turn it off (mlx-lm sets it to true)."""
    return has_think_tokens(tok) and kwargs.get("enable_thinking") is not False and "enable_thinking" in template_text(tok)


def next_token_behaviour(path: Path, prompts: list[str], adapter: Path | None = None, steps: int = 8):
    """Next-token logits (one mx array per prompt) and greedy continuations of a model, optionally
    with a LoRA adapter loaded on top; the model is freed before returning."""
    ensure_fast_blas()
    import mlx.core as mx
    from mlx_lm import load, stream_generate
    from mlx_lm.sample_utils import make_sampler

    try:
        model, tok = load(str(path), adapter_path=str(adapter) if adapter else None)
    except Exception as e:
        with_adapter = f" with adapter '{adapter}'" if adapter else ""
        raise InputError(f"mlx-lm could not load '{path}'{with_adapter}: {type(e).__name__}: {e}") from None
    logits, greedy = [], []
    for prompt in prompts:
        ids = tok.encode(prompt, add_special_tokens=False)
        last = model(mx.array(ids)[None])[0, -1].astype(mx.float32)
        mx.eval(last)
        logits.append(last)
        greedy.append([r.token for r in stream_generate(model, tok, prompt=ids, max_tokens=steps,
                                                          sampler=make_sampler(temp=0.0))])
    return logits, greedy


def max_abs_diff(a: list, b: list) -> float:
    """Largest |a - b| over paired logit vectors; inf when their vocabularies differ in size."""
    import mlx.core as mx

    if any(x.shape != y.shape for x, y in zip(a, b)):
        return float("inf")
    return max(mx.max(mx.abs(x - y)).item() for x, y in zip(a, b))


def model_folder(spec, progress=print) -> Path:
    """The model folder a spec names; 'demo' is built into the cache on first use."""
    path = spec.options["path"]
    if path == "demo":
        from harness.demo.build import demo_model_path

        return demo_model_path(progress=progress)
    if not Path(path).is_dir():
        raise InputError(f"{spec.source}: model folder '{path}' does not exist; set 'path' to a folder with config.json")
    return Path(path)
