"""The optional judge settles only unsure kinds, through a configured backend (replay here, a real
file), trusts only one of its three words, and caches by hash so a second pass calls no backend."""
import json

from harness.judge import judge_key, settle
from harness.kinds import Kind
from harness.models import ModelSpec

UNSURE = Kind("unsure", "refusal and question conflict")


def spec(path):
    return ModelSpec(name="judge", backend="replay", options={"file": str(path)})


def test_settles_unsure_only_and_caches(tmp_path):
    answers, cache = tmp_path / "judge.jsonl", tmp_path / "cache" / "judge.jsonl"
    replies = [("I can't. What else?", UNSURE), ("Which city?", Kind("ask", "asks")),
               ("Hmm?", UNSURE), ("Sorry? No.", UNSURE), ("Lost reply", UNSURE)]
    outputs = {"I can't. What else?": "<think>it says it cannot</think>Decline.", "Hmm?": "It is a question: ask",
               "Sorry? No.": "I would rather not say"}  # no key word: stays unsure; the last has no output at all
    answers.write_text("".join(json.dumps({"id": judge_key(t, spec(answers)), "output": o}) + "\n"
                               for t, o in outputs.items()))
    kinds, settled = settle(replies, spec(answers), cache)
    assert [k.kind for k in kinds] == ["decline", "ask", "ask", "unsure", "unsure"] and settled == 2
    assert kinds[0].cue == "refusal and question conflict; the judge 'judge' settled it as decline"
    assert kinds[1] == replies[1][1]  # a decided kind never goes to the judge
    text = cache.read_text()
    assert "I can't" not in text and len(text.splitlines()) == 2  # hashes and kinds only; failures not cached
    answers.unlink()  # the cache answers now: no backend is loaded for known replies
    kinds, settled = settle(replies[:3], spec(answers), cache)
    assert [k.kind for k in kinds] == ["decline", "ask", "ask"] and settled == 2


def test_a_torn_cache_line_is_skipped(tmp_path):
    answers, cache = tmp_path / "judge.jsonl", tmp_path / "c.jsonl"
    answers.write_text(json.dumps({"id": judge_key("x", spec(answers)), "output": "answer"}) + "\n")
    cache.write_text('{"key": "abc", "kind": "ask"}\n{"key": "de')
    kinds, settled = settle([("x", UNSURE)], spec(answers), cache)
    assert kinds[0].kind == "answer" and settled == 1
    answers.unlink()
    assert settle([("x", UNSURE)], spec(answers), cache)[0][0].kind == "answer"  # the new entry was kept
