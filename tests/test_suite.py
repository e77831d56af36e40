"""Suite loading: the reference suite is valid, and every kind of mistake is one clear line, exit 2."""
import pytest

from conftest import REFERENCE_SUITE, run_cli
from harness.demo.data import SYSTEM, TOOLS
from harness.errors import InputError
from harness.suite import load_suite


def test_reference_suite_shape():
    suite = load_suite(REFERENCE_SUITE)
    counts = {}
    for c in suite.cases:
        counts[c.category] = counts.get(c.category, 0) + 1
    assert counts == {"typecheck": 3, "lint": 3, "test": 3, "read_search": 4, "direct": 7, "multi_turn": 7, "ask": 3, "decline": 3}
    assert {t["name"] for t in suite.cases[0].tools} == {"execute_code", "read_file", "search_code"}
    assert suite.cases[0].messages[0] == {"role": "system", "content": SYSTEM}


def test_demo_model_is_trained_on_the_suite_tools_but_not_its_prompts():
    from harness.demo.data import conversations

    suite = load_suite(REFERENCE_SUITE)
    assert suite.cases[0].tools == TOOLS
    prompts = {m["content"] for c in suite.cases for m in c.messages if m["role"] == "user"}
    trained = {m["content"] for conv in conversations() for m in conv["messages"] if m["role"] == "user"}
    assert not prompts & trained


def test_validate_ok():
    r = run_cli("validate", str(REFERENCE_SUITE))
    assert r.returncode == 0, r.stderr
    assert "33 cases" in r.stdout


BAD = {
    "bad_toml": ('name = "x"\n[[cases]\nid = "a"\n', "invalid TOML"),
    "missing_id": ('[[cases]]\ncategory = "c"\nprompt = "p"\nexpect = "tool"\n', "case #1: missing field 'id'"),
    "duplicate_id": ('[[cases]]\nid = "a"\ncategory = "c"\nprompt = "p"\nexpect = "tool"\n'
                     '[[cases]]\nid = "a"\ncategory = "c"\nprompt = "q"\nexpect = "direct"\n', "case 'a': duplicate id"),
    "unknown_expect": ('[[cases]]\nid = "a"\ncategory = "c"\nprompt = "p"\nexpect = "maybe"\n', "case 'a'"),
    "unknown_field": ('[[cases]]\nid = "a"\ncategory = "c"\nprompt = "p"\nexpect = "tool"\npromt = "x"\n', "unknown field 'promt'"),
    "prompt_and_messages": ('[[cases]]\nid = "a"\ncategory = "c"\nexpect = "tool"\n', "exactly one of 'prompt'"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_suite_is_one_line_exit_2(tmp_path, name):
    text, needle = BAD[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    r = run_cli("validate", str(path))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(path) in lines[0] and needle in lines[0], lines[0]


def test_jsonl_suite_with_per_case_tools(tmp_path):
    path = tmp_path / "mini.jsonl"
    path.write_text('{"id": "w1", "category": "weather", "prompt": "Weather in Oslo?", '
                    '"tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}], '
                    '"expect": {"call": "get_weather"}}\n\n'
                    '{"id": "d1", "category": "direct", "messages": [{"role": "user", "content": "hi"}], "expect": "direct"}\n')
    suite = load_suite(path)
    assert suite.name == "mini"
    assert [c.id for c in suite.cases] == ["w1", "d1"]
    assert suite.cases[0].tools[0]["name"] == "get_weather" and suite.cases[1].tools == []


def test_jsonl_bad_line_names_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "category": "c", "prompt": "p", "expect": "tool"}\n{oops\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: not valid JSON"):
        load_suite(path)
