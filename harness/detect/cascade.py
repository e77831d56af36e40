"""The cascade: find every format marker in one regex pass, then offer the text to the formats in
marker order (the earliest marker owns the output, so a marker quoted inside an argument does not
hijack the call). Formats sharing a marker are tried in registry order, strongest first, and each
declines (returns None) when what follows the marker is not its payload. Formats without a marker
need the whole answer and run last. Adding a format = one module + one line in REGISTRY."""
import re

from harness.detect import (anthropic_xml, apertus, bare, command_r, deepseek, functionary, gemma, glm, granite,
                            harmony, hermes, internlm, jamba, kimi, llama, minimax, mistral, nemotron, openai_native,
                            phi4, pythonic, qwen3_coder, qwen_bracket, react, step3)
from harness.detect.base import Detection
from harness.detect.prose import blank_before, fences, inside, json_call_in_prose, strip_end_tokens
from harness.detect.spec import FENCED, JSON_IN_PROSE, Format
from harness.detect.values import Schema

REGISTRY: tuple[Format, ...] = (
    # special tokens first
    harmony.FORMAT,
    deepseek.DSML,
    deepseek.V3,
    kimi.FORMAT,
    minimax.M2,
    command_r.R7B,
    internlm.FORMAT,
    apertus.FORMAT,
    gemma.GEMMA4,
    gemma.FUNCTIONGEMMA,
    granite.GRANITE3,
    pythonic.LFM2,
    pythonic.LLAMA4,
    llama.PYTHON_TAG,
    qwen3_coder.SEED_OSS,
    mistral.V0,
    mistral.V11,
    # plain-text tags; `<tool_call>` is shared, so its owners go from most to least specific payload
    nemotron.FORMAT,
    glm.LONGCAT,
    qwen3_coder.FORMAT,
    glm.HUNYUAN,
    glm.GLM45,
    glm.GLM47,
    granite.GRANITE31,
    hermes.FORMAT,
    jamba.FORMAT,
    minimax.M1,
    llama.FUNCTION_TAG,
    granite.GRANITE_20B,
    step3.FORMAT,
    anthropic_xml.FORMAT,
    pythonic.OLMO3,
    phi4.FORMAT,
    gemma.TOOL_CODE,
    command_r.ACTION,
    react.FORMAT,
    qwen_bracket.FORMAT,
    functionary.TAGGED,
    # no marker: the whole visible answer
    openai_native.FORMAT,
    bare.FORMAT,
    pythonic.PYTHONIC,
    functionary.BARE,
)

_OWNERS: dict[str, list[Format]] = {}
for _fmt in REGISTRY:
    for _marker in _fmt.markers:
        _OWNERS.setdefault(_marker, []).append(_fmt)
_WHOLE_ANSWER = [f for f in REGISTRY if not f.markers]
# Longest first, so that a marker is never shadowed by one of its own prefixes.
_MARKERS = re.compile("|".join(re.escape(m) for m in sorted(_OWNERS, key=len, reverse=True)))
# Every marker contains one of these; text with none of them skips the marker pass.
_HINTS = ("<", "[", ">>>", "```", "functools", "Action:")
assert all(any(h in m for h in _HINTS) for m in _OWNERS)
_MAX_ATTEMPTS = 64  # a bound on parser calls for text full of mentioned markers


def first_marker(text: str) -> int:
    """Where the first format marker sits, -1 when there is none."""
    m = _MARKERS.search(text) if any(h in text for h in _HINTS) else None
    return m.start() if m else -1


def scan(text: str, schema: Schema, near_misses: bool = True) -> Detection:
    """Detect calls in reasoning-free text."""
    text = strip_end_tokens(text)
    regions = fences(text) if "```" in text else []
    mention = None
    if any(h in text for h in _HINTS):
        attempts = 0
        for m in _MARKERS.finditer(text):
            i = m.start()
            if regions and inside(regions, i):
                continue
            view = blank_before(text, regions, i) if regions else text
            for fmt in _OWNERS[m.group()]:
                attempts += 1
                found = fmt.parse(view, i, schema)
                if found is None:
                    continue
                if found.outcome == "none" and found.near_miss:
                    mention = mention or found  # a marker quoted in prose: keep looking
                    continue
                return found
            if attempts > _MAX_ATTEMPTS:
                break
    lead = text.lstrip()[:1]
    if lead and (lead in "{[_" or lead.isalpha()):
        for fmt in _WHOLE_ANSWER:
            found = fmt.parse(text, 0, schema)
            if found is not None:
                return found
    if near_misses:
        for f in regions:
            if scan(text[f.body_start:f.body_end], schema, near_misses=False).outcome != "none":
                return Detection(near_miss=FENCED)
        if json_call_in_prose(text):
            return Detection(near_miss=JSON_IN_PROSE)
    return mention or Detection()
