"""Gold-prefix cases: messages with tool calls and results are validated (one clear line naming the case
and message), rendered by the model's own template, and the next turn is judged by each new
expectation kind (answer, from_result, retry, no_repeat) on replayed outputs."""
import json

import pytest

from conftest import REFERENCE_SUITE, run_cli
from harness.errors import InputError
from harness.suite import load_suite
from multiturn_runs import MULTITURN_SUITE, PASSING, call, replay_run
from replay_runs import REFERENCE_MULTI_TURN

HEAD = '''
[[tools]]
name = "read_file"
parameters = { type = "object", properties = { path = { type = "string" } } }

[[tools]]
name = "search_code"
parameters = { type = "object", properties = { query = { type = "string" } } }

[[cases]]
id = "c1"
category = "gold"
'''
PREFIX = '''messages = [
  { role = "user", content = "Where is parse_order?" },
  { role = "assistant", tool_calls = [{ id = "call_1", name = "search_code", arguments = { query = "parse_order" } }] },
  { role = "tool", tool_call_id = "call_1", content = '{"items": [{"path": "orders/parse.py"}]}' },
]
'''


def test_fixture_messages_take_the_openai_shape_templates_expect():
    case = next(c for c in load_suite(MULTITURN_SUITE).cases if c.id == "gold-from-result")
    assert case.messages[0]["role"] == "system"
    assistant, tool = case.messages[2], case.messages[3]
    assert assistant["tool_calls"] == [{"id": "call_1", "type": "function",
                                        "function": {"name": "search_code", "arguments": {"query": "def parse_order"}}}]
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": case.messages[3]["content"]}
    assert json.loads(tool["content"])["items"][0]["path"] == "orders/parse.py"


