import argparse
import importlib.util
import json
import os
import shutil
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from harness.commands import import_suite as import_cmd
from harness.bfcl import CATEGORIES, hermes_output, load_bfcl, to_json_schema
from harness.detect.base import ToolCall
from harness.errors import InputError
from harness.expect import parse_expectation
from harness.scoring import score

DATA = Path(__file__).parent / "data" / "bfcl"
FIXTURE_COUNTS = {"simple_python": 4, "multiple": 2, "parallel": 1, "parallel_multiple": 1, "irrelevance": 2,
                  "live_simple": 2, "live_multiple": 1, "live_irrelevance": 1, "live_relevance": 1}


@pytest.fixture(scope="module")
def imported():
    return {item.case["id"]: item for item in load_bfcl(str(DATA), list(FIXTURE_COUNTS))}


def judge(case, text):
    from harness.detect import detect
    return score(parse_expectation(case["expect"], case["id"]), detect(text, case["tools"]), case["tools"], output=text)


# ground truth as different model families would write it
def qwen3_coder_xml(calls):
    def value(v):
        return v if isinstance(v, str) else json.dumps(v)
    return "\n".join(
        f"<tool_call>\n<function={c.name}>\n"
        + "".join(f"<parameter={k}>\n{value(v)}\n</parameter>\n" for k, v in c.arguments.items())
        + "</function>\n</tool_call>" for c in calls)


def pythonic(calls):
    return "[" + ", ".join(f"{c.name}({', '.join(f'{k}={v!r}' for k, v in c.arguments.items())})"
                           for c in calls) + "]"


def openai_native(calls):
    return json.dumps({"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call_{i}", "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
        for i, c in enumerate(calls)]})


def test_imports_every_fixture_category(imported):
    assert Counter(item.case["category"] for item in imported.values()) == FIXTURE_COUNTS
    case = imported["live_simple_0-0-0"].case
    assert list(case) == ["id", "category", "messages", "tools", "expect"]
    assert [m["role"] for m in case["messages"]] == ["system", "user"]
    assert imported["irrelevance_0"].case["expect"] == {"any_of": ["answer", "decline", "ask"]}
    assert imported["live_relevance_0-0-0"].case["expect"] == "tool"


def test_function_docs_become_json_schema(imported):
    params = imported["simple_python_3"].case["tools"][0]["parameters"]
    assert params["type"] == "object"
    assert params["properties"]["location"] == {"type": "array", "description": "A tuple.", "items": {"type": "number"}}
    assert params["properties"]["kind"]["type"] == "string"  # BFCL renders "any" as string too
    body = imported["live_simple_0-0-0"].case["tools"][0]["parameters"]["properties"]["body"]
    assert body["type"] == "object" and body["properties"]["targetTemperature"]["type"] == "integer"
    items = imported["live_simple_1-1-0"].case["tools"][0]["parameters"]["properties"]["items"]["items"]
    assert items["type"] == "object" and items["properties"]["item"]["type"] == "string"
    assert to_json_schema({"type": "dict", "properties": {"x": {"description": "untyped"}}}) == \
        {"type": "object", "properties": {"x": {"type": "string", "description": "untyped"}}}


def test_expectations_follow_bfcl_rules(imported):
    args = imported["simple_python_0"].case["expect"]["arguments"]
    assert args["unit"] == {"one_of": ["units", ""], "normalize": "bfcl", "optional": True}
    assert args["base"] == {"one_of": [10]}  # numbers are compared as numbers, not standardized strings
    body = imported["live_simple_0-0-0"].case["expect"]["arguments"]["body"]
    assert body["fields"]["currentJobMode"] == {"one_of": ["COOL", ""], "normalize": "bfcl", "optional": True}
    items = imported["live_simple_1-1-0"].case["expect"]["arguments"]["items"]
    assert [i["fields"]["quantity"]["one_of"] for i in items["items"]] == [[5], [6]]
    assert len(imported["parallel_0"].case["expect"]["calls"]) == 2
    assert imported["simple_python_0"].truth == [ToolCall("calculate_triangle_area", {"base": 10, "height": 5, "unit": "units"})]


