"""Finding the candidate tokens of an output (format markers, reasoning tags) on demand, in text
order. Tokens are grouped by first character: Python's regex engine scans fast for a pattern that
starts with one literal character (`<`, `[`) and slowly for a set of them, and the few tokens that
start otherwise are found with str.find, each only when its punctuation is in the text (one memchr
pass instead of a slower search over prose, which rarely holds `>`, `:` or a backtick).

The search is lazy: the scan reads a call and asks for the next token after it, so the markers a
long call's code mentions on every line are never found one by one. No token of a group can start
inside another's occurrence (tests/test_detect_conventions.py checks it), so a search restarted at
any position finds what one pass from the start finds.

In a long text each source is also searched only as far as it could matter (LongSearch): up to the
nearest occurrence another source has, so a call that starts the text does not cost a search of
every other token to the end."""
import re
import sys

from harness.detect.trie import alternation

_NONE_LEFT = (sys.maxsize, "")  # a source with no occurrence at or after the position asked for
LONG = 4096  # characters from which searching in windows costs less than its bookkeeping


class Tokens:
    """The occurrences of a fixed set of literal tokens, the longest one at each position."""

    def __init__(self, tokens, gates: dict[str, str] | None = None):
        """`gates`: for tokens without punctuation, a character that a text must hold for the token to
        matter in it (its formats' `needs`)."""
        tokens, gates = sorted(set(tokens)), gates or {}
        groups = [[t for t in tokens if t[0] == c] for c in "<[" if any(t[0] == c for t in tokens)]
        groups += [[t] for t in tokens if t[0] not in "<["]
        # sources: one regex for the tokens sharing a first character, or one plain token, each with its gate;
        # the long-text form adds the longest token and whether a token may start inside its own occurrence
        self._patterns: list[tuple[str, re.Pattern]] = []
        self._plain: list[tuple[str, str]] = []
        self._long = []
        for group in groups:
            token = group[0]
            if token[0] in "<[":
                pattern = re.compile(alternation(group))
                self._patterns.append((token[0], pattern))
                self._long.append((token[0], pattern.search, max(map(len, group)), False))
            else:
                gate = next((c for c in token if not c.isalnum()), gates.get(token, ""))
                self._plain.append((gate, token))
                self._long.append((gate, token, len(token), any(token[:q] == token[-q:] for q in range(1, len(token)))))

    @property
    def gates(self) -> set[str]:
        """The characters a text must hold for a token to be found in it ("" when some token has none)."""
        return {gate for gate, _ in self._patterns + self._plain}

    def search(self, text: str) -> "Search | LongSearch | None":
        """The occurrences in text, found as they are asked for; None when there is none (made
        inline: this runs for every output, and most hold no token)."""
        if len(text) >= LONG:
            search = LongSearch(text, [s for s in self._long if s[0] in text])
            return search if search.next(0) else None
        heads, sources = [], []
        for gate, pattern in self._patterns:
            if gate in text and (m := pattern.search(text)):
                heads.append((m.start(), m.group()))
                sources.append(pattern.search)
        for gate, source in self._plain:
            if gate in text and (k := text.find(source)) >= 0:
                heads.append((k, source))
                sources.append(source)
        return Search(text, heads, sources) if heads else None

    def find(self, text: str) -> list[tuple[int, str]]:
        """(position, token) of every occurrence, in text order: one pass a source (a plain token's
        occurrences each after the last), merged; no two sources share a first character, so none
        share a position."""
        found, sources = [], 0
        for gate, pattern in self._patterns:
            if gate in text and (m := pattern.search(text)):  # one search first: most texts hold none of its tokens
                found.append((m.start(), m.group()))
                found += [(m.start(), m.group()) for m in pattern.finditer(text, m.end())]
                sources += 1
        for gate, token in self._plain:
            k = text.find(token) if gate in text else -1
            sources += k >= 0
            while k >= 0:
                found.append((k, token))
                k = text.find(token, k + len(token))
        if sources > 1:
            found.sort()
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


class LongSearch:
    """The occurrences in a long text. A source keeps its next occurrence once found (`_heads`), else where
    its next one may start (`_free`); each is searched only before the nearest occurrence found so far."""
    __slots__ = ("_text", "_sources", "_heads", "_free")

    def __init__(self, text: str, sources: list):
        self._text, self._sources = text, sources
        self._heads: list[tuple[int, str] | None] = [None] * len(sources)
        self._free = [0] * len(sources)

    def next(self, pos: int) -> tuple[int, str] | None:
        """As Search.next."""
        best, heads, free = None, self._heads, self._free
        limit = len(self._text) + 1  # only an occurrence that starts before limit can be the answer
        for k, (_, source, width, _) in enumerate(self._sources):
            head = heads[k]
            if head is not None and head[0] < pos:  # passed: a plain token's next occurrence starts after it
                free[k] = head[0] + (width if type(source) is str else 1)
                head = heads[k] = None
            if head is None and free[k] < limit:
                head = heads[k] = self._look(k, pos, limit)
            if head is not None and head[0] < limit:
                best, limit = head, head[0]
        return best

    def _look(self, k: int, pos: int, limit: int) -> tuple[int, str] | None:
        """The source's first occurrence at or after pos if it starts before limit; else None, and
        `_free` records that none starts before limit."""
        text, start = self._text, self._free[k]
        _, source, width, overlaps = self._sources[k]
        end = limit + width - 1  # a window holding whole any token that starts before limit
        if type(source) is not str:
            m = source(text, max(start, pos), end)
            if m and m.start() < limit:  # one starting later may be a shorter token cut by the window
                return (m.start(), m.group())
            s = limit
        else:
            # from pos, unless an occurrence runs across pos: then which ones count depends on those before
            s = pos if pos > start and not (overlaps and text.find(source, max(start, pos - width + 1),
                                                                   pos + width - 1) >= 0) else start
            while s < limit:
                j = text.find(source, s, end)
                if j < 0:
                    break
                if j >= pos:
                    return (j, source)
                s = j + width  # each after the last, as Search._advance
        self._free[k] = max(s, limit)  # past the last occurrence stepped over, or the window searched
        return None
