"""An optional judge for `unsure` response kinds: any configured backend, one fixed prompt, a cache.

Only replies the classifier called unsure go to the judge. Its answer is untrusted text: the first
of the words ask, decline or answer in its visible reply settles the kind; anything else (or a
backend error) leaves it unsure. The cache holds only hashes and kinds, never the replies.
"""
import hashlib
import json
import re
from pathlib import Path

from harness.backends import backend_class
from harness.backends.base import Request
from harness.detect.reasoning import split_reasoning
from harness.expect import Expectation
from harness.kinds import Kind
from harness.models import ModelSpec
from harness.suite import Case

PROMPT = (
    "An assistant with tools replied to a user. Classify the reply with one word:\n"
    "ask - it asks the user for information it needs;\n"
    "decline - it says it cannot do what was asked;\n"
    "answer - it answers or does something else.\n"
    "Reply with the one word only.\n\nThe reply:\n<<<\n{reply}\n>>>"
)
_WORD = re.compile(r"\b(ask|decline|answer)\b", re.IGNORECASE)


def judge_key(text: str, spec: ModelSpec) -> str:
    """Cache key: the prompt, the judge model and the reply (a changed prompt or model asks again)."""
    return hashlib.sha256(json.dumps([PROMPT, spec.name, text]).encode("utf-8")).hexdigest()


def settle(replies: list[tuple[str, Kind]], spec: ModelSpec, cache: Path) -> tuple[list[Kind], int]:
    """Each (reply text, kind) with unsure kinds settled where the judge says so; and how many it settled."""
    cache = Path(cache)
    known = _read_cache(cache)
    todo = {judge_key(text, spec): text for text, kind in replies if kind.kind == "unsure"}
    missing = [key for key in todo if key not in known]
    if missing:
        backend = backend_class(spec.backend, spec.source)(spec)
        backend.load()
        try:
            requests = [Request(Case(id=key, category="judge", tools=[], expect=Expectation("direct"),
                                     expect_raw="direct",
                                     messages=[{"role": "user", "content": PROMPT.format(reply=todo[key])}]))
                        for key in missing]
            fresh = {gen.case_id: _verdict(gen.output) if gen.error is None else None
                     for gen in backend.generate(requests)}
        finally:
            backend.close()
        _append_cache(cache, {key: word for key, word in fresh.items() if word})
        known.update(fresh)
    settled, out = 0, []
    for text, kind in replies:
        word = known.get(judge_key(text, spec)) if kind.kind == "unsure" else None
        if word:
            settled += 1
            kind = Kind(word, f"{kind.cue}; the judge {spec.name!r} settled it as {word}", kind.asks)
        out.append(kind)
    return out, settled


def _verdict(output: str) -> str | None:
    m = _WORD.search(split_reasoning(output or "").visible)
    return m[1].lower() if m else None


def _read_cache(cache: Path) -> dict[str, str]:
    if not cache.is_file():
        return {}
    known = {}
    for line in cache.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from an interrupted write costs one judge call, not the cache
        if isinstance(entry, dict) and entry.get("kind") in ("ask", "decline", "answer"):
            known[str(entry.get("key"))] = entry["kind"]
    return known


def _append_cache(cache: Path, entries: dict[str, str]) -> None:
    if not entries:
        return
    cache.parent.mkdir(parents=True, exist_ok=True)
    torn = cache.is_file() and cache.stat().st_size and not cache.read_bytes().endswith(b"\n")
    with cache.open("a", encoding="utf-8") as f:
        if torn:
            f.write("\n")
        for key, word in entries.items():
            f.write(json.dumps({"key": key, "kind": word}) + "\n")
