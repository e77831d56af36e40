"""Token ids of rendered prompts, piece by piece: a prompt's text is cut at its special tokens, and each
piece between them is encoded once and remembered. A suite's prompts share their long system-and-tools
piece, so most of a render's tokenizing (three quarters of it on the demo suite) is done once a suite.

The cut is exact because a Hugging Face tokenizer splits off special tokens before it normalizes or
pre-tokenizes: each piece is encoded on its own anyway. A piece is encoded after the special token it
follows in the prompt (whose id is then dropped), so rules that look at a piece's place (a Metaspace
pre-tokenizer prepending only at the text's start) see what they see in the whole text. Special tokens
that strip neighbouring whitespace or could overlap another added token are not cut at, and the first
prompts of each encoder are checked against encoding the whole text: any difference turns the cut off.
"""
import re
from collections import Counter

CHECKED_PROMPTS = 4  # prompts compared with a whole-text encode before the pieces are trusted alone
# what is remembered at most: a suite has a few distinct long pieces, so forgetting all at once is fine
MAX_PIECES = 4096
MAX_CHARACTERS = 1 << 23  # long tool results in multi-turn prompts must not pile up


def cut_tokens(added: dict[int, object]) -> dict[str, int]:
    """The special tokens safe to cut at, by text: special, matched on the raw text, stripping no whitespace,
    and overlapping no other added token (`added`: the tokenizer's added_tokens_decoder). Linear in the
    added tokens' characters (some vocabularies add thousands)."""
    texts = {t.content for t in added.values() if t.content}
    starts, ends = Counter(), Counter()  # the proper prefixes and suffixes of all added tokens
    for text in texts:
        for k in range(1, len(text)):
            starts[text[:k]] += 1
            ends[text[k:]] += 1
    joined = "\0".join(texts)

    def overlaps(s: str) -> bool:
        own_starts, own_ends = {s[:k] for k in range(1, len(s))}, {s[k:] for k in range(1, len(s))}
        # another token starting with one of s's suffixes, or ending with one of its prefixes
        if any(starts[s[k:]] > (s[k:] in own_starts) or ends[s[:k]] > (s[:k] in own_ends) for k in range(1, len(s))):
            return True
        inner = {s[i:j] for i in range(len(s)) for j in range(i + 1, len(s) + 1)} - {s}
        return joined.count(s) > 1 or not texts.isdisjoint(inner)  # s inside another token, or one inside s

    plain = {t.content: i for i, t in added.items()
             if t.special and not (t.lstrip or t.rstrip or t.single_word or t.normalized) and t.content}
    return {s: i for s, i in plain.items() if not overlaps(s)}


class PieceEncoder:
    """encode(text) == tokenizer.encode(text, add_special_tokens=False), most pieces from memory."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cuts = cut_tokens(getattr(tokenizer, "added_tokens_decoder", {})) \
            if getattr(tokenizer, "is_fast", False) else {}
        # longest first: of two special tokens starting at one place, the tokenizer takes the longer
        self.split = re.compile("(" + "|".join(map(re.escape, sorted(self.cuts, key=len, reverse=True))) + ")") \
            if self.cuts else None
        self.pieces: dict[tuple[str, str], list[int]] = {}
        self.characters = 0  # of the remembered pieces
        self.checked = 0

    def encode(self, text: str) -> list[int]:
        if self.split is None:
            return self._whole(text)
        ids = self._pieces(text)
        if ids is None or self.checked < CHECKED_PROMPTS:
            self.checked += 1
            whole = self._whole(text)
            if whole != ids:  # the cut is not exact for this tokenizer: whole texts from now on
                self.split = None
            return whole
        return ids

    def _whole(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def _pieces(self, text: str) -> list[int] | None:
        ids: list[int] = []
        before = ""
        for n, part in enumerate(self.split.split(text)):
            if n % 2:  # re.split with a group: odd parts are the special tokens
                ids.append(self.cuts[part])
                before = part
            elif part:
                piece = self._piece(before, part)
                if piece is None:
                    return None
                ids += piece
        return ids

    def _piece(self, before: str, piece: str) -> list[int] | None:
        key = (before, piece)
        ids = self.pieces.get(key)
        if ids is None:
            ids = self._whole(before + piece)
            if before:
                if ids[:1] != [self.cuts[before]]:  # the special token did not stay one id before this piece
                    return None
                ids = ids[1:]
            if len(self.pieces) >= MAX_PIECES or self.characters + len(piece) > MAX_CHARACTERS:
                self.pieces.clear()
                self.characters = 0
            self.pieces[key] = ids
            self.characters += len(piece)
        return ids
