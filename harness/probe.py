"""Decision probes, the pure part: which text starts a call (from the template, as doctor finds it),
how p_call figures aggregate (mean, median, AUC of tool cases against direct cases), which cases sit
nearest the decision boundary, and which adapter checkpoints a training run left. No mlx here: the
forward passes live in backends/mlx_probe.py.
"""
import math
import re
import statistics
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from harness.detect import REASONING_PAIRS
from harness.doctor import PROBE_NAME, Probe, _added
from harness.errors import InputError

BOUNDARY = 0.5  # p_call where calling and not calling are equally likely
BOUNDARY_CASES = 5
TOP_SHOWN = 5  # most likely first tokens kept per case
FORCED_KEYS = ("passed", "reason", "tool", "call", "output", "detail")  # what a forced call's record keeps
CHECKPOINT = re.compile(r"(\d+)_adapters\.safetensors")
FINAL_CHECKPOINT = "adapters.safetensors"


@dataclass
class CallMarker:
    """What the assistant turn writes to start a call: `given` is prefilled and not scored (a closed
    reasoning block the template writes before a call), `marker` is the text p_call measures."""
    given: str = ""
    marker: str = ""
    na: str | None = None  # why p_call cannot be measured for this template


@dataclass
class ProbeRecord:
    """One case's probe (a line of probe.jsonl): p_call, the first tokens, and with --force-call the forced
    call's verdict {passed, reason, tool, call, output, detail} (tool cases only)."""
    id: str
    category: str
    expects_call: bool
    p_call: float | None
    na: str | None = None
    marker: str | None = None
    top_tokens: list[list] = field(default_factory=list)  # [token text, probability], most likely first
    prompt_tokens: int | None = None
    forced: dict | None = None
    sample: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, raw) -> "ProbeRecord | None":
        """None for a line that is not a whole, well-typed probe record (its case is probed again)."""
        from harness.records import DamagedRecord, _typed_fields

        if not isinstance(raw, dict) or not {f.name for f in fields(cls) if f.default is MISSING} <= set(raw):
            return None
        try:
            values = _typed_fields(cls, raw, set())
        except DamagedRecord:
            return None
        values.pop("extra")
        return cls(**values)


def open_reasoning(text: str) -> str | None:
    """The reasoning opener `text` leaves open (no closer after it), else None."""
    for opener, closer in REASONING_PAIRS:
        at = text.rfind(opener)
        if at >= 0 and closer not in text[at:]:
            return opener
    return None


def call_marker(probe: Probe, reasons_by_default: bool) -> CallMarker:
    """The call-opening text of a template, from doctor's rendered probe call.

    The assistant call turn minus the generation prompt leaves what the model must write; the marker
    runs to the end of the first call tag (or, for untagged formats, up to the tool name)."""
    if probe.call_segment is None:
        return CallMarker(na="; ".join(probe.problems) or "the template cannot render an assistant tool call")
    opener = open_reasoning(probe.generation_tail)
    if opener:
        return CallMarker(na=f"the generation prompt opens {opener} and the call decision comes after the model's "
                             "reasoning; set enable_thinking = false in chat_template_kwargs to probe")
    rest = _added(probe.generation_tail, probe.call_segment)
    given = ""
    for opener, closer in REASONING_PAIRS:  # a closed reasoning block before the call is prefilled, not scored
        stripped = rest.lstrip()
        if stripped.startswith(opener) and closer in stripped:
            end = stripped.index(closer) + len(closer)
            end += len(stripped[end:]) - len(stripped[end:].lstrip())
            given, rest = rest[:len(rest) - len(stripped) + end], stripped[end:]
            break
    if reasons_by_default and not given:
        return CallMarker(na="the model reasons before it answers (the template reads enable_thinking, which "
                             "mlx-lm sets to true); set enable_thinking = false in chat_template_kwargs to probe")
    found = [(rest.find(m), m) for m in probe.call_markers if rest.find(m) >= 0]
    if found:
        at, tag = min(found)
        return CallMarker(given=given, marker=rest[:at + len(tag)])
    at = rest.find(PROBE_NAME)
    if at > 0 and rest[:at].strip():
        return CallMarker(given=given, marker=rest[:at])
    return CallMarker(na=f"the template's calls start with no marker before the tool name ({rest[:40]!r}), "
                         "so no first tokens say 'call'")


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """P(a random tool case's p_call > a random direct case's), ties half: the Mann-Whitney AUC."""
    if not positives or not negatives:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def spread(values: list[float]) -> dict:
    return {"n": len(values), "mean": statistics.fmean(values) if values else None,
            "median": statistics.median(values) if values else None}


def boundary_cases(cases: list[ProbeRecord], limit: int = BOUNDARY_CASES) -> list[ProbeRecord]:
    """Cases whose p_call is nearest 0.5, where the decision could go either way."""
    measured = [c for c in cases if c.p_call is not None]
    return sorted(measured, key=lambda c: abs(c.p_call - BOUNDARY))[:limit]


