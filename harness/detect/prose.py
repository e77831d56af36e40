"""Prose around calls: markdown fences (illustrations, rule 2), stray end tokens (rule 6) and
call-shaped JSON mentioned in prose (rule 3)."""
import re
from dataclasses import dataclass

from harness.detect.json_calls import to_call
from harness.detect.lenient import decode

_TICKS = re.compile(r"`{3,}")
_ACTION = re.compile(r"Action:[ \t]*\Z")
_END_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|endoftext|>", "<|end_of_text|>",
               "<end_of_turn>", "</s>", "<｜end▁of▁sentence｜>")
_NAME_KEYS = ('"name"', "'name'", '"tool_name"')


@dataclass(frozen=True)
class Fence:
    start: int       # the opening backticks
    end: int         # just after the closing backticks (end of text when never closed)
    body_start: int  # after the opening line
    body_end: int


def strip_end_tokens(text: str) -> str:
    """Drop end-of-turn tokens (and whitespace) trailing the output."""
    while True:
        stripped = text.rstrip()
        for token in _END_TOKENS:
            if stripped.endswith(token):
                stripped = stripped[:-len(token)]
        if stripped == text:
            return text
        text = stripped


def fences(text: str) -> list[Fence]:
    """Markdown fences, paired in order. ```tool_code (Gemma) and `Action: ```json` (Command-R)
    are the formats' own markers, not fences."""
    ticks = list(_TICKS.finditer(text))
    out = []
    for k in range(0, len(ticks), 2):
        opener = ticks[k]
        line_end = text.find("\n", opener.end())
        body_start = len(text) if line_end < 0 else line_end + 1
        info = text[opener.end():body_start].strip()
        line_start = text.rfind("\n", 0, opener.start()) + 1
        if info.startswith("tool_code") or _ACTION.search(text, line_start, opener.start()):
            continue
        closer = ticks[k + 1] if k + 1 < len(ticks) else None
        body_end = closer.start() if closer else len(text)
        out.append(Fence(opener.start(), closer.end() if closer else len(text), min(body_start, body_end), body_end))
    return out


def inside(regions: list[Fence], i: int) -> bool:
    return any(f.start <= i < f.end for f in regions)


def blank_before(text: str, regions: list[Fence], i: int) -> str:
    """text with the fences that end before i replaced by spaces (positions are kept)."""
    parts, pos = [], 0
    for f in regions:
        if f.end <= i:
            parts += [text[pos:f.start], " " * (f.end - f.start)]
            pos = f.end
    return "".join(parts) + text[pos:] if parts else text


def json_call_in_prose(text: str) -> bool:
    """A call-shaped JSON object somewhere in the text (which is not a call by itself)."""
    for key in _NAME_KEYS:
        k = text.find(key)
        for _ in range(8):  # a handful of candidates is enough for a near-miss label
            if k < 0:
                break
            brace = text.rfind("{", max(0, k - 200), k)
            if brace >= 0:
                try:
                    if to_call(decode(text, brace)[0], require_args=True):
                        return True
                except ValueError:
                    pass
            k = text.find(key, k + 1)
    return False
