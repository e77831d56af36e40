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
    "bad_toml": ('name = "x"\n[[cases]\nid = "a"\n', "not valid TOML"),
    "missing_id": ('[[cases]]\ncategory = "c"\nprompt = "p"\nexpect = "tool"\n', "case #1: missing field 'id'"),
    "duplicate_id": ('[[cases]]\nid = "a"\ncategory = "c"\nprompt = "p"\nexpect = "direct"\n'
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
    path.write_text('{"id": "a", "category": "c", "prompt": "p", "expect": "direct"}\n{oops\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: not valid JSON"):
        load_suite(path)


def _suite(tmp_path, params: str, expect: str):
    path = tmp_path / "s.toml"
    path.write_text(f'[[tools]]\nname = "f"\nparameters = {params}\n'
                    f'[[cases]]\nid = "a"\ncategory = "c"\nprompt = "p"\nexpect = {expect}\n')
    return path


@pytest.mark.parametrize("params, expect", [
    # valid JSON Schemas of several drafts and shapes
    ('{ type = "object", properties = { n = { type = "integer", minimum = 0 }, tags = { type = "array", items = '
     '{ type = "string" } } }, required = ["n"] }', '{ call = "f", arguments = { n = 3 } }'),
    ('{ "$schema" = "http://json-schema.org/draft-07/schema#", type = "object", properties = { u = { enum = ["c", "f"] } } }',
     '{ call = "f", arguments = { u = "c" } }'),
    ('{ type = "object", "$defs" = { unit = { type = "string" } }, properties = { u = { "$ref" = "#/$defs/unit" } } }',
     '{ call = "f" }'),
    # arguments the schema does not list, where it allows them
    ('{ type = "object", properties = { a = { type = "string" } }, additionalProperties = true }',
     '{ call = "f", arguments = { b = 1 } }'),
    ('{ type = "object", properties = { a = {} }, patternProperties = { "^x_" = {} } }', '{ call = "f", arguments = { x_1 = 1 } }'),
    ('{ type = "object" }', '{ call = "f", arguments = { anything = 1 } }'),
    # an argument that must be absent may be one the schema does not have
    ('{ type = "object", properties = { a = {} } }', '{ call = "f", arguments = { b = { absent = true } } }'),
    ('{ type = "object", properties = { a = {} } }', '{ any_of = ["direct", { call = "f" }] }'),
])
def test_possible_expectations_and_valid_schemas_are_accepted(tmp_path, params, expect):
    assert load_suite(_suite(tmp_path, params, expect)).cases[0].tools[0]["name"] == "f"


@pytest.mark.parametrize("params, expect, needle", [
    ('{ type = "object", properties = { a = {} }, additionalProperties = false }', '{ call = "f", arguments = { b = 1 } }',
     "field 'expect.arguments.b': tool 'f' has no parameter 'b' (its parameters: a)"),
    ('{ type = "object", additionalProperties = false }', '{ call = "f", arguments = { b = 1 } }', "its parameters: none"),
    ('{ type = "object", properties = { a = {} } }', '{ calls = [{ call = "f", arguments = { a = 1, c = 2 } }] }',
     "field 'expect.calls[0].arguments.c'"),
    ('{ type = "object", properties = { a = { type = ["string", "nope"] } } }', '{ call = "f" }', "parameters.properties.a.type"),
    ('{ type = "object", properties = { a = { items = 3 } } }', '{ call = "f" }', "parameters.properties.a.items"),
])
def test_impossible_expectations_and_bad_schemas_name_the_field(tmp_path, params, expect, needle):
    with pytest.raises(InputError) as err:
        load_suite(_suite(tmp_path, params, expect))
    assert str(err.value).startswith(str(tmp_path / "s.toml")) and needle in str(err.value), str(err.value)


def test_case_hash_covers_messages_tools_and_expectation(tmp_path):
    base = load_suite(REFERENCE_SUITE)
    again = load_suite(REFERENCE_SUITE)
    assert [c.sha256 for c in base.cases] == [c.sha256 for c in again.cases]
    assert len({c.sha256 for c in base.cases}) == len(base.cases)
    text = REFERENCE_SUITE.read_text()
    edits = {"prompt": ("Type-check src/payments/ledger.py", "Type-check src/payments/other.py"),
             "tools": ("Run a shell command in the repository", "Run a command"),
             "expect": ('expect = { call = "execute_code" }', 'expect = "tool"')}  # the first is typecheck-1's
    for name, (old, new) in edits.items():
        assert old in text, name
        path = tmp_path / f"{name}.toml"
        path.write_text(text.replace(old, new, 1))
        edited = load_suite(path)
        changed = {c.id for c, e in zip(base.cases, edited.cases) if c.sha256 != e.sha256}
        assert changed == ({c.id for c in base.cases} if name == "tools" else {"typecheck-1"}), name


def test_import_harness_suite_does_not_import_jsonschema():
    from test_fast_start import imported_modules

    assert "jsonschema" not in imported_modules("-c", "import harness.suite")
