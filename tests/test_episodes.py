"""Scripted rollouts: the loop answers calls from the script until a direct answer, max_turns or an
off-script call; every turn and the episode get records; all episodes advance one turn per
generate() round; a resumed run reuses the turns already written; reports and gates read them."""
import json
from xml.etree import ElementTree

from conftest import run_cli
from harness import runner
from harness.backends.replay import ReplayBackend
from harness.models import ModelSpec, resolve_model
from harness.suite import load_suite
from multiturn_runs import DEMO_ROLLOUTS, MULTITURN_SUITE, PASSING, by_turn, call, replay_run, write_replay

FIX, SEARCH = "rollout-fix-test", "rollout-search-error"


def test_passing_rollouts_write_a_record_per_turn_and_one_per_episode(tmp_path):
    records = replay_run(tmp_path / "run", PASSING)
    for case_id in (FIX, SEARCH):
        episode = records[(case_id, "episode")]
        assert episode["passed"] and episode["reason"] is None and episode["ended"] == "answer", episode
        assert episode["turns"] == 3 and episode["first_failed_turn"] is None
        turns = [records[(case_id, t)] for t in range(3)]
        assert all(t["passed"] and t["episode"] is False for t in turns)
        assert [t["output"] for t in turns] == PASSING[case_id]  # verbatim
    fix = [records[(FIX, t)] for t in range(3)]
    assert [a["script"] for a in fix[0]["answered"]] == [0] and [a["script"] for a in fix[1]["answered"]] == [1]
    assert fix[2]["used_result"] is True  # "42" comes from the tool result
    search = records[(SEARCH, "episode")]
    assert [c["id"] for c in search["calls"]] == ["call_1", "call_2"]
    assert records[(SEARCH, 0)]["answered"][0]["error"] is True  # the scripted tool error
    assert records[(SEARCH, 1)]["answered"][0]["error"] is False


def test_off_script_call_ends_the_episode_and_says_so(tmp_path):
    outputs = {**PASSING, FIX: [PASSING[FIX][0], call("read_file", path="src/other.py"), "never asked"]}
    records = replay_run(tmp_path / "run", outputs)
    episode = records[(FIX, "episode")]
    assert not episode["passed"] and episode["reason"] == "off_script" and episode["ended"] == "off_script"
    assert episode["turns"] == 2 and episode["first_failed_turn"] == 1
    assert records[(FIX, 1)]["reason"] == "wrong_value"  # the step expected src/ledger.py
    assert (FIX, 2) not in records  # no turn after the episode ended
    assert records[(SEARCH, "episode")]["passed"]  # one episode's end does not touch another


def test_max_turns_ends_an_episode_that_never_answers(tmp_path):
    looping = [call("search_code", query="parse_order("), call("search_code", query="def parse_order"),
               call("search_code", query="parse_order"), "too late"]
    records = replay_run(tmp_path / "run", {**PASSING, SEARCH: looping})
    episode = records[(SEARCH, "episode")]
    assert episode["reason"] == "max_turns" and episode["turns"] == 3  # max_turns = 3 in the suite
    assert records[(SEARCH, 2)]["reason"] == "unexpected_call"  # the steps were done: an answer was due
    assert episode["first_failed_turn"] == 2


def test_no_repeat_ends_the_episode_on_a_repeated_call(tmp_path):
    repeating = [call("search_code", query="parse_order("), call("search_code", query="parse_order("), "x"]
    records = replay_run(tmp_path / "run", {**PASSING, SEARCH: repeating})
    assert records[(SEARCH, "episode")]["reason"] == "no_repeat"
    assert records[(SEARCH, 1)]["reason"] == "no_repeat" and records[(SEARCH, 1)]["repeat"] is True


def test_an_early_answer_fails_at_the_missing_step(tmp_path):
    records = replay_run(tmp_path / "run", {**PASSING, FIX: [PASSING[FIX][0], "It is probably line 42."]})
    episode = records[(FIX, "episode")]
    assert episode["reason"] == "no_call" and episode["first_failed_turn"] == 1 and episode["ended"] == "answer"


