"""The cascade: find the format markers in text order (lazily: tokens.py), offering the text to the
formats at each. The formats sharing a marker are tried in registry order, strongest first, and each
declines (None) when what follows the marker is not its payload. A format that reads calls says
where its text ends; the scan goes on from there, so every complete call in the visible text
counts, whichever format it is in, while a marker quoted inside a call's arguments is passed
over. A call cut off or unreadable ends the scan (what follows is not trustworthy). Formats
without a marker need the whole answer (given stripped) and run only when no marker format read anything.
Adding a format = one module in formats/ + one line in REGISTRY."""
import json

from harness.detect.base import Detection
from harness.detect.formats import (anthropic_xml, apertus, bare, command_r, deepseek, functionary, gemma, glm,
                                    granite, harmony, hermes, internlm, jamba, kimi, llama, minimax, mistral,
                                    nemotron, openai_native, phi4, pythonic, qwen3_coder, qwen_bracket, react, step3)
from harness.detect.prose import NEAR_MISS_NEEDS, fences, has_fence, inside, json_call_in_prose, strip_end_tokens
from harness.detect.spec import FENCED, JSON_IN_PROSE, Format, skip_ws
from harness.detect.tokens import Tokens
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
    functionary.V2,
    # plain-text tags; `<tool_call>` is shared, so its owners go from most to least specific payload
    nemotron.FORMAT,
    glm.LONGCAT,
    llama.FUNCTION_TAG,  # before Qwen3-Coder: a bare `<function=f>{json}` is this format
    qwen3_coder.FORMAT,
    glm.HUNYUAN,
    glm.GLM45,
    glm.GLM47,
    granite.GRANITE31,
    hermes.FORMAT,
    jamba.FORMAT,
    minimax.M1,
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

OWNERS: dict[str, list[Format]] = {}
for _fmt in REGISTRY:
    for _marker in _fmt.markers:
        OWNERS.setdefault(_marker, []).append(_fmt)
# The formats without a marker by the first character of the answer they can read, in registry order.
_WHOLE_ANSWER: dict[str, list[Format]] = {}
for _fmt in REGISTRY:
    if not (_fmt.markers or _fmt.starts):
        raise ValueError(f"format {_fmt.label}: no markers, and no `starts` to offer it an answer by")
    for _char in "" if _fmt.markers else _fmt.starts:
        _WHOLE_ANSWER.setdefault(_char, []).append(_fmt)
# A marker's formats by the first character after it: (the formats each next character is offered to, the
# formats any other is offered to), for the shared markers whose formats say what follows them.
_BY_NEXT: dict[str, tuple[dict[str, list[Format]], list[Format]]] = {}
for _marker, _formats in OWNERS.items():
    if len(_formats) > 1 and any(_marker in f.follows for f in _formats):
        _BY_NEXT[_marker] = ({c: [f for f in _formats if _marker not in f.follows or c in f.follows[_marker]]
                              for f in _formats for c in f.follows.get(_marker, "")},
                             [f for f in _formats if _marker not in f.follows])
_GATES = {marker: formats[0].needs for marker, formats in OWNERS.items()
          if formats[0].needs and all(f.needs == formats[0].needs for f in formats)}
MARKERS = Tokens(OWNERS, _GATES)  # a marker without punctuation of its own is gated on what its formats need
# What any reading needs: a marker's gate, a character an answer without markers may start with (or the
# format's `needs`), what a near miss needs. A text holding none of them holds no call and no near miss
# (plain prose: checked in a few memchr passes instead of a scan); None when some marker has no gate.
_ANY_OF = None if "" in MARKERS.gates else "".join(sorted(
    MARKERS.gates | {f.needs or c for c, formats in _WHOLE_ANSWER.items() for f in formats} | set(NEAR_MISS_NEEDS),
    key="<{[:`>".find))
_MAX_DECLINED = 16  # markers no format reads, for text full of mentioned markers
_JSON = json.JSONDecoder(strict=False)
_FENCES_CHECKED = 16  # fences looked into for the near-miss label


def _holds_any(text: str, chars: str) -> bool:
    for c in chars:
        if c in text:
            return True
    return False


def _one_json_value(text: str) -> bool:
    try:
        end = _JSON.raw_decode(text)[1]
    except (ValueError, RecursionError):
        return False
    return end == len(text)


def scan(text: str, schema: Schema, near_misses: bool = True) -> Detection:
    """Detect calls in reasoning-free text."""
    if _ANY_OF is not None and not _holds_any(text, _ANY_OF):
        return Detection()
    text = strip_end_tokens(text)
    answer = text.strip()
    markers = MARKERS.search(text)
    hit = markers and markers.next(0)
    # (a marker opening the answer, `[TOOL_CALLS]`, is no JSON value: no need to try decoding it)
    if hit and answer[:1] in ("{", "[") and hit[0] != len(text) - len(answer) and _one_json_value(answer):
        hit = None  # the markers sit inside the strings of one JSON value: data, not calls
    regions = fences(text) if hit and has_fence(text) else []
    calls, label, bad, mention, declined = [], None, False, None, 0
    while hit and declined <= _MAX_DECLINED:
        i, marker = hit
        pos = i + 1
        if regions and inside(regions, i):
            hit = markers.next(pos)
            continue
        owners = OWNERS[marker]
        if marker in _BY_NEXT and (after := skip_ws(text, i + len(marker))) < len(text):
            by_next, others = _BY_NEXT[marker]
            owners = by_next.get(text[after], others)  # the formats that could read what follows
        for fmt in owners:
            got = fmt.parse(text, i, schema)
            if got is None or (got.detection.outcome == "none" and got.detection.near_miss):
                mention = mention or (got and got.detection)  # a marker quoted in prose: keep looking
                continue
            pos, found = max(got.end, pos), got.detection  # the markers inside what was read are passed over
            calls += found.calls
            label = label or found.format
            bad = bad or found.outcome == "malformed"
            break
        else:
            declined += 1
        if bad:
            break
        hit = markers.next(pos)
    if calls or bad:
        return Detection(calls, label, "malformed" if bad else "call")
    for fmt in _WHOLE_ANSWER.get(answer[:1], ()):
        if fmt.needs and fmt.needs not in answer:  # one memchr pass instead of a parse (prose opens with a letter)
            continue
        got = fmt.parse(answer, 0, schema)
        if got is not None:
            return got.detection
    if near_misses:
        regions = regions or (fences(text) if has_fence(text) else [])
        for f in regions[:_FENCES_CHECKED]:
            if scan(text[f.body_start:f.body_end], schema, near_misses=False).outcome != "none":
                return Detection(near_miss=FENCED)
        if json_call_in_prose(text):
            return Detection(near_miss=JSON_IN_PROSE)
    return mention or Detection()
