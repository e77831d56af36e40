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


def test_rescore_with_a_judge_settles_unsure_replies_and_the_report_says_how_many(tmp_path, monkeypatch):
    """`harness rescore RUN --judge MODEL`: an unsure reply to an ask case goes to the judge (a replay model
    here, through models.toml), is scored with the kind it gives, and the report counts what it settled."""
    from conftest import REFERENCE_SUITE, run_cli

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    unsure_reply = "Sorry, I can't do that. Which file do you mean?"
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text(json.dumps({"id": "ask-3", "output": unsure_reply}) + "\n"
                       + json.dumps({"id": "direct-1", "output": "A direct answer."}) + "\n")
    run = run_cli("run", str(REFERENCE_SUITE), "--replay", str(outputs), "--run-dir", str(tmp_path / "run"), "--quiet")
    assert run.returncode == 0, run.stderr
    before = {r["id"]: r for r in map(json.loads, (tmp_path / "run" / "results.jsonl").read_text().splitlines())}
    assert before["ask-3"]["response_kind"] == "unsure" and not before["ask-3"]["passed"]

    answers = tmp_path / "judge.jsonl"
    judge = spec(answers)
    answers.write_text(json.dumps({"id": judge_key(unsure_reply, judge), "output": "ask"}) + "\n")
    models = tmp_path / "models.toml"
    models.write_text(f'[models.judge]\nbackend = "replay"\nfile = "{answers}"\n')
    for out in ("judged", "again"):
        rescored = run_cli("rescore", str(tmp_path / "run"), "--judge", "judge", "--models", str(models),
                           "-o", str(tmp_path / out), "--format", "json")
        assert rescored.returncode == 0, rescored.stderr
        summary = json.loads(rescored.stdout)
        assert summary["judge"] == {"model": "judge", "unsure": 1, "settled": 1}
        after = {r["id"]: r for r in map(json.loads, (tmp_path / out / "results.jsonl").read_text().splitlines())}
        assert after["ask-3"]["response_kind"] == "ask" and after["ask-3"]["passed"]
        assert "settled it as ask" in after["ask-3"]["kind_cue"]
        assert after["direct-1"]["passed"] == before["direct-1"]["passed"]  # decided replies never go to the judge
        answers.unlink(missing_ok=True)  # the second rescore is answered by the cache alone
    table = run_cli("report", str(tmp_path / "again"))
    assert "judge settled 1 of 1 replies the classifier found unsure" in table.stdout


def test_rescore_with_an_unreachable_judge_exits_3_and_leaves_no_folder(tmp_path, monkeypatch):
    """The judge loads before the new run folder is made: a judge server that is down is exit 3, and no
    empty folder is left where the next rescore would refuse to write."""
    import socket

    from conftest import REFERENCE_SUITE, run_cli

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    outputs = tmp_path / "outputs.jsonl"
    outputs.write_text(json.dumps({"id": "ask-3", "output": "Sorry, I can't do that. Which file do you mean?"}) + "\n")
    assert run_cli("run", str(REFERENCE_SUITE), "--replay", str(outputs), "--run-dir", str(tmp_path / "run"),
                   "--quiet").returncode == 0
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    models = tmp_path / "models.toml"
    models.write_text(f'[models.judge]\nbackend = "openai"\nbase_url = "http://127.0.0.1:{port}/v1"\n'
                      f'model = "m"\nmax_retries = 0\n')
    rescored = run_cli("rescore", str(tmp_path / "run"), "--judge", "judge", "--models", str(models),
                       "-o", str(tmp_path / "judged"))
    assert rescored.returncode == 3, rescored.stderr
    assert not (tmp_path / "judged").exists()
