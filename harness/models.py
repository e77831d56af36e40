"""Named models from models.toml, or a model folder given by path, as a ModelSpec."""
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from harness.errors import InputError
from harness.userfiles import read_toml

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


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return (_integer(value) or isinstance(value, float)) and math.isfinite(value)


# Numeric settings, in models.toml and as `harness run` flags: key -> (test, what to give instead).
RANGES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "max_tokens": (lambda v: _integer(v) and v >= 1, "an integer 1 or more"),
    "temperature": (lambda v: _number(v) and v >= 0, "a number 0 or more (0 is greedy)"),
    "top_p": (lambda v: _number(v) and 0 < v <= 1, "a number above 0 and at most 1"),
    "seed": (_integer, "an integer"),
    "samples": (lambda v: _integer(v) and v >= 1, "an integer 1 or more"),
    "batch_size": (lambda v: _integer(v) and v >= 1, "an integer 1 or more"),
    "concurrency": (lambda v: _integer(v) and v >= 1, "an integer 1 or more"),
}
RUN_FLAGS = {"samples": "--samples", "max_tokens": "--max-tokens", "batch_size": "--batch-size",
             "concurrency": "--concurrency"}


def check_value(key: str, value: Any, label: str) -> Any:
    """`value` when it is in RANGES[key]; `label` says where it was given ("--samples", "models.toml: ... key 'top_p'")."""
    test, want = RANGES[key]
    if not test(value):
        raise InputError(f"{label} must be {want}, got {value!r}")
    return value


def check_run_options(args) -> None:
    """The numeric flags of `harness run` (argparse has made them ints), refused with exit 2 when out of range."""
    for key, flag in RUN_FLAGS.items():
        if getattr(args, key, None) is not None:
            check_value(key, getattr(args, key), flag)


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
    for key in (k for k in RANGES if k in entry):
        check_value(key, entry[key], f"{where}: key '{key}'")
    spec = ModelSpec(name=name, backend=backend, source=where)
    spec.max_tokens = entry.get("max_tokens", spec.max_tokens)
    spec.temperature = float(entry.get("temperature", spec.temperature))
    spec.top_p = float(entry.get("top_p", spec.top_p))
    spec.seed = entry.get("seed", spec.seed)
    spec.chat_template_kwargs = dict(_typed(entry, "chat_template_kwargs", dict, {}, where))
    if "enable_thinking" in entry:
        spec.chat_template_kwargs["enable_thinking"] = _typed(entry, "enable_thinking", bool, False, where)
    spec.extra_eos_tokens = list(_typed(entry, "extra_eos_tokens", list, [], where))
    if not all(isinstance(token, str) and token for token in spec.extra_eos_tokens):
        raise InputError(f"{where}: key 'extra_eos_tokens' must list token texts such as \"<|eot_id|>\", "
                         f"got {spec.extra_eos_tokens!r:.80}")
    spec.options = {k: v for k, v in entry.items() if k in cls.option_keys}
    return spec


TYPE_NAMES = {int: "an integer", (int, float): "a number", bool: "true or false", dict: "a table", list: "a list"}


def _typed(entry: dict, key: str, types, default, where: str):
    value = entry.get(key, default)
    if isinstance(value, bool) and types in (int, (int, float)) or not isinstance(value, types):
        raise InputError(f"{where}: key '{key}' must be {TYPE_NAMES[types]}, got {value!r}")
    return value
