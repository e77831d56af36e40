"""Backend registry: built-ins by name, others from the `harness.backends` entry-point group.

Modules are imported only when their backend is used, so the CLI starts fast.
"""
import importlib
from importlib.metadata import entry_points

from harness.errors import InputError

BUILTIN = {
    "mlx": "harness.backends.mlx:MLXBackend",
    "openai": "harness.backends.openai:OpenAIBackend",
    "replay": "harness.backends.replay:ReplayBackend",
}
ENTRY_POINT_GROUP = "harness.backends"


def available() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def backend_class(name: str, where: str = "models.toml"):
    targets = available()
    if name not in targets:
        raise InputError(f"{where}: unknown backend '{name}'; available: {', '.join(sorted(targets))} "
                         f"(plugins register under the '{ENTRY_POINT_GROUP}' entry-point group)")
    module_name, _, attr = targets[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)
