"""Random-weight models of other mlx-lm families, built offline from a tiny model folder (tokenizer,
template, sizes): what the identity tests and the speed benchmark run each attention family on."""
import json
from pathlib import Path

from harness.backends.mlx_env import ensure_fast_blas

# config keys each family adds to (or overrides in) the tiny qwen2 config; "mistral" is a model type
# mlx-lm runs through its llama module, listed to check that the routing follows it
FAMILIES = {
    "qwen2": {},
    "qwen3": {"architectures": ["Qwen3ForCausalLM"]},
    "qwen3_moe": {"architectures": ["Qwen3MoeForCausalLM"], "num_experts": 4, "num_experts_per_tok": 2,
                  "decoder_sparse_step": 1, "mlp_only_layers": [], "norm_topk_prob": True},
    "llama": {"architectures": ["LlamaForCausalLM"], "rope_theta": 10000.0},
    "mistral": {"architectures": ["MistralForCausalLM"], "rope_theta": 10000.0},
    "gemma": {"architectures": ["GemmaForCausalLM"], "hidden_act": "gelu_pytorch_tanh"},
}


def rebuild_as(folder: Path, family: str, seed: int = 0) -> Path:
    """Replace the model in `folder` (written by harness.demo.build.build_tiny_model) with a random one of
    `family`, the same sizes and tokenizer; returns the folder."""
    ensure_fast_blas()
    import mlx.core as mx
    from mlx_lm.utils import _get_classes, save_model

    folder = Path(folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(FAMILIES[family], model_type=family)
    cfg.setdefault("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    if family == "qwen3_moe":
        cfg["moe_intermediate_size"] = cfg["intermediate_size"] // 2
    mx.random.seed(seed)
    model_cls, args_cls = _get_classes(cfg)
    model = model_cls(args_cls.from_dict(cfg))
    mx.eval(model.parameters())
    for old in folder.glob("model*.safetensors*"):
        old.unlink()
    save_model(folder, model)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    return folder


def spread_token(sequences: list[list[int]]) -> int:
    """The token first written at the most different positions across `sequences`: made the end token,
    it gives the sequences varied lengths (a random model has no end token of its own)."""
    first_at: dict[int, set] = {}
    for tokens in sequences:
        for token in set(tokens):
            first_at.setdefault(token, set()).add(tokens.index(token))
    return max(first_at, key=lambda t: (len(first_at[t]), -t))