def forced_accuracy(cases: list[ProbeRecord]) -> dict | None:
    """Tool- and call-level accuracy of forced calls on tool cases: were the call made, would it be right?"""
    forced = [c.forced for c in cases if c.expects_call and c.forced]
    if not forced:
        return None
    n = len(forced)
    return {"n": n, "tool": sum(bool(f["tool"]) for f in forced) / n, "call": sum(bool(f["call"]) for f in forced) / n}


def summarize(cases: list[ProbeRecord]) -> dict:
    """Per category and overall: p_call on tool and direct cases, AUC, boundary case ids, forced accuracy."""
    def block(group: list[ProbeRecord]) -> dict:
        tool = [c.p_call for c in group if c.expects_call and c.p_call is not None]
        direct = [c.p_call for c in group if not c.expects_call and c.p_call is not None]
        return {"tool": spread(tool), "direct": spread(direct), "auc": auc(tool, direct),
                "forced": forced_accuracy(group)}

    categories = {name: block([c for c in cases if c.category == name]) for name in sorted({c.category for c in cases})}
    return {"categories": categories, "overall": block(cases), "boundary": [c.id for c in boundary_cases(cases)],
            "na": sorted({c.na for c in cases if c.na})}


def checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """mlx-lm's adapter checkpoints in `folder` by training iteration; the final adapters.safetensors counts
    as iteration `iters` of adapter_config.json, unless a numbered checkpoint already holds that iteration."""
    import json

    folder = Path(folder)
    config = folder / "adapter_config.json"
    if not config.is_file():
        raise InputError(f"{folder}: no adapter_config.json; give the --adapter-path folder mlx-lm's LoRA training wrote")
    try:
        iters = json.loads(config.read_text(encoding="utf-8")).get("iters")
    except (ValueError, AttributeError):
        raise InputError(f"{config}: not a JSON object; give the adapter_config.json mlx-lm wrote") from None
    found = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT.fullmatch(p.name)))
    final = folder / FINAL_CHECKPOINT
    last = found[-1][0] if found else 0
    if final.is_file() and (not isinstance(iters, int) or iters > last):
        found.append((iters if isinstance(iters, int) and not isinstance(iters, bool) else last + 1, final))
    if not found:
        raise InputError(f"{folder}: no adapter checkpoints (0000100_adapters.safetensors ... adapters.safetensors); "
                         "train with --save-every N to keep checkpoints")
    return found


def probe_cases(backend, cases: list, force: bool = False, done: dict | None = None,
                write=None) -> list[ProbeRecord]:
    """One probe record per case (sample 0): p_call and the first tokens, and with `force` the forced call
    scored for tool cases. `done` maps case ids to earlier records whose figures are kept (resume);
    `write` gets each record as soon as it is new or changed, so an interrupted probe loses little."""
    from harness.backends.base import Request
    from harness.expect import is_tool_expected
    from harness.scoring import judge

    done = done or {}
    todo = [c for c in cases if c.id not in done]
    records = dict(done)
    for case, found in zip(todo, backend.probe([Request(c) for c in todo])):
        records[case.id] = ProbeRecord(id=case.id, category=case.category, expects_call=is_tool_expected(case.expect),
                                       p_call=found.p_call, na=found.na, marker=found.marker,
                                       top_tokens=[[t, p] for t, p in found.top_tokens],
                                       prompt_tokens=found.prompt_tokens)
        if write:
            write(records[case.id])
    if force:
        by_id = {c.id: c for c in cases}
        need = [by_id[i] for i, r in records.items() if r.expects_call and r.forced is None and not r.na]
        for gen in backend.generate_forced([Request(c) for c in need]) if need else ():
            full = judge(by_id[gen.case_id], gen, backend.spec.sampler())
            records[gen.case_id].forced = {key: getattr(full, key) for key in FORCED_KEYS}
            if write:
                write(records[gen.case_id])
    return [records[c.id] for c in cases]


def first_token_p_call(reply, marker: str) -> tuple[float | None, list[tuple[str, float]], str | None]:
    """(p_call, top first tokens, n/a reason) from an OpenAI-style reply's first-token `top_logprobs`
    (untrusted: every field type-checked). Only the first token is seen, so the marker must be one token."""
    try:
        listed = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    except (KeyError, IndexError, TypeError):
        return None, [], "the server returned no first-token logprobs (it ignores logprobs/top_logprobs)"
    top = sorted(((t["token"], math.exp(t["logprob"])) for t in listed if isinstance(t, dict)
                  and isinstance(t.get("token"), str) and isinstance(t.get("logprob"), (int, float))
                  and not isinstance(t["logprob"], bool) and -math.inf <= t["logprob"] <= 0),
                 key=lambda pair: -pair[1]) if isinstance(listed, list) else []
    if not top:
        return None, [], "the server's top_logprobs hold no token/logprob pairs"
    found = dict(reversed(top))
    if marker in found:
        return found[marker], top[:TOP_SHOWN], None
    if any(token and token != marker and marker.startswith(token) for token in found):
        return None, top[:TOP_SHOWN], f"{marker!r} spans several tokens and the server shows only the first one's"
    return None, top[:TOP_SHOWN], (f"{marker!r} is not among the {len(top)} most likely first tokens the server "
                                   f"listed (p_call below {top[-1][1]:.1g})")
