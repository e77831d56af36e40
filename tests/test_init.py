"""`harness init`: the starter suite holds the user's tools exactly, a tool case per tool and direct
cases, passes `harness validate`, and its models.toml entry resolves; bad input is a one-line error."""
import json
import tomllib

import pytest

from conftest import REFERENCE_SUITE, run_cli
from harness.models import resolve_model
from harness.suite import load_suite

TOOLS = [
    {"name": "get_weather", "description": 'Get the weather for a city ("now" or a date), e.g. Zürich\\Genève.',
     "parameters": {"type": "object", "properties": {
         "city": {"type": "string", "description": "City name\nwith a line break"},
         "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
         "days": {"type": "integer", "minimum": 1, "maximum": 7},
         "ratio": {"type": "number", "exclusiveMinimum": 0.5},
         "strict": {"type": "boolean", "default": False},
         "filters": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
         "from date": {"type": "string"}}, "required": ["city"]}},
    {"name": "book-flight", "description": "Book a flight.", "parameters": {"type": "object", "properties": {}}},
    {"name": "ping", "description": ""},
]


def _flat(tools):
    return [{"name": t["name"], "description": t.get("description", ""),
             "parameters": t.get("parameters", {"type": "object", "properties": {}})} for t in tools]


def _check_starter(out, tools):
    suite = load_suite(out / "suite.toml")
    assert suite.cases[0].tools == _flat(tools)  # every definition round-trips exactly through TOML
    tool_cases = [c for c in suite.cases if c.expect_raw != "direct"]
    assert [c.expect_raw for c in tool_cases] == [{"call": t["name"]} for t in tools]
    assert len([c for c in suite.cases if c.expect_raw == "direct"]) >= 2
    r = run_cli("validate", str(out / "suite.toml"))
    assert r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr
    return suite


def test_flat_tools_and_a_model_folder(tmp_path, demo_model):
    (tmp_path / "tools.json").write_text(json.dumps(TOOLS))
    out = tmp_path / "my eval"
    r = run_cli("init", "--tools", str(tmp_path / "tools.json"), "--model-path", str(demo_model), "-o", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    _check_starter(out, TOOLS)
    spec = resolve_model("my-eval", out / "models.toml")
    assert spec.backend == "mlx" and spec.options["path"] == str(demo_model.resolve())
    assert f"--model my-eval --models {out / 'models.toml'}" in r.stdout


def test_openai_tools_and_a_server(tmp_path):
    body = {"model": "x", "tools": [{"type": "function", "function": t} for t in TOOLS]}
    (tmp_path / "request.json").write_text(json.dumps(body))
    out = tmp_path / "srv"
    r = run_cli("init", "--openai-tools", str(tmp_path / "request.json"), "--base-url", "http://127.0.0.1:8080/v1",
                "--server-model", "qwen2.5-7b", "--name", "local", "-o", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    _check_starter(out, TOOLS)
    spec = resolve_model("local", out / "models.toml")
    assert (spec.backend, spec.options["base_url"], spec.options["model"]) == ("openai", "http://127.0.0.1:8080/v1", "qwen2.5-7b")


def test_starter_runs_end_to_end_on_the_demo_model(tmp_path, demo_model):
    """No tools and no model given: an example tool and the demo model, and a first report."""
    r = run_cli("init", "-o", str(tmp_path / "s"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert tomllib.loads((tmp_path / "s" / "models.toml").read_text())["models"]["s"]["path"] == "demo"
    r = run_cli("run", str(tmp_path / "s" / "suite.toml"), "--model", "s", "--models", str(tmp_path / "s" / "models.toml"),
                "--run-dir", str(tmp_path / "run"), "--quiet", "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["overall"]["total"] == len(load_suite(tmp_path / "s" / "suite.toml").cases)


@pytest.mark.parametrize("content, flag, message", [
    ("not json", "--tools", "not valid JSON"),
    ("[]", "--tools", "expected a non-empty JSON list"),
    ('[{"description": "no name"}]', "--tools", "tool [0]: needs a 'name'"),
    ('[{"name": "a"}, {"name": "a"}]', "--tools", "tool [1]: duplicate tool name 'a'"),
    ('[{"name": "a", "parameters": {"type": "object", "properties": {"x": {"default": null}}}}]', "--tools",
     "parameters.properties.x.default: holds a null"),
    ('[{"name": "a"}]', "--openai-tools", 'an OpenAI tool is {"type": "function"'),
])
def test_bad_tools_files(tmp_path, content, flag, message):
    (tmp_path / "tools.json").write_text(content)
    r = run_cli("init", flag, str(tmp_path / "tools.json"), "-o", str(tmp_path / "out"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr and str(tmp_path / "tools.json") in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()


def test_bad_arguments(tmp_path):
    r = run_cli("init", "--tools", str(tmp_path / "missing.json"), "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and "missing.json: no such tools file" in r.stderr
    r = run_cli("init", "--model-path", str(tmp_path), "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and "not a model folder (no config.json)" in r.stderr
    r = run_cli("init", "--base-url", "localhost:8080", "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and "give an http(s) URL" in r.stderr
    r = run_cli("init", "--tools", "a.json", "--openai-tools", "b.json", "-o", str(tmp_path / "out"))
    assert r.returncode == 2 and "not allowed with argument" in r.stderr
    assert run_cli("init", "-o", str(tmp_path / "out")).returncode == 0
    r = run_cli("init", "-o", str(tmp_path / "out"))  # never overwrites a suite someone may have edited
    assert r.returncode == 2 and "suite.toml: already exists; pass --force" in r.stderr
    assert run_cli("init", "-o", str(tmp_path / "out"), "--force").returncode == 0


def test_reference_tools_make_a_starter(tmp_path):
    """The reference suite's own tools, as a user would export them."""
    tools = load_suite(REFERENCE_SUITE).cases[0].tools
    (tmp_path / "tools.json").write_text(json.dumps(tools))
    assert run_cli("init", "--tools", str(tmp_path / "tools.json"), "-o", str(tmp_path / "ref")).returncode == 0
    suite = _check_starter(tmp_path / "ref", tools)
    assert {c.category for c in suite.cases} == {t["name"] for t in tools} | {"direct"}
