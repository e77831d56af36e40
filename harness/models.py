"""Named models from models.toml, or a model folder given by path, as a ModelSpec."""
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.options import Option, check_entry
from harness.userfiles import read_toml

DEMO = "demo"
# Keys every backend understands; a backend declares its own (Backend.options).
COMMON_OPTIONS = {
    "backend": Option(str, "which backend runs the model"),
    "description": Option(str, "a note for people"),
    "max_tokens": Option(int, "most tokens generated per case", min=1),
    "temperature": Option((int, float), "sampling temperature; 0 is greedy", min=0),
    "top_p": Option((int, float), "nucleus sampling mass", min=0, max=1, exclusive_min=True),
    "seed": Option(int, "sampling seed (each case and sample gets its own from it)", min=0),
    "enable_thinking": Option(bool, "passed to the chat template"),
    "chat_template_kwargs": Option(dict, "extra chat template arguments"),
    "extra_eos_tokens": Option(list, "more tokens that end generation"),
}


@dataclass
class ModelSpec:
    """One models.toml entry, checked: the backend, its settings and sampling."""
    name: str
    backend: str = "mlx"
    max_tokens: int = 256
    temperature: float = 0.0  # greedy by default: verdicts must be reproducible
    top_p: float = 1.0
    seed: int = 0
    chat_template_kwargs: dict = field(default_factory=dict)  # enable_thinking lands here
    extra_eos_tokens: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)  # backend-specific: path, adapter_path, base_url, ...
    source: str = ""  # where the spec came from, for error messages

    def sampler(self) -> dict:
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens, "seed": self.seed}

    def with_overrides(self, max_tokens: int | None = None, **options) -> "ModelSpec":
        """A new spec with command-line overrides (None leaves a setting as the entry has it)."""
        return replace(self, max_tokens=self.max_tokens if max_tokens is None else max_tokens,
                       options={**self.options, **{k: v for k, v in options.items() if v is not None}})


def load_models_file(path: str | Path) -> dict[str, dict]:
    path = Path(path)
    if not path.exists():
        return {}
    raw = read_toml(path, "models file")
    models = raw.get("models", {})
    unknown = [k for k in raw if k != "models"]
    if unknown or not isinstance(models, dict):
        raise InputError(f"{path}: expected only [models.NAME] tables, found '{(unknown or ['models'])[0]}'")
    return models


def resolve_model(ref: str, models_file: str | Path = "models.toml", given_as: str = "--model") -> ModelSpec:
    """`ref` is a name in models_file, 'demo', or a path to a model folder; `given_as` names where the user
    gave it, for the error."""
    entries = load_models_file(models_file)
    if ref in entries:
        return spec_from_entry(ref, entries[ref], f"{models_file}: [models.{ref}]")
    if ref == DEMO:
        return ModelSpec(name=DEMO, backend="mlx", max_tokens=64, options={"path": DEMO}, source="built-in demo model")
    if Path(ref).is_dir():
        return ModelSpec(name=Path(ref).resolve().name, backend="mlx", options={"path": str(Path(ref).resolve())},
                         source=f"model folder {ref}")
    known = ", ".join(sorted(entries) + [DEMO])
    raise InputError(f"unknown model '{ref}': not a [models.NAME] entry in {models_file} (known: {known}) "
                     f"and not a model folder; give {given_as} a NAME from {models_file} or a model folder PATH")


def replay_spec(path: str | Path) -> ModelSpec:
    """Recorded outputs served as a model (the replay backend)."""
    return ModelSpec(name=f"replay:{Path(path).name}", backend="replay", options={"file": str(path)},
                     source=f"--replay {path}")


# what the harness passes to apply_chat_template itself
RENDER_ARGUMENTS = {"conversation", "messages", "tools", "add_generation_prompt", "tokenize", "return_dict",
                    "continue_final_message"}


def spec_from_entry(name: str, entry: Any, where: str) -> ModelSpec:
    if not isinstance(entry, dict):
        raise InputError(f"{where}: must be a table of settings")
    from harness.backends import backend_class

    backend = entry.get("backend", "mlx")
    cls = backend_class(backend, where)
    backend_options = cls.declared_options()
    check_entry(entry, {**COMMON_OPTIONS, **backend_options}, where, f"backend '{backend}'")
    spec = ModelSpec(name=name, backend=backend, source=where)
    spec.max_tokens = entry.get("max_tokens", spec.max_tokens)
    spec.temperature = float(entry.get("temperature", spec.temperature))
    spec.top_p = float(entry.get("top_p", spec.top_p))
    spec.seed = entry.get("seed", spec.seed)
    spec.chat_template_kwargs = dict(entry.get("chat_template_kwargs", {}))
    reserved = sorted(set(spec.chat_template_kwargs) & RENDER_ARGUMENTS)
    if reserved:
        raise InputError(f"{where}: 'chat_template_kwargs' sets {', '.join(reserved)}, which the harness sets itself "
                         "when it renders a prompt; remove it (extra template variables only, such as enable_thinking)")
    if "enable_thinking" in entry:
        spec.chat_template_kwargs["enable_thinking"] = entry["enable_thinking"]
    spec.extra_eos_tokens = list(entry.get("extra_eos_tokens", []))
    if not all(isinstance(token, str) and token for token in spec.extra_eos_tokens):
        raise InputError(f"{where}: 'extra_eos_tokens' must list token texts such as \"<|eot_id|>\", "
                         f"got {spec.extra_eos_tokens!r:.80}")
    spec.options = {k: v for k, v in entry.items() if k in backend_options}
    return spec
