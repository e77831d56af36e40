"""Prose around calls: markdown fences (illustrations, rule 2), stray end tokens (rule 6) and
call-shaped JSON mentioned in prose (rule 3)."""
import re
from bisect import bisect_right
from dataclasses import dataclass

from harness.detect.json_calls import to_call
from harness.detect.lenient import decode

_TICKS = re.compile(r"```+")  # three or more; a literal start is scanned for fast, `{3,} is tried everywhere
_ACTION = re.compile(r"Action:[ \t]*\Z")
_END_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|endoftext|>", "<|end_of_text|>",
               "<end_of_turn>", "</s>", "<｜end▁of▁sentence｜>")
_NAME_KEYS = ('"name"', "'name'", '"tool_name"')


@dataclass(frozen=True)
class Fence:
    """A markdown fence: where its backticks and its body start and end."""
    start: int       # the opening backticks
    end: int         # just after the closing backticks (end of text when never closed)
    body_start: int  # after the opening line
    body_end: int


def strip_end_tokens(text: str) -> str:
    """Drop end-of-turn tokens (and whitespace) trailing the output."""
    text = text.rstrip()
    while text.endswith(_END_TOKENS):
        token = next(t for t in _END_TOKENS if text.endswith(t))
        text = text[:-len(token)].rstrip()
    return text


NEAR_MISS_NEEDS = "`{"  # a fence needs a backtick, call-shaped JSON a brace: a text with neither holds no near miss


def has_fence(text: str) -> bool:
    """Whether text holds three backticks: one memchr pass first, as most text has no backtick (and
    searching for "```" is slow over prose: the search's filter takes a backtick for a space)."""
    return "`" in text and "```" in text


def fences(text: str) -> list[Fence]:
    """Markdown fences, paired in order. ```tool_code (Gemma) and `Action: ```json` (Command-R)
    are the formats' own markers, not fences."""
    ticks = [m.span() for m in _TICKS.finditer(text)]  # spans, not matches: the collector does not track them
    out, line_start, seen, n = [], 0, 0, len(text)
    line_end = text.find("\n")  # the searches move forward only, so that the fences cost one pass
    for k in range(0, len(ticks), 2):
        start, end = ticks[k]
        newline = text.rfind("\n", seen, start)
        line_start, seen = (newline + 1 if newline >= 0 else line_start), start
        if 0 <= line_end < end:
            line_end = text.find("\n", end)
        body_start = n if line_end < 0 else line_end + 1
        info = text[end:min(body_start, end + 64)].strip()
        if info.startswith("tool_code") or _ACTION.search(text, max(line_start, start - 64), start):
            continue
        body_end, close_end = ticks[k + 1] if k + 1 < len(ticks) else (n, n)
        out.append(Fence(start, close_end, min(body_start, body_end), body_end))
    return out


def inside(regions: list[Fence], i: int) -> bool:
    k = bisect_right(regions, i, key=lambda f: f.start) - 1  # regions are in order and do not overlap
    return k >= 0 and i < regions[k].end


def json_call_in_prose(text: str) -> bool:
    """A call-shaped JSON object somewhere in the text (which is not a call by itself)."""
    if "{" not in text:  # one memchr pass spares prose the searches for the keys
        return False
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