def test_final_answer_expectation_judges_the_last_turn(tmp_path):
    records = replay_run(tmp_path / "run", {**PASSING, FIX: PASSING[FIX][:2] + ["total() is off by one."]})
    assert records[(FIX, 2)]["reason"] == "wrong_answer"  # final wants "42"
    assert records[(FIX, "episode")]["reason"] == "wrong_answer"


class CountingReplay(ReplayBackend):
    """The replay backend, noting which (case, turn) each generate() call was asked for."""
    rounds: list = []

    def generate(self, requests):
        CountingReplay.rounds.append(sorted((r.case.id, r.turn) for r in requests))
        yield from super().generate(requests)


def test_all_episodes_advance_one_turn_per_generate_round(tmp_path, monkeypatch):
    replay = write_replay(tmp_path / "replay.jsonl", PASSING)
    CountingReplay.rounds = []
    suite = load_suite(MULTITURN_SUITE)
    monkeypatch.setattr(runner, "backend_class", lambda name, source: CountingReplay)
    runner.run(suite, ModelSpec(name="r", backend="replay", options={"file": str(replay)}), tmp_path / "run",
               progress=False)
    gold = sorted((c.id, 1) for c in suite.cases if not c.script)
    assert CountingReplay.rounds == [gold, [(FIX, 0), (SEARCH, 0)], [(FIX, 1), (SEARCH, 1)], [(FIX, 2), (SEARCH, 2)]]


def test_resume_mid_episode_reuses_the_turns_already_written(tmp_path):
    run_dir = tmp_path / "run"
    # session 1: turn 2 of FIX has no recorded output, a backend error that ends the episode unfinished
    first = replay_run(run_dir, {**PASSING, FIX: PASSING[FIX][:2]})
    assert first[(FIX, "episode")]["reason"] == "backend_error"
    # session 2 offers other outputs for turns 0 and 1: they must not be used, the written turns are
    changed = [call("execute_code", code="pytest -x"), call("read_file", path="src/elsewhere.py"), PASSING[FIX][2]]
    second = replay_run(run_dir, {**PASSING, FIX: changed})
    assert second[(FIX, "episode")]["passed"], second[(FIX, "episode")]
    assert [second[(FIX, t)]["output"] for t in range(3)] == PASSING[FIX]
    lines = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    turn_lines = [(r["id"], r.get("turn")) for r in lines if r.get("episode") is False and r["id"] == FIX]
    assert turn_lines == [(FIX, 0), (FIX, 1), (FIX, 2), (FIX, 2)]  # turn 2: the error, then its retry
    assert sum(1 for r in lines if r["id"] == SEARCH and r.get("episode")) == 1  # finished: not redone


