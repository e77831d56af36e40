"""A regex alternation of literal strings factored into a trie: Python's regex engine tries the
branches of `a|b|c` one by one at every candidate position, a trie tries each character once."""
import re


def alternation(words) -> str:
    """A pattern matching any of `words`, the longest one where several match at one position."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # end of a word
    return _pattern(trie)


def _pattern(node: dict) -> str:
    ends = "" in node
    branches = [re.escape(char) + _pattern(child) for char, child in sorted(node.items()) if char]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    if ends:  # a word ends here, but a longer one may go on: try the longer first
        return "(?:" + body + ")?" if len(branches) == 1 else body + "?"
    return body
