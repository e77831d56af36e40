"""The one pass over an output that finds every candidate token: the format markers and the
reasoning tags. Tokens are grouped by first character: Python's regex engine scans fast for a
pattern that starts with one literal character (`<`, `[`) and slowly for a set of them, and the few
markers that start otherwise are found with str.find, each only when its punctuation is in the text
(one memchr pass instead of a slower search over prose, which rarely holds `>`, `:` or a backtick)."""
import re

from harness.detect.trie import alternation


class Tokens:
    """Finds the occurrences of a fixed set of literal tokens, longest first at each position."""

    def __init__(self, tokens):
        tokens = sorted(set(tokens))
        self._by_char = [(c, re.compile(alternation([t for t in tokens if t[0] == c]))) for c in "<["
                         if any(t[0] == c for t in tokens)]
        self._others = [(t, next((c for c in t if not c.isalnum()), "")) for t in tokens if t[0] not in "<["]

    def find(self, text: str, start: int = 0) -> list[tuple[int, str]]:
        """(position, token) of every occurrence from start on, in text order; occurrences do not overlap."""
        found = []
        for char, pattern in self._by_char:
            if char in text:
                found += [(m.start(), m.group()) for m in pattern.finditer(text, start)]
        for token, gate in self._others:
            if gate not in text:
                continue
            k = text.find(token, start)
            while k >= 0:
                found.append((k, token))
                k = text.find(token, k + len(token))
        if len(found) > 1:
            found.sort()
        return found
