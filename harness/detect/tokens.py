"""Finding the candidate tokens of an output (format markers, reasoning tags) on demand, in text
order. Tokens are grouped by first character: Python's regex engine scans fast for a pattern that
starts with one literal character (`<`, `[`) and slowly for a set of them, and the few tokens that
start otherwise are found with str.find, each only when its punctuation is in the text (one memchr
pass instead of a slower search over prose, which rarely holds `>`, `:` or a backtick).

The search is lazy: the scan reads a call and asks for the next token after it, so the markers a
long call's code mentions on every line are never found one by one. No token of a group can start
inside another's occurrence (tests/test_detect_conventions.py checks it), so a search restarted at
any position finds what one pass from the start finds."""
import re
import sys

from harness.detect.trie import alternation

_NONE_LEFT = (sys.maxsize, "")  # a source with no occurrence at or after the position asked for


class Tokens:
    """The occurrences of a fixed set of literal tokens, the longest one at each position."""

    def __init__(self, tokens):
        tokens = sorted(set(tokens))
        # (gate, source): the regex search of the tokens sharing a first character, or one other token
        self.sources = [(c, re.compile(alternation([t for t in tokens if t[0] == c])).search) for c in "<["
                        if any(t[0] == c for t in tokens)]
        self.sources += [(next((c for c in t if not c.isalnum()), ""), t) for t in tokens if t[0] not in "<["]

    def search(self, text: str) -> "Search | None":
        """The occurrences in text, found as they are asked for; None when there is none (made
        inline: this runs for every output, and most hold no token)."""
        heads, sources = [], []
        for gate, source in self.sources:
            if gate not in text:
                continue
            if type(source) is str:
                k = text.find(source)
                head = (k, source) if k >= 0 else None
            else:
                m = source(text)
                head = (m.start(), m.group()) if m else None
            if head:
                heads.append(head)
                sources.append(source)
        return Search(text, heads, sources) if heads else None

    def find(self, text: str) -> list[tuple[int, str]]:
        """(position, token) of every occurrence, in text order."""
        search, found = self.search(text), []
        hit = search and search.next(0)
        while hit:
            found.append(hit)
            hit = search.next(hit[0] + 1)
        return found


class Search:
    """The occurrences in one text: each source that occurs at all keeps its next occurrence until
    the caller asks past it."""
    __slots__ = ("_text", "_heads", "_sources")

    def __init__(self, text: str, heads: list[tuple[int, str]], sources: list):
        self._text, self._heads, self._sources = text, heads, sources

    def next(self, pos: int) -> tuple[int, str] | None:
        """(position, token) of the first occurrence at or after pos; pos never decreases from one call to the next."""
        heads, best = self._heads, _NONE_LEFT
        for k, head in enumerate(heads):
            if head[0] < pos:
                head = heads[k] = self._advance(self._sources[k], head[0], pos)
            if head < best:
                best = head
        return None if best is _NONE_LEFT else best

    def _advance(self, source, k: int, pos: int) -> tuple[int, str]:
        """The source's first occurrence at or after pos, its last one being at k."""
        if type(source) is str:  # each after the last: in `>>>>` the `>>>` at 1 lies inside the one at 0
            while 0 <= k < pos:
                k = self._text.find(source, k + len(source))
            return (k, source) if k >= 0 else _NONE_LEFT
        m = source(self._text, pos)
        return (m.start(), m.group()) if m else _NONE_LEFT
