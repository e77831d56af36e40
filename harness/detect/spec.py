"""What a format module provides (a Format) and the helpers every format uses to build its Detection."""
import re
from dataclasses import dataclass
from typing import Callable

from harness.detect.base import Detection, ToolCall
from harness.detect.values import Schema

# Tool names: identifiers, optionally dotted (spotify.play) or hyphenated (manim-video).
NAME = re.compile(r"[A-Za-z_][\w\-]*(?:\.[A-Za-z_][\w\-]*)*")
_WS = re.compile(r"\s*")

MENTION = "call marker mentioned in prose"
FENCED = "fenced call"
JSON_IN_PROSE = "call-shaped JSON in prose"
IN_UNFINISHED_REASONING = "call inside unfinished reasoning"
IN_REASONING = "call inside reasoning"


@dataclass(frozen=True)
class Format:
    label: str
    # Substrings that announce the format; () means the format needs the whole answer (no marker).
    markers: tuple[str, ...]
    # parse(text, index of one of the markers, schema): a Detection, or None when the text at
    # that marker is not this format (another format sharing the marker may own it).
    parse: Callable[[str, int, Schema], Detection | None]


def result(label: str, calls: list[ToolCall], malformed: bool = False) -> Detection:
    """'call' needs at least one call and nothing cut off or unreadable; a marker with no call is malformed."""
    bad = malformed or not calls or any(c.arguments is None for c in calls)
    return Detection(calls=calls, format=label, outcome="malformed" if bad else "call")


def skip_ws(text: str, i: int) -> int:
    return _WS.match(text, i).end()


def marker_at(text: str, i: int, markers: tuple[str, ...]) -> str:
    return next((m for m in markers if text.startswith(m, i)), markers[0])


def unreadable(text: str, p: int, label: str) -> Detection:
    """A marker whose payload (at p) this format cannot read: a cut-off or garbled call when the
    payload starts like code, else the marker is only mentioned in prose."""
    if p >= len(text) or text[p] in "{[<(":
        return result(label, [], True)
    m = NAME.match(text, p)
    if m and m.end() < len(text) and text[m.end()] in "({":
        return result(label, [], True)
    return Detection(near_miss=MENTION)
