"""Prompts encoded piece by piece between special tokens (mlx_tokens.PieceEncoder) give exactly the ids
of encoding the whole text, on tokenizers of the kinds model families use, built here offline."""
import random

import pytest
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from harness.backends import mlx_tokens
from harness.backends.mlx_tokens import PieceEncoder, cut_tokens

CORPUS = ["You are a helpful assistant. Use a tool when the answer depends on files.",
          "def main():\n    return grep('TODO', path='src/')  # 3 matches\n",
          "Résumé: naïve café — 東京 2024 年, emoji 🙂 and tabs\tand  spaces.",
          '{"name": "read_file", "arguments": {"path": "README.md"}}'] * 20
SPECIALS = ["<|im_start|>", "<|im_end|>", "<s>", "</s>"]


def byte_level() -> Tokenizer:  # qwen, llama 3: a split regex, then bytes
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(r"\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+", "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return tok


def metaspace(scheme: str) -> Tokenizer:  # llama 2, mistral, gemma: sentencepiece-like, a space marker prepended
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme=scheme)
    tok.decoder = decoders.Metaspace(prepend_scheme=scheme)
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>"] + SPECIALS))
    return tok


def wrapped(tok: Tokenizer) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_object=tok)


def random_prompts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    words = " ".join(CORPUS[:4]).split(" ") + ["", " ", "\n", "\n\n", "  ", "<tool_call>", "<|im", "end|>", "<"]
    prompts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.35:
                parts.append(rng.choice(SPECIALS))
            else:
                parts.append(rng.choice(["", " ", "\n"]).join(rng.choices(words, k=rng.randint(1, 8))))
        prompts.append("".join(parts))
    return prompts


@pytest.fixture(autouse=True)
def pieces_only(monkeypatch):
    # no prompt is checked against the whole-text encode, so every figure below is the pieces' own
    monkeypatch.setattr(mlx_tokens, "CHECKED_PROMPTS", 0)


@pytest.mark.parametrize("build", [byte_level, lambda: metaspace("first"), lambda: metaspace("always")],
                         ids=["byte_level", "metaspace_first", "metaspace_always"])
def test_pieces_give_the_ids_of_the_whole_text(build):
    tokenizer = wrapped(build())
    encoder = PieceEncoder(tokenizer)
    assert set(SPECIALS) <= set(encoder.cuts)
    prompts = random_prompts(7, 400)
    for prompt in prompts + prompts:  # the second round reads every piece from memory
        assert encoder.encode(prompt) == tokenizer.encode(prompt, add_special_tokens=False), prompt
    assert encoder.split is not None and encoder.pieces


def test_a_long_shared_piece_is_encoded_once():
    tokenizer = wrapped(byte_level())
    calls = []
    encode = tokenizer.encode
    tokenizer.encode = lambda text, **kw: calls.append(text) or encode(text, **kw)
    encoder = PieceEncoder(tokenizer)
    system = "<|im_start|>" + " ".join(CORPUS[:4]) + "<|im_end|>\n"
    for question in ("Where is main?", "Read the README.", "Where is main?"):
        encoder.encode(f"{system}<|im_start|>{question}<|im_end|>\n<|im_start|>")
    assert sum(CORPUS[0] in text for text in calls) == 1
    assert sum("Where is main?" in text for text in calls) == 1


def test_tokens_that_strip_whitespace_or_overlap_are_not_cut_at():
    tok = byte_level()
    tok.add_special_tokens([AddedToken("<pad>", rstrip=True), AddedToken("[X]", lstrip=True)])
    tok.add_tokens(["<|im_end|>\n"])  # contains a special token: the tokenizer may take the longer one
    tokenizer = wrapped(tok)
    cuts = cut_tokens(tokenizer.added_tokens_decoder)
    assert "<pad>" not in cuts and "[X]" not in cuts and "<|im_end|>" not in cuts and "<|im_start|>" in cuts
    encoder = PieceEncoder(tokenizer)
    for prompt in random_prompts(11, 200) + ["a <pad>  b", "x  [X]y", "<|im_end|>\n<|im_start|>hi<|im_end|>\n"]:
        assert encoder.encode(prompt) == tokenizer.encode(prompt, add_special_tokens=False), prompt


def test_a_difference_on_a_checked_prompt_turns_the_pieces_off(monkeypatch):
    monkeypatch.setattr(mlx_tokens, "CHECKED_PROMPTS", 2)
    tokenizer = wrapped(byte_level())
    encoder = PieceEncoder(tokenizer)
    prompt = "<|im_start|>Read the README.<|im_end|>"
    encoder.pieces[("<|im_start|>", "Read the README.")] = [0, 0]  # as if the cut were not exact
    assert encoder.encode(prompt) == tokenizer.encode(prompt, add_special_tokens=False)
    assert encoder.split is None
    assert encoder.encode(prompt) == tokenizer.encode(prompt, add_special_tokens=False)


def test_a_slow_tokenizer_is_encoded_whole():
    class Slow:
        is_fast = False

        def encode(self, text, add_special_tokens):
            return [len(text)]

    encoder = PieceEncoder(Slow())
    assert encoder.split is None and encoder.encode("<|im_start|>hi") == [14]


@pytest.mark.parametrize("other, cut", [
    ("a>b", False),  # starts with the end of <a>
    ("x<", False),  # ends with the start of <a>
    ("<a>>", False),  # holds <a>
    ("<a", False),  # inside <a>
    ("<b>", True),
    ("zz", True),
])
def test_a_special_token_overlapping_another_added_token_is_not_cut_at(other, cut):
    added = {0: AddedToken("<a>", special=True, normalized=False), 1: AddedToken(other, special=False)}
    assert ("<a>" in cut_tokens(added)) is cut


def test_thousands_of_added_tokens_are_checked_quickly():
    import time

    added = {i: AddedToken(f"<unused{i}>", special=True, normalized=False) for i in range(6000)}
    t0 = time.perf_counter()
    cuts = cut_tokens(added)
    assert time.perf_counter() - t0 < 5
    # <unused1> is inside no other token ("<unused1>" is not a substring of "<unused10>"), so all are cut at
    assert len(cuts) == 6000


def test_memory_of_pieces_is_bounded_by_characters(monkeypatch):
    monkeypatch.setattr(mlx_tokens, "MAX_CHARACTERS", 1000)
    tokenizer = wrapped(byte_level())
    encoder = PieceEncoder(tokenizer)
    for n in range(50):
        prompt = f"<|im_start|>{'word ' * 40}{n}<|im_end|>"  # a distinct ~200-character piece each
        assert encoder.encode(prompt) == tokenizer.encode(prompt, add_special_tokens=False)
        assert encoder.characters <= 1000
    assert 0 < len(encoder.pieces) <= 5