def test_a_runs_own_results_replay_every_turn(tmp_path):
    replay_run(tmp_path / "a", PASSING)
    r = run_cli("run", str(MULTITURN_SUITE), "--replay", str(tmp_path / "a" / "results.jsonl"),
                "--run-dir", str(tmp_path / "b"), "--quiet", "--format", "json")
    assert r.returncode == 0, r.stderr
    a, b = by_turn(tmp_path / "a"), by_turn(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(a[k]["passed"] == b[k]["passed"] and a[k].get("output") == b[k].get("output") for k in a)


def test_report_and_gate_read_episodes_and_turns(tmp_path):
    outputs = {**PASSING, FIX: [PASSING[FIX][0], call("read_file", path="src/other.py")]}
    replay_run(tmp_path / "run", outputs)
    r = run_cli("report", str(tmp_path / "run"), "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["episodes"] == {"total": 2, "passed": 1, "accuracy": 0.5}
    # turns: 5 gold-prefix cases + 2 turns of FIX (turn 1 failed) + 3 of SEARCH
    assert doc["turns"] == {"total": 10, "passed": 9, "accuracy": 0.9}
    assert doc["overall"]["total"] == 7  # each rollout counts once
    assert doc["multi_turn"]["first_diverging_turn"] == {"1": 1}
    assert doc["multi_turn"]["episode_reasons"] == {"off_script": 1}
    rules = tmp_path / "gate.toml"
    rules.write_text("[overall]\nmin_episode_success = 0.5\nmin_turn_accuracy = 0.9\n")
    assert run_cli("gate", str(tmp_path / "run"), "--rules", str(rules)).returncode == 0
    rules.write_text("[overall]\nmin_episode_success = 0.75\n")
    failed = run_cli("gate", str(tmp_path / "run"), "--rules", str(rules))
    assert failed.returncode == 1 and "episode success 50.0%" in failed.stdout + failed.stderr
    junit = tmp_path / "junit.xml"
    assert run_cli("gate", str(tmp_path / "run"), "--rules", str(rules), "--junit", str(junit),
                   "--junit-cases").returncode == 1
    cases = next(s for s in ElementTree.parse(junit).getroot() if s.get("name").startswith("cases:"))
    assert len(cases) == 7  # one per case, a rollout by its episode record
    table = run_cli("report", str(tmp_path / "run"))
    assert "episodes passed" in table.stdout and "1/2" in table.stdout


def test_demo_rollouts_batched_match_one_episode_at_a_time(tmp_path, demo_model):
    """Real mlx generation on the demo model: every turn's output when all episodes share each round
    equals its output when the episode runs alone."""
    suite = load_suite(DEMO_ROLLOUTS)
    spec = resolve_model("demo")
    spec.options["path"] = str(demo_model)
    runner.run(suite, spec, tmp_path / "together", progress=False)
    together = {k: v for k, v in by_turn(tmp_path / "together").items() if v.get("episode") is False}
    alone = {}
    for case in suite.cases:
        one = load_suite(DEMO_ROLLOUTS)
        one.cases = [c for c in one.cases if c.id == case.id]
        runner.run(one, spec, tmp_path / case.id, progress=False)
        alone |= {k: v for k, v in by_turn(tmp_path / case.id).items() if v.get("episode") is False}
    assert together.keys() == alone.keys()
    assert max(turn for _, turn in together) >= 1  # some episode got past its first call
    assert {k: v["output"] for k, v in together.items()} == {k: v["output"] for k, v in alone.items()}
    assert {k: v["prompt_sha256"] for k, v in together.items()} == {k: v["prompt_sha256"] for k, v in alone.items()}
    manifest = json.loads((tmp_path / "together" / "manifest.json").read_text())
    assert manifest["generation"]["mode"] == "batched"


def test_rescore_replays_each_episode_from_its_recorded_turns(tmp_path):
    outputs = {**PASSING, FIX: [PASSING[FIX][0], call("read_file", path="src/other.py")]}
    replay_run(tmp_path / "run", outputs)
    r = run_cli("rescore", str(tmp_path / "run"), "-o", str(tmp_path / "again"), "--format", "json")
    assert r.returncode == 0, r.stderr
    before, after = by_turn(tmp_path / "run"), by_turn(tmp_path / "again")
    assert before.keys() == after.keys()
    verdict = lambda recs: {k: (v["passed"], v["reason"], v["output"]) for k, v in recs.items()}
    assert verdict(after) == verdict(before)
    assert after[(FIX, "episode")]["reason"] == "off_script"


def test_probe_p_call_stays_with_the_request_it_measured(tmp_path, demo_model):
    """`run --probe` measures each case's first request: its p_call goes to that turn's record and to an
    episode that failed there, never to a later turn (other messages came before it)."""
    suite = load_suite(DEMO_ROLLOUTS)
    spec = resolve_model("demo")
    spec.options["path"] = str(demo_model)
    runner.run(suite, spec, tmp_path / "run", progress=False, probe=True)
    records = by_turn(tmp_path / "run")
    later = [r for (_, turn), r in records.items() if turn != "episode" and turn >= 1]
    assert later, "some episode should get past its first turn"
    assert all(r["p_call"] is None for r in later)
    for (case_id, turn), r in records.items():
        if turn == 0:
            assert isinstance(r["p_call"], float) and 0 <= r["p_call"] <= 1, case_id
        elif turn == "episode":
            assert (r["p_call"] is not None) == (r["first_failed_turn"] == 0), case_id
            if r["p_call"] is not None:
                assert r["p_call"] == records[(case_id, 0)]["p_call"]