BAD = {
    # what is wrong: (messages or expect TOML, words the one-line error must hold)
    "unknown_call_id": (PREFIX.replace('tool_call_id = "call_1"', 'tool_call_id = "call_9"') + 'expect = "tool"',
                        "messages[2].tool_call_id: 'call_9' answers no earlier call"),
    "undefined_tool": (PREFIX.replace('name = "search_code"', 'name = "grep"') + 'expect = "tool"',
                       "messages[1].tool_calls[0].name: 'grep' is not a tool"),
    "arguments_not_object": (PREFIX.replace('arguments = { query = "parse_order" }', 'arguments = ["parse_order"]')
                             + 'expect = "tool"', "messages[1].tool_calls[0].arguments: must be an object"),
    "missing_call_id": (PREFIX.replace('id = "call_1", ', '') + 'expect = "tool"', "messages[1].tool_calls[0].id"),
    "answered_twice": (PREFIX.replace("]\n", '  { role = "tool", tool_call_id = "call_1", content = "again" },\n]\n', 1)
                       + 'expect = "tool"', "already has a result"),
    "ends_with_assistant": (PREFIX.replace("]\n", '  { role = "assistant", content = "done" },\n]\n') + 'expect = "tool"',
                            "ends with an assistant message"),
    "unknown_message_key": (PREFIX.replace('role = "tool", ', 'role = "tool", name = "x", ') + 'expect = "tool"',
                            "unknown key 'name' in a tool message"),
    "from_result_unknown_call": (PREFIX + 'expect = { call = "read_file", arguments = { path = { from_result = "call_7", path = "items[0].path" } } }',
                                 "from_result names 'call_7'"),
    "from_result_bad_path": (PREFIX + 'expect = { call = "read_file", arguments = { path = { from_result = "call_1", path = "items[3].path" } } }',
                             "no item [3]"),
    "path_without_from_result": (PREFIX + 'expect = { call = "read_file", arguments = { path = { path = "a" } } }',
                                 "only applies together with from_result"),
    "retry_unknown_call": (PREFIX + 'expect = { retry = "call_2" }', "no call call_2 to retry"),
    "steps_without_script": (PREFIX + 'expect = { steps = [{ call = "read_file" }] }', "add [[cases.script]]"),
    "script_result_and_error": ('prompt = "p"\nexpect = { final = "direct" }\n'
                                '[[cases.script]]\ncall = "read_file"\nresult = "a"\nerror = "b"',
                                "give exactly one of result"),
    "script_unknown_tool": ('prompt = "p"\nexpect = { final = "direct" }\n[[cases.script]]\ncall = "grep"\nresult = "a"',
                            "field 'script[0].call': 'grep' is not a tool"),
    "script_needs_steps_form": ('prompt = "p"\nexpect = "direct"\n[[cases.script]]\ncall = "read_file"\nresult = "a"',
                                "judged over the episode"),
    "max_turns_out_of_range": ('prompt = "p"\nmax_turns = 0\nexpect = { final = "direct" }\n'
                               '[[cases.script]]\ncall = "read_file"\nresult = "a"', "max_turns' must be a whole number"),
    "answer_contains_not_strings": (PREFIX + 'expect = { answer = { contains = [3] } }', "expected a list of non-empty strings"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_conversations_are_one_line_exit_2_naming_case_and_message(tmp_path, name):
    body, words = BAD[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(HEAD + body + "\n")
    with pytest.raises(InputError) as err:
        load_suite(path)
    assert f"case 'c1'" in str(err.value) and words in str(err.value), str(err.value)
    r = run_cli("validate", str(path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, r.stderr


def test_the_fixture_suite_validates():
    r = run_cli("validate", str(MULTITURN_SUITE))
    assert r.returncode == 0, r.stderr
    assert "7 cases" in r.stdout


def test_openai_shape_and_json_string_arguments_are_accepted(tmp_path):
    body = PREFIX.replace('{ id = "call_1", name = "search_code", arguments = { query = "parse_order" } }',
                          '''{ id = "call_1", type = "function", function = { name = "search_code", arguments = '{"query": "parse_order"}' } }''')
    path = tmp_path / "s.toml"
    path.write_text(HEAD + body + 'expect = "retry"\n')
    fn = load_suite(path).cases[0].messages[1]["tool_calls"][0]["function"]
    assert fn == {"name": "search_code", "arguments": {"query": "parse_order"}}


# case -> (an output that fails it, the reason it must fail with); PASSING holds outputs that pass
FAILING = {
    "gold-read-after-pytest": ("The test fails on an assertion.", "no_call"),
    "gold-mypy-summary": ("mypy found several errors.", "wrong_answer"),
    "gold-from-result": (call("read_file", path="orders/other.py"), "wrong_value"),
    "gold-search-retry": (call("search_code", query="class LedgerTotal"), "unchanged_arguments"),
    "gold-no-repeat": (call("execute_code", code="ruff check api"), "no_repeat"),
}


def test_each_next_turn_expectation_passes_the_right_turn_and_fails_the_wrong_one(tmp_path):
    good = replay_run(tmp_path / "good", PASSING)
    bad = replay_run(tmp_path / "bad", {**PASSING, **{k: out for k, (out, _) in FAILING.items()}})
    for case_id, (_, reason) in FAILING.items():
        g, b = good[(case_id, 1)], bad[(case_id, 1)]  # judged turn: one assistant turn in the prefix
        assert g["passed"] and g["reason"] is None, g
        assert not b["passed"] and b["reason"] == reason, b
        assert g["episode"] is None  # a gold-prefix case is one ordinary case record
    assert good[("gold-mypy-summary", 1)]["used_result"] is True  # "3 errors", "2 files" come from the result
    assert bad[("gold-mypy-summary", 1)]["after_result"] is True
    assert bad[("gold-no-repeat", 1)]["repeat"] is True and good[("gold-no-repeat", 1)]["repeat"] is False


def test_retry_passes_a_changed_call_and_fails_a_different_tool(tmp_path):
    records = replay_run(tmp_path / "r", {**PASSING, "gold-search-retry": call("read_file", path="ledger.py")})
    assert records[("gold-search-retry", 1)]["reason"] == "wrong_tool"


def test_answer_ignores_reasoning_and_regex_applies(tmp_path):
    text = HEAD + PREFIX + 'expect = { answer = { regex = "orders/\\\\w+\\\\.py" } }\n'
    suite = tmp_path / "s.toml"
    suite.write_text(text)
    hidden = replay_run(tmp_path / "a", {"c1": "<think>orders/parse.py</think>I do not know."}, suite=suite)
    shown = replay_run(tmp_path / "b", {"c1": "It is in orders/parse.py."}, suite=suite)
    assert hidden[("c1", 1)]["reason"] == "wrong_answer"
    assert shown[("c1", 1)]["passed"]


def test_gold_prefix_renders_with_the_models_own_template(demo_model):
    """The demo's template writes the prefix's call as <tool_call> JSON and its result inside
    <tool_response>, which the tokenizer keeps as one token."""
    from harness.backends.base import Request
    from harness.backends.mlx import MLXBackend
    from harness.models import ModelSpec

    backend = MLXBackend(ModelSpec(name="demo", backend="mlx", options={"path": str(demo_model)}, source="test"))
    backend.load()
    case = next(c for c in load_suite(MULTITURN_SUITE).cases if c.id == "gold-from-result")
    ids = backend.render(Request(case, turn=1))
    text = backend.tokenizer.decode(ids)
    assert '<tool_call>\n{"name": "search_code", "arguments": {"query": "def parse_order"}}\n</tool_call>' in text
    assert "<tool_response>\n" + case.messages[3]["content"] + "\n</tool_response>" in text
    assert text.endswith("<|im_start|>assistant\n")
    response_id = backend.tokenizer.convert_tokens_to_ids("<tool_response>")
    assert ids.count(response_id) == 1


def test_reference_multi_turn_cases_judge_the_turn_after_the_tool_result(tmp_path):
    suite = load_suite(REFERENCE_SUITE)
    multi = [c for c in suite.cases if c.category == "multi_turn"]
    assert len(multi) >= 6 and {c.id for c in multi} == set(REFERENCE_MULTI_TURN)
    assert all(c.messages[-1]["role"] == "tool" for c in multi)
    others = {c.id: "A direct answer." for c in suite.cases if c.category != "multi_turn"}
    good = replay_run(tmp_path / "good", others | {k: v[0] for k, v in REFERENCE_MULTI_TURN.items()}, suite=REFERENCE_SUITE)
    bad = replay_run(tmp_path / "bad", others | {k: v[1] for k, v in REFERENCE_MULTI_TURN.items()}, suite=REFERENCE_SUITE)
    for case_id, (_, _, reason) in REFERENCE_MULTI_TURN.items():
        assert good[(case_id, 1)]["passed"], good[(case_id, 1)]
        assert bad[(case_id, 1)]["reason"] == reason, bad[(case_id, 1)]


def test_demo_acts_on_tool_results_in_the_reference_multi_turn_cases(tmp_path, demo_model):
    """Real mlx generation: the demo, trained on tool-result turns, gets some of the reference suite's
    multi_turn cases right (it is never trained on their prompts or results)."""
    from harness import runner
    from harness.models import resolve_model
    from harness.results import read_records

    suite = load_suite(REFERENCE_SUITE)
    suite.cases = [c for c in suite.cases if c.category == "multi_turn"]
    spec = resolve_model("demo")
    spec.options["path"] = str(demo_model)
    runner.run(suite, spec, tmp_path / "run", progress=False)
    records = read_records(tmp_path / "run")
    assert len(records) == len(suite.cases) and all(r.turn == 1 and r.after_result for r in records)
    assert sum(r.passed for r in records) >= 1, [(r.id, r.reason, r.output[:80]) for r in records]
