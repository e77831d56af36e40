"""Named models from models.toml, or a model folder given by path, as a ModelSpec."""
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import InputError

DEMO = "demo"
# Keys every backend understands; a backend adds its own (Backend.option_keys).
COMMON_KEYS = ("backend", "description", "max_tokens", "temperature", "top_p", "seed",
               "enable_thinking", "chat_template_kwargs", "extra_eos_tokens")


@dataclass
class ModelSpec:
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
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise InputError(f"{path}: invalid TOML: {e}; fix the syntax at that line") from None
    models = raw.get("models", {})
    unknown = [k for k in raw if k != "models"]
    if unknown or not isinstance(models, dict):
        raise InputError(f"{path}: expected only [models.NAME] tables, found '{(unknown or ['models'])[0]}'")
    return models


def resolve_model(ref: str, models_file: str | Path = "models.toml") -> ModelSpec:
    """`ref` is a name in models_file, 'demo', or a path to a model folder."""
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
                     f"and not a model folder; pass --model NAME or --model PATH")


def spec_from_entry(name: str, entry: Any, where: str) -> ModelSpec:
    if not isinstance(entry, dict):
        raise InputError(f"{where}: must be a table of settings")
    from harness.backends import backend_class

    backend = entry.get("backend", "mlx")
    cls = backend_class(backend, where)
    allowed = COMMON_KEYS + tuple(cls.option_keys)
    for key in entry:
        if key not in allowed:
            raise InputError(f"{where}: unknown key '{key}' for backend '{backend}'; allowed: {', '.join(allowed)}")
    for key in cls.required_keys:
        if key not in entry:
            raise InputError(f"{where}: missing key '{key}', which backend '{backend}' needs")
    spec = ModelSpec(name=name, backend=backend, source=where)
    spec.max_tokens = _typed(entry, "max_tokens", int, spec.max_tokens, where)
    spec.temperature = float(_typed(entry, "temperature", (int, float), spec.temperature, where))
    spec.top_p = float(_typed(entry, "top_p", (int, float), spec.top_p, where))
    spec.seed = _typed(entry, "seed", int, spec.seed, where)
    spec.chat_template_kwargs = dict(_typed(entry, "chat_template_kwargs", dict, {}, where))
    if "enable_thinking" in entry:
        spec.chat_template_kwargs["enable_thinking"] = _typed(entry, "enable_thinking", bool, False, where)
    spec.extra_eos_tokens = list(_typed(entry, "extra_eos_tokens", list, [], where))
    spec.options = {k: v for k, v in entry.items() if k in cls.option_keys}
    return spec


TYPE_NAMES = {int: "an integer", (int, float): "a number", bool: "true or false", dict: "a table", list: "a list"}


def _typed(entry: dict, key: str, types, default, where: str):
    value = entry.get(key, default)
    if isinstance(value, bool) and types in (int, (int, float)) or not isinstance(value, types):
        raise InputError(f"{where}: key '{key}' must be {TYPE_NAMES[types]}, got {value!r}")
    return value