def test_a_required_parameter_stays_required_even_with_an_empty_answer(tmp_path):
    data = _copy_data(tmp_path)
    record = {"id": "simple_python_9", "question": [[{"role": "user", "content": "hi"}]], "function": [
        {"name": "f", "parameters": {"type": "dict", "properties": {"a": {"type": "string"}}, "required": ["a"]}}]}
    _append(data / "BFCL_v4_simple_python.json", record)
    _append(data / "possible_answer" / "BFCL_v4_simple_python.json", {"id": "simple_python_9", "ground_truth": [{"f": {"a": ["", "x"]}}]})
    case = next(i.case for i in load_bfcl(str(data), ["simple_python"]) if i.case["id"] == "simple_python_9")
    assert "optional" not in case["expect"]["arguments"]["a"]


@pytest.mark.parametrize("render", [hermes_output, qwen3_coder_xml, pythonic, openai_native])
def test_ground_truth_passes_in_every_format(imported, render):
    for item in imported.values():
        text = render(item.truth) if item.truth else hermes_output([])
        v = judge(item.case, text)
        assert (v.passed, v.detail) == (True, ""), (item.case["id"], text)


def test_alternative_answers_pass(imported):
    text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "new york ny", "metric": true}}\n</tool_call>'
    assert judge(imported["multiple_0"].case, text).passed
    text = hermes_output([ToolCall("add_tags", {"note_id": 7, "tags": ["urgent", "work"]}),
                          ToolCall("send_email", {"to": "bob@example.com", "subject": "tagged"})][::-1])
    assert judge(imported["parallel_multiple_0"].case, text).passed
    text = hermes_output([ToolCall("convert_temperature", {"value": 98.6, "from_unit": "F", "to_unit": "C"})])
    assert judge(imported["simple_python_2"].case, text).passed


@pytest.mark.parametrize("case_id, calls, level, reason", [
    ("simple_python_1", [ToolCall("math.gamma", {"number": 5})], "tool", "wrong_tool"),
    ("simple_python_0", [ToolCall("calculate_triangle_area", {"base": 10})], "call", "missing_argument"),
    ("simple_python_1", [ToolCall("math.factorial", {"number": 5, "exact": True})], "call", "unexpected_argument"),
    ("simple_python_1", [ToolCall("math.factorial", {"number": "5"})], "call", "wrong_type"),
    ("simple_python_1", [ToolCall("math.factorial", {"number": 6})], "call", "wrong_value"),
    ("live_simple_0-0-0", [ToolCall("ThinQ_Connect", {"body": {"airConOperationMode": "POWER_OFF"}})], "call", "wrong_value"),
    ("parallel_0", [ToolCall("spotify.play", {"artist": "Taylor Swift", "duration": 20})], "tool", "wrong_count"),
    ("multiple_1", [ToolCall("get_stock_price", {"ticker": "AAPL"})] * 2, "tool", "wrong_count"),
    ("irrelevance_0", [ToolCall("calculate_triangle_area", {"base": 1, "height": 1})], "decision", "unexpected_call"),
    ("live_relevance_0-0-0", [], "decision", "no_call"),
])
def test_wrong_answers_fail_at_the_right_level(imported, case_id, calls, level, reason):
    v = judge(imported[case_id].case, hermes_output(calls))
    assert (v.passed, v.level, v.reason) == (False, level, reason), v.detail


def test_cli_writes_suites_and_ground_truth(tmp_path):
    parser = argparse.ArgumentParser()
    import_cmd.add_arguments(parser)
    args = parser.parse_args(["bfcl", "--data", str(DATA), "--category", "simple_python,parallel",
                              "--category", "irrelevance", "-o", str(tmp_path / "suites"),
                              "--ground-truth", str(tmp_path / "gt.jsonl")])
    assert import_cmd.main(args) == 0
    suite = _read_jsonl(tmp_path / "suites" / "bfcl_parallel.jsonl")
    assert [c["id"] for c in suite] == ["parallel_0"]
    truth = _read_jsonl(tmp_path / "gt.jsonl")
    assert len(truth) == 7 and truth[0] == {"id": "simple_python_0", "output": hermes_output(
        [ToolCall("calculate_triangle_area", {"base": 10, "height": 5, "unit": "units"})])}
    args = parser.parse_args(["bfcl", "--data", str(DATA), "--category", "multiple", "-o", str(tmp_path / "one.jsonl")])
    import_cmd.main(args)
    assert len(_read_jsonl(tmp_path / "one.jsonl")) == 2


