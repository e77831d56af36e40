"""Reasoning removal (rule 1): closed spans are cut out, an orphan closing tag makes everything
before it reasoning (the template pre-filled the opener), and an opener that never closes makes
everything after it reasoning. Harmony analysis messages count unless they name a recipient."""
from dataclasses import dataclass, field

from harness.detect.tokens import Tokens

# Reasoning open/close pairs, one per model family (doctor reads them too).
REASONING_PAIRS: tuple[tuple[str, str], ...] = (
    ("<think>", "</think>"),
    ("<seed:think>", "</seed:think>"),
    ("[THINK]", "[/THINK]"),
    ("<|START_THINKING|>", "<|END_THINKING|>"),
    ("<|inner_prefix|>", "<|inner_suffix|>"),
    ("<|channel>", "<channel|>"),  # Gemma 4 (harmony's token is `<|channel|>`)
    ("<thinking>", "</thinking>"),
)
_ANALYSIS = "<|channel|>analysis"
_MESSAGE = "<|message|>"
TAGS = Tokens([tag for pair in REASONING_PAIRS for tag in pair] + [_ANALYSIS])


@dataclass
class Split:
    """An output cut into what is visible and its reasoning."""
    visible: str
    reasoning: list[str] = field(default_factory=list)  # closed (or orphan-closed) spans
    unfinished: str | None = None  # what followed an opener that never closed


_PAIRS = set(REASONING_PAIRS)
_CLOSERS = {closer for _, closer in REASONING_PAIRS}


def split_reasoning(text: str, tags: list[tuple[int, str]] | None = None) -> Split:
    """`tags`: TAGS.find(text), when the caller has it already. The commonest shapes are read from where
    the tags are: one span opening the text, or one closer (the template opened the reasoning)."""
    tags = TAGS.find(text) if tags is None else tags
    if opening_span(tags):
        (_, opener), (j, closer) = tags
        return Split(text[j + len(closer):], [text[len(opener):j]])
    if len(tags) == 1 and tags[0][1] in _CLOSERS:
        j, closer = tags[0]
        return Split(text[j + len(closer):], [text[:j]])
    return _split_pairs(text, {tag for _, tag in tags})


def opening_span(tags: list[tuple[int, str]]) -> bool:
    """Whether a text's reasoning tags are one span that opens it (`<think>…</think>`, then the answer)."""
    return len(tags) == 2 and tags[0][0] == 0 and (tags[0][1], tags[1][1]) in _PAIRS


def _split_pairs(text: str, present: set[str]) -> Split:
    """Each pair's spans cut out in turn (`present`: the tags in text)."""
    split = Split(text)
    for opener, closer in REASONING_PAIRS:
        if opener in present or closer in present:
            _remove_pair(split, opener, closer)
            present = _present(split.visible)  # a cut may join a tag across it
    if _ANALYSIS in present:
        _remove_analysis(split)
    return split


def _present(text: str) -> set[str]:
    """The tags in text, in one pass (no tag starts inside another, so each occurrence is found)."""
    return {tag for _, tag in TAGS.find(text)}


def _remove_pair(split: Split, opener: str, closer: str) -> None:
    text, out, pos = split.visible, [], 0
    o = text.find(opener)
    while True:
        if 0 <= o < pos:  # search again only when passed: a missing opener is not searched for each closer
            o = text.find(opener, pos)
        c = text.find(closer, pos)
        if c >= 0 and (o < 0 or c < o):  # an orphan closer: everything so far was reasoning
            split.reasoning.append("".join(out) + text[pos:c])
            out, pos = [], c + len(closer)
        elif o >= 0:
            out.append(text[pos:o])
            c = text.find(closer, o + len(opener))
            if c < 0:
                _unfinished(split, text[o + len(opener):])
                break
            split.reasoning.append(text[o + len(opener):c])
            pos = c + len(closer)
        else:
            out.append(text[pos:])
            break
    split.visible = "".join(out)


def _unfinished(split: Split, tail: str) -> None:
    split.unfinished = tail if split.unfinished is None else tail + split.unfinished


def _remove_analysis(split: Split) -> None:
    text, out, pos = split.visible, [], 0
    while True:
        j = text.find(_ANALYSIS, pos)
        if j < 0:
            out.append(text[pos:])
            break
        m = text.find(_MESSAGE, j)
        start = text.rfind("<|start|>", pos, j)  # a recipient may sit before the channel
        if start >= 0 and text.find(_MESSAGE, start, j) >= 0:
            start = -1
        header = text[start if start >= 0 else j:m if m >= 0 else len(text)]
        if "to=" in header:  # an analysis message addressed to a tool is a call
            out.append(text[pos:j + len(_ANALYSIS)])
            pos = j + len(_ANALYSIS)
            continue
        out.append(text[pos:j])
        end = text.find("<|end|>", m) if m >= 0 else -1
        if end < 0:
            _unfinished(split, text[m + len(_MESSAGE):] if m >= 0 else "")
            break
        split.reasoning.append(text[m + len(_MESSAGE):end])
        pos = end + len("<|end|>")
    split.visible = "".join(out)
