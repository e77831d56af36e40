"""Re-detect and re-score a finished run's recorded outputs with today's detector and a suite (the
recorded one by default), into a new run folder that keeps the original generation figures."""
from dataclasses import replace
from pathlib import Path

from typing import Iterator

from harness import episodes
from harness.backends.base import Backend, Generation, LoadInfo, Request
from harness.conversation import assistant_turns
from harness.errors import InputError
from harness.records import Manifest, Record
from harness.results import RESULTS, RecordWriter, RunLock, load_run, write_manifest
from harness.runner import coverage, final_status, now, recorded_turns
from harness.judge import settle
from harness.kinds import classify
from harness.models import ModelSpec
from harness.records import NOT_JUDGED
from harness.scoring import judge
from harness.suite import Suite


class Unrecorded(Backend):
    """Re-scoring generates nothing: a rollout turn the run never recorded becomes a backend error."""

    def load(self) -> LoadInfo:
        return LoadInfo()

    def generate(self, requests: list[Request]) -> Iterator[Generation]:
        for r in requests:
            yield Generation(case_id=r.case.id, sample=r.sample, output="", timing="replayed",
                             error=f"the run has no recorded output for case '{r.case.id}' turn {r.turn}")


def generation_of(record: Record) -> Generation:
    """What the backend produced for a record, as it was recorded."""
    return Generation(case_id=record.id, sample=record.sample, output=record.output, tool_calls=record.tool_calls,
                      prompt_sha256=record.prompt_sha256, prompt_tokens=record.prompt_tokens,
                      completion_tokens=record.completion_tokens, latency_s=record.latency_s, ttft_s=record.ttft_s,
                      finish_reason=record.finish_reason, timing=record.timing,
                      error=record.error if record.reason == "backend_error" else None)


def rescore(run_dir: str | Path, suite: Suite, out: Path, judge_spec: ModelSpec | None = None,
            judge_cache: Path | None = None) -> tuple[Manifest, int]:
    """Writes `out`; returns its manifest and how many records had no case in the suite (left out). With
    `judge_spec`, replies of one-turn cases the classifier found unsure go to that judge model (cached in
    `judge_cache`), and those it settles are scored with the kind it gave."""
    run = load_run(run_dir, views=False)  # whole outputs: they are detected again
    if run.manifest is None:
        raise InputError(f"{run_dir}: no manifest.json; give a run folder written by `harness run`")
    by_id = {c.id: c for c in suite.cases}
    kept = [r for r in run.records if r.id in by_id]
    if not kept:
        raise InputError(f"{run_dir}: none of its {len(run.records)} records is a case of suite '{suite.name}' "
                         f"({suite.path}); give the suite the run was made with (--suite)")
    olds = [old for old in kept if not by_id[old.id].script]  # a rollout is re-judged turn by turn below
    records = [judge(by_id[old.id], generation_of(old), old.sampler) for old in olds]
    # the judge answers before the folder exists: a judge that cannot load leaves nothing behind
    judged_by = _settle_unsure(olds, records, by_id, judge_spec, judge_cache) if judge_spec else None
    out.mkdir(parents=True, exist_ok=False)
    with RunLock(out):
        writer = RecordWriter(out / RESULTS)
        try:
            for old, record in zip(olds, records):
                record.tokens_per_s, record.finished_at = old.tokens_per_s, old.finished_at
                writer.write(record)
            # rollouts: replay each episode from its recorded turns; the script answers the calls anew
            rollouts = sorted({(r.id, r.sample) for r in kept if by_id[r.id].script})
            requests = [Request(by_id[i], s, turn=assistant_turns(by_id[i].messages)) for i, s in rollouts]
            for record in episodes.run_episodes(Unrecorded(None), requests, recorded_turns(kept, by_id),
                                                run.manifest.sampler, include_recorded=True) if requests else ():
                writer.write(record)
                records.append(record)
        finally:
            writer.close()
        samples = run.manifest.samples or 1
        cov = coverage(suite, samples, records)
        manifest = replace(run.manifest, run_dir=str(out), status=final_status(cov), coverage=cov,
                           suite={"name": suite.name, "path": suite.path, "sha256": suite.sha256, "cases": len(suite.cases)},
                           identity={}, finished_at=now(),
                           extra={**run.manifest.extra, "rescored_from": str(run_dir),
                                  **({"judge": judged_by} if judged_by else {})})
        write_manifest(out, manifest)
    return manifest, len(run.records) - len(kept)


def _settle_unsure(olds: list[Record], records: list[Record], by_id: dict, spec: ModelSpec, cache: Path) -> dict:
    """Re-judge, in place, the records whose reply the judge settles; what it did, for the manifest."""
    unsure = [i for i, r in enumerate(records) if r.response_kind == "unsure" and r.reason not in NOT_JUDGED]
    kinds, settled = settle([(records[i].output, classify(records[i].output, records[i].detection, by_id[records[i].id].tools))
                             for i in unsure], spec, cache)
    for i, kind in zip(unsure, kinds):
        if kind.kind != "unsure":
            records[i] = judge(by_id[olds[i].id], generation_of(olds[i]), olds[i].sampler, kind=kind)
    return {"model": spec.name, "unsure": len(unsure), "settled": settled}