def test_data_from_a_wheel_an_unpacked_wheel_or_the_installed_package(tmp_path, monkeypatch):
    wheel = tmp_path / "bfcl_eval-1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path in DATA.rglob("*.json"):
            z.write(path, f"bfcl_eval/data/{path.relative_to(DATA).as_posix()}")
    unpacked = tmp_path / "site"
    shutil.copytree(DATA, unpacked / "bfcl_eval" / "data")
    (unpacked / "bfcl_eval" / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    expected = [i.case for i in load_bfcl(str(DATA), ["multiple"])]
    assert [i.case for i in load_bfcl(str(wheel), ["multiple"])] == expected
    assert [i.case for i in load_bfcl(str(unpacked), ["multiple"])] == expected
    monkeypatch.syspath_prepend(str(unpacked))
    importlib.invalidate_caches()
    assert [i.case for i in load_bfcl(None, ["multiple"])] == expected


@pytest.mark.parametrize("damage, words", [
    (lambda d: _append(d / "BFCL_v4_multiple.json", "{not json"), "BFCL_v4_multiple.json:3: not valid JSON"),
    (lambda d: _append(d / "BFCL_v4_multiple.json", {"question": []}), "BFCL_v4_multiple.json: line 3: no 'id'"),
    (lambda d: _append(d / "possible_answer" / "BFCL_v4_multiple.json", {"id": "multiple_7", "ground_truth": []}),
     "possible_answer/BFCL_v4_multiple.json: line 3: case 'multiple_7': answer without a question"),
    (lambda d: _append(d / "BFCL_v4_multiple.json", {"id": "multiple_8", "question": [[{"role": "user", "content": "x"}]], "function": []}),
     "BFCL_v4_multiple.json: line 3: case 'multiple_8': no answer"),
    (lambda d: _append(d / "BFCL_v4_multiple.json", {"id": "multiple_0"}), "line 3: case 'multiple_0' appears twice"),
    (lambda d: (d / "possible_answer" / "BFCL_v4_multiple.json").unlink(), "possible_answer/BFCL_v4_multiple.json is missing"),
    (lambda d: (d / "possible_answer" / "BFCL_v4_multiple.json").write_text('{"id": "multiple_0"}\n'),
     "possible_answer/BFCL_v4_multiple.json: line 1: case 'multiple_0': field 'ground_truth' is missing"),
])
def test_malformed_files_name_file_line_and_case(tmp_path, damage, words):
    data = _copy_data(tmp_path)
    damage(data)
    with pytest.raises(InputError, match=words.replace("(", r"\(")):
        load_bfcl(str(data), ["multiple"])


def test_unknown_category_and_missing_data(tmp_path):
    with pytest.raises(InputError, match="category 'simple_java' is not supported .* use one of irrelevance, "):
        load_bfcl(str(DATA), ["simple_java"])
    with pytest.raises(InputError, match="no BFCL data here"):
        load_bfcl(str(tmp_path), ["simple_python"])


def _real_data() -> str | None:
    if os.environ.get("BFCL_WHEEL"):
        return os.environ["BFCL_WHEEL"]
    return None if importlib.util.find_spec("bfcl_eval") is None else ""


@pytest.mark.skipif(_real_data() is None, reason="no BFCL data: set BFCL_WHEEL to a bfcl-eval .whl or data folder, "
                                                 "or install bfcl-eval")
def test_real_bfcl_ground_truth_scores_100_percent():
    items = load_bfcl(_real_data() or None, list(CATEGORIES))
    counts = Counter(item.case["category"] for item in items)
    assert set(counts) == set(CATEGORIES) and counts["simple_python"] >= 100
    failures = [(item.case["id"], v.detail) for item in items
                if not (v := judge(item.case, hermes_output(item.truth))).passed]
    print(dict(counts), f"{len(items) - len(failures)}/{len(items)} ground-truth answers pass")
    assert failures == []


def _copy_data(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DATA, tmp_path / "data"))


def _append(path: Path, record) -> None:
    with path.open("a") as f:
        f.write((record if isinstance(record, str) else json.dumps(record)) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]
