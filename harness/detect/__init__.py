"""Tool-call detection in raw model output, in any known format (stdlib only).

detect(text, tools) removes reasoning, runs the format cascade on what is visible, and labels
near misses (calls inside reasoning, fenced or quoted calls). Format modules live in formats/;
the machinery (cascade, readers, values, reasoning, prose) beside this file."""
from itertools import islice

from harness.detect.base import Detection, ToolCall
from harness.detect.cascade import MARKERS, scan
from harness.detect.reasoning import REASONING_PAIRS, TAGS, opening_span, split_reasoning
from harness.detect.spec import IN_REASONING, IN_UNFINISHED_REASONING
from harness.detect.values import NO_SCHEMA, prepared_schema

__all__ = ["Detection", "REASONING_PAIRS", "ToolCall", "detect"]


def detect(text: str, tools: list[dict] | None = None) -> Detection:
    """The calls in one model output. Never raises: model output is untrusted input."""
    try:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        schema = prepared_schema(tools) if tools else NO_SCHEMA
        tags = TAGS.find(text)
        if not tags:
            return scan(text, schema)
        split = split_reasoning(text, tags)
        # a tag inside a call's arguments follows a marker outside reasoning: none does in a text that a span opens
        found = (None if opening_span(tags) else _tag_inside_call(text, schema, tags)) or scan(split.visible, schema)
        if found.outcome == "none" and found.near_miss is None:
            if split.unfinished and scan(split.unfinished, schema, near_misses=False).outcome != "none":
                found.near_miss = IN_UNFINISHED_REASONING
            elif split.reasoning and scan("\n".join(split.reasoning), schema, near_misses=False).outcome != "none":
                found.near_miss = IN_REASONING
        return found
    except Exception as exc:  # a detector bug must cost one record, not a whole run
        return Detection(outcome="malformed", near_miss=f"detector error: {type(exc).__name__}")


def _tag_inside_call(text: str, schema, tags: list[tuple[int, str]]) -> Detection | None:
    """The calls of the text read raw from a reasoning tag that sits inside a call's arguments
    (code that mentions `<think>`): the text before such a tag is a call cut off at the tag."""
    start = _first_marker(text[:tags[-1][0]], {i for i, _ in tags})  # only a tag after a marker matters
    after = (i for i, _ in tags if i > start)
    for tag in islice(after, 8) if start >= 0 else ():
        head = split_reasoning(text[:tag]).visible
        cut = scan(head, schema, near_misses=False)
        if cut.outcome == "malformed" and cut.calls and cut.calls[-1].arguments is None:
            found = scan(head + text[tag:], schema)
            return found if found.outcome == "call" else None
    return None


def _first_marker(text: str, tag_positions: set[int]) -> int:
    """Where the first marker is, -1 for none; `<|channel|>` that begins the tag `<|channel|>analysis` is the
    tag. No marker runs across a tag's start, so the text may be cut there."""
    markers = MARKERS.search(text)
    hit = markers and markers.next(0)
    while hit and hit[0] in tag_positions:
        hit = markers.next(hit[0] + 1)
    return hit[0] if hit else -1
