"""`harness doctor MODEL [--data F] [--base M --adapter D]`: setup flaws found before training or an eval."""
import argparse
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from harness.errors import InputError
from harness.models import COMMON_OPTIONS
from harness.options import flag_type


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a model folder, 'demo', or a name in models.toml")
    parser.add_argument("--data", help="training data (mlx-lm chat JSONL) to check against the model")
    parser.add_argument("--base", help="base model the adapter was trained on (with --adapter)")
    parser.add_argument("--adapter", help="LoRA adapter folder; checks that MODEL is base + adapter fused")
    parser.add_argument("--models", default="models.toml", help="models file (default ./models.toml)")
    parser.add_argument("--max-tokens", type=flag_type(COMMON_OPTIONS["max_tokens"]),
                        help="the max_tokens you will run with (default: the model's)")
    parser.add_argument("--format", choices=["table", "json"], default="table")


def main(args) -> int:
    from harness.doctor import FAIL, run_checks
    from harness.models import resolve_model

    if bool(args.base) != bool(args.adapter):
        raise InputError("harness doctor: --base and --adapter go together (the base model and the adapter "
                         "that MODEL is said to fuse)")
    for flag, value in (("--data", args.data), ("--base", args.base), ("--adapter", args.adapter)):
        if value and not Path(value).exists():
            raise InputError(f"harness doctor: {flag} '{value}' does not exist")
    spec = resolve_model(args.model, args.models, "MODEL")
    if args.max_tokens:
        spec.max_tokens = args.max_tokens
    checks = run_checks(spec, *(Path(v) if v else None for v in (args.data, args.base, args.adapter)))
    if args.format == "json":
        print(json.dumps({"model": spec.name, "checks": [asdict(c) for c in checks]}, indent=2, ensure_ascii=False))
    else:
        print(render_table(spec, checks))
    return 1 if any(c.status == FAIL for c in checks) else 0


def render_table(spec, checks) -> str:
    from harness.doctor import FAIL, PASS, WARN

    width = max(len(c.id) for c in checks)
    lines = [f"harness doctor: {spec.name} ({spec.source})"]
    for c in checks:
        lines.append(f"  {c.status.upper() if c.status != PASS else c.status:<4}  {c.id:<{width}}  {c.finding}")
        if c.fix:
            lines.append(f"  {'':<4}  {'':<{width}}  fix: {c.fix}")
    counts = Counter(c.status for c in checks)
    lines.append(f"{counts[FAIL]} failed, {counts[WARN]} warned, {counts[PASS]} passed")
    return "\n".join(lines)
