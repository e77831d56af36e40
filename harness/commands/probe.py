"""`harness probe SUITE --model M [--force-call]`: how likely the model is to start a call on each case,
from its own probabilities, without generating; with --force-call, whether the call it would write is right.

Records go to probe.jsonl in a run folder (one per case, the last line of a case counts), beside
probe_manifest.json; probing into the same folder again resumes and redoes only what is missing.
"""
import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from harness.errors import InputError

RECORDS = "probe.jsonl"
MANIFEST = "probe_manifest.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suite", help="suite file (.toml or .jsonl)")
    p.add_argument("--model", required=True, help="a name in models.toml, 'demo', or a model folder (mlx backend)")
    p.add_argument("--models", default="models.toml", help="models file (default ./models.toml)")
    p.add_argument("--force-call", action="store_true",
                   help="also prefill the call marker on tool cases, let the model write the rest and score it")
    p.add_argument("--max-tokens", type=int, help="override the model's max_tokens (forced calls)")
    p.add_argument("--out", default="reports", help="parent folder for a new run folder (default reports/)")
    p.add_argument("--run-dir", help="run folder; probing into it again resumes")
    p.add_argument("--format", choices=["table", "json", "html"], default="table", help="report format")
    p.add_argument("-o", "--output", help="write the report to this file instead of stdout")


def _check_same(manifest: dict, suite, spec, run_dir: Path) -> None:
    if manifest and (manifest.get("suite", {}).get("sha256") != suite.sha256 or manifest.get("model") != spec.name):
        raise InputError(f"{run_dir}: holds a probe of suite '{manifest.get('suite', {}).get('name')}' on model "
                         f"'{manifest.get('model')}' (or another version of the suite file); use a new --run-dir")


def read_probe_records(path: Path) -> dict:
    """Probe records by case id; the last line of a case counts, and a torn or foreign line is skipped (redone)."""
    import json

    from harness.probe import ProbeRecord

    found = {}
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True) if path.is_file() else []
    for line in lines:
        try:
            record = ProbeRecord.from_json(json.loads(line)) if line.endswith("\n") else None
        except ValueError:
            record = None
        if record:
            found[record.id] = record
    return found


def probe_run(suite, spec, run_dir: Path, force: bool) -> list:
    """Probe a suite into a run folder, keeping what an earlier probe there finished."""
    import json

    from harness import probe
    from harness.backends import backend_class
    from harness.results import RecordWriter

    run_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = run_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    _check_same(manifest, suite, spec, run_dir)
    ids = {c.id for c in suite.cases}
    done = {i: r for i, r in read_probe_records(run_dir / RECORDS).items() if i in ids}
    missing = [c for c in suite.cases if c.id not in done or (force and done[c.id].expects_call
                                                             and done[c.id].forced is None and not done[c.id].na)]
    if not missing:
        return [done[c.id] for c in suite.cases]
    backend = backend_class(spec.backend, spec.source)(spec)
    if force and not hasattr(backend, "generate_forced"):
        raise InputError(f"--force-call needs a backend that can prefill the call marker (mlx); "
                         f"'{spec.name}' uses '{spec.backend}' ({spec.source}); drop --force-call")
    loaded = backend.load()
    manifest_path.write_text(json.dumps({
        "suite": {"name": suite.name, "path": suite.path, "sha256": suite.sha256}, "model": spec.name,
        "backend": spec.backend, "load_s": loaded.load_s, "force_call": force or manifest.get("force_call", False),
        "started_at": manifest.get("started_at") or datetime.now(timezone.utc).isoformat(timespec="seconds")},
        indent=2), encoding="utf-8")
    writer = RecordWriter(run_dir / RECORDS)
    try:
        return probe.probe_cases(backend, suite.cases, force, done, writer.write)
    finally:
        writer.close()
        backend.close()


def suite_and_model(args, command: str, model: str, given_as: str):
    """The suite and model spec a probe or sweep command names, checked before anything loads."""
    from harness.models import resolve_model
    from harness.suite import load_suite

    if args.format == "html" and not args.output:
        raise InputError(f"harness {command} --format html: give -o FILE.html")
    suite = load_suite(args.suite)
    return suite, resolve_model(model, args.models, given_as).with_overrides(max_tokens=args.max_tokens)


def main(args) -> int:
    from harness import probe, runner
    from harness.reporting.probe import probe_report, render_probe
    from harness.reporting.render import emit

    suite, spec = suite_and_model(args, "probe", args.model, "--model")
    run_dir = Path(args.run_dir) if args.run_dir else Path(f"{runner.default_run_dir(args.out, suite, spec)}-probe")
    try:
        cases = probe_run(suite, spec, run_dir, args.force_call)
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished cases are saved. Resume with: --run-dir {run_dir}", file=sys.stderr)
        return 130
    report = probe_report(suite.name, spec.name, str(run_dir), cases, probe.summarize(cases))
    emit(render_probe(report, args.format), args.output)
    print(f"run folder: {run_dir}", file=sys.stderr)
    return 0
