"""`harness models`: the entries of models.toml (and the built-in demo model)."""
import argparse

QUICK_EXIT = True  # nothing is left open or running when main returns (harness.cli.entry)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models", default="models.toml")


def main(args) -> int:
    from harness.models import load_models_file, spec_from_entry

    entries = load_models_file(args.models)
    print("demo\tmlx\tbuilt-in demo model (built offline on first use)")
    for name, entry in entries.items():
        spec = spec_from_entry(name, entry, f"{args.models}: [models.{name}]")
        where = spec.options.get("path") or spec.options.get("base_url") or ""
        print(f"{name}\t{spec.backend}\t{where}")
    return 0
