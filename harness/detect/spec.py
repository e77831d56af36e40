"""What a format module provides (a Format) and the helpers every format uses to report what it read."""
import re
from dataclasses import dataclass, field
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


@dataclass(slots=True)  # made for every marker read: slots make it fast to make (frozen ones are slow)
class Parsed:
    """One format's reading of the text at a marker."""
    detection: Detection
    end: int  # just after the text this format read: the scan looks for more calls from there


@dataclass(frozen=True)
class Format:
    """One tool-call format: its markers, its parser, and what its payload needs and starts with."""
    label: str
    # Substrings that announce the format; () means the format needs the whole answer (no marker).
    markers: tuple[str, ...]
    # parse(text, index of one of the markers, schema): what the format read there, or None when
    # the text at that marker is not this format (another format sharing the marker may own it).
    parse: Callable[[str, int, Schema], Parsed | None]
    # A format without markers: the characters its whole answer can start with (the others are
    # not offered to it).
    starts: str = ""
    # A character every text this format reads holds: markers without punctuation of their own
    # (`functools`) are searched for only in texts that hold it, and an answer without it is not
    # offered to a format without markers.
    needs: str = ""
    # marker -> the characters this format's payload can start with after that marker and whitespace: the
    # cascade offers a text whose next character is another only to the marker's other formats (a cut-off
    # text, nothing after the marker, goes to every one). A marker absent here: any character.
    follows: dict[str, str] = field(default_factory=dict)


def result(label: str, calls: list[ToolCall], malformed: bool, end: int) -> Parsed:
    """'call' needs at least one call and nothing cut off or unreadable; a marker with no call is malformed."""
    bad = malformed or not calls or any(c.arguments is None for c in calls)
    return Parsed(Detection(calls=calls, format=label, outcome="malformed" if bad else "call"), end)


def nothing(end: int, near_miss: str | None = None) -> Parsed:
    """The format's own text holding no call (a final answer, a pseudo-tool), or a mention."""
    return Parsed(Detection(near_miss=near_miss), end)


def skip_ws(text: str, i: int) -> int:
    if i >= len(text) or not text[i].isspace():  # mostly so: no regex call (\s is what isspace() accepts)
        return i
    return _WS.match(text, i).end()


def marker_at(text: str, i: int, markers: tuple[str, ...]) -> str:
    for marker in markers:
        if text.startswith(marker, i):
            return marker
    return markers[0]


def unreadable(text: str, p: int, label: str) -> Parsed:
    """A marker whose payload (at p) this format cannot read: a cut-off or garbled call when the
    payload starts like code, else the marker is only mentioned in prose."""
    if p >= len(text) or text[p] in "{[<(":
        return result(label, [], True, p)
    m = NAME.match(text, p)
    if m and m.end() < len(text) and text[m.end()] in "({":
        return result(label, [], True, p)
    return nothing(p, MENTION)


_FOUND: dict[str, tuple[str, int, int]] = {}  # needle -> (text, searched from, found at)


def find_ahead(text: str, needle: str, start: int) -> int:
    """text.find(needle, start), remembering the last answer per needle so that the many forward
    searches of one scan (a closer looked for at every call) cost one pass over the text."""
    last = _FOUND.get(needle)
    if last is not None and last[0] is text and last[1] <= start and (last[2] < 0 or last[2] >= start):
        return last[2]
    found = text.find(needle, start)
    _FOUND[needle] = (text, start, found)
    return found
