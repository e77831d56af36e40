"""Malformed input of every file kind, through the CLI: exit 2, one stderr line naming the file (or flag)
and what is wrong, never a traceback. Each row builds its input in tmp_path."""
import json
from pathlib import Path

import pytest

from conftest import REFERENCE_SUITE, run_cli
from harness.cli import main as cli_main
from replay_runs import make_run

TOOL = ('[[tools]]\nname = "get_weather"\ndescription = "Weather for a city"\n'
        'parameters = { type = "object", properties = { city = { type = "string" } }, required = ["city"] }\n')
CASE = ('[[cases]]\nid = "w1"\ncategory = "weather"\nprompt = "Weather in Oslo?"\n'
        'expect = { call = "get_weather", arguments = { city = "Oslo" } }\n')
GOOD_LINE = {"id": "w1", "category": "weather", "prompt": "Weather in Oslo?", "expect": "direct"}
MODEL = '[models.m]\nbackend = "replay"\nfile = "r.jsonl"\n'


def cli(argv: list[str]) -> int:
    """The CLI in process; argparse ends usage errors with SystemExit."""
    try:
        return cli_main(argv)
    except SystemExit as e:
        return e.code


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def tool_suite(params: str, expect: str = '{ call = "f" }') -> str:
    return (f'[[tools]]\nname = "f"\nparameters = {params}\n'
            f'[[cases]]\nid = "a"\ncategory = "c"\nprompt = "p"\nexpect = {expect}\n')


def validate(name: str, content: str | bytes):
    def build(tmp: Path):
        path = write(tmp / name, content)
        return ["validate", str(path)], str(path)
    return build


def run_with_models(content: str | bytes):
    def build(tmp: Path):
        path = write(tmp / "models.toml", content)
        return ["run", str(REFERENCE_SUITE), "--model", "m", "--models", str(path), "--run-dir", str(tmp / "run")], str(path)
    return build


def replay(content: str | bytes, name: str = "r.jsonl"):
    def build(tmp: Path):
        path = write(tmp / name, content)
        return ["run", str(REFERENCE_SUITE), "--replay", str(path), "--run-dir", str(tmp / "run")], str(path)
    return build


def replay_run(damage):
    """Replay a real run folder after `damage(run_dir)`; the file it damaged must be named."""
    def build(tmp: Path):
        run_dir = make_run(tmp / "orig")
        named = damage(run_dir)
        return ["run", str(REFERENCE_SUITE), "--replay", str(run_dir), "--run-dir", str(tmp / "run")], str(named)
    return build


def gate_rules(content: str | bytes | None):
    def build(tmp: Path):
        path = tmp / "rules.toml"
        if content is None:
            path.mkdir()
        else:
            write(path, content)
        return ["gate", str(make_run(tmp / "orig")), "--rules", str(path)], str(path)
    return build


def detect(content: str | bytes):
    def build(tmp: Path):
        path = write(tmp / "outputs.jsonl", content)
        return ["detect", str(path)], str(path)
    return build


def folder_as(command: str):
    """A folder where a file is expected."""
    def build(tmp: Path):
        folder = tmp / "a_folder.toml"
        folder.mkdir()
        argv = {"validate": ["validate", str(folder)],
                "models": ["run", str(REFERENCE_SUITE), "--model", "m", "--models", str(folder)],
                "replay": ["run", str(REFERENCE_SUITE), "--replay", str(folder), "--run-dir", str(tmp / "run")],
                "detect": ["detect", str(folder)]}[command]
        return argv, str(folder)
    return build


def missing(command: str):
    def build(tmp: Path):
        path = tmp / "absent.jsonl"
        argv = {"validate": ["validate", str(path)],
                "replay": ["run", str(REFERENCE_SUITE), "--replay", str(path), "--run-dir", str(tmp / "run")],
                "detect": ["detect", str(path)]}[command]
        return argv, str(path)
    return build


def oversized(tmp: Path):
    path = tmp / "huge.toml"
    with path.open("wb") as f:  # sparse: 40 MB on paper, nothing on disk
        f.truncate(40 * 2**20)
    return ["validate", str(path)], str(path)


def flag(*flags: str):
    def build(tmp: Path):
        replay_file = write(tmp / "r.jsonl", '{"id": "direct-1", "output": "x"}\n')
        return ["run", str(REFERENCE_SUITE), "--replay", str(replay_file), "--run-dir", str(tmp / "run"), *flags], flags[0]
    return build


def output_path(command: str, option: str, target: str):
    def build(tmp: Path):
        run_dir = make_run(tmp / "orig")
        rules = write(tmp / "gate.toml", "[overall]\nmin_accuracy = 0.5\n")
        out = tmp / target
        (tmp / "existing_folder").mkdir(exist_ok=True)
        argv = {"report": ["report", str(run_dir), option, str(out)],
                "diff": ["diff", str(run_dir), str(run_dir), option, str(out)],
                "gate": ["gate", str(run_dir), "--rules", str(rules), option, str(out)]}[command]
        return argv, str(out)
    return build


def read_run(command: str, damage):
    """`command` on a real run folder after `damage(run_dir)`; what it damaged must be named."""
    def build(tmp: Path):
        run_dir = make_run(tmp / "orig")
        named = damage(run_dir)
        rules = write(tmp / "gate.toml", "[overall]\nmin_accuracy = 0.5\n")
        argv = {"report": ["report", str(run_dir)], "diff": ["diff", str(run_dir), str(run_dir)],
                "gate": ["gate", str(run_dir), "--rules", str(rules)]}[command]
        return argv, str(named)
    return build


def latin1_line(run_dir: Path, line: int) -> str:
    path = run_dir / "results.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(b'"output": "', b'"output": "\xe9', 1)
    path.write_bytes(b"".join(lines))
    return f"{path}:{line}"


def folder_for(path: Path) -> Path:
    path.unlink()
    path.mkdir()
    return path


def cut_manifest(run_dir: Path) -> Path:
    path = run_dir / "manifest.json"
    path.write_text(path.read_text()[:40])
    return path


def list_manifest(run_dir: Path) -> Path:
    path = run_dir / "manifest.json"
    path.write_text("[1, 2]")
    return path


def edit_record(line: int, edit):
    def damage(run_dir: Path) -> Path:
        path = run_dir / "results.jsonl"
        lines = path.read_text().splitlines()
        lines[line - 1] = edit(json.loads(lines[line - 1]))
        path.write_text("\n".join(lines) + "\n")
        return f"{path}:{line}"
    return damage


def duplicate_record(run_dir: Path) -> str:
    path = run_dir / "results.jsonl"
    first = path.read_text().splitlines()[0]
    with path.open("a") as f:
        f.write(first + "\n")
    return f"{path}:{len(path.read_text().splitlines())}"


def other_suite_run(run_dir: Path) -> Path:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["suite"]["name"] = "another-suite"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir / "results.jsonl"


CASES = {
    # suites (TOML)
    "suite_latin1": (validate("s.toml", TOOL.encode() + CASE.replace("Oslo?", "Malm\xf6?").encode("latin-1")), "not UTF-8"),
    "suite_toml_depth_3000": (validate("s.toml", f"x = {nested(3000)}\n"), "nested too deep"),
    "suite_toml_depth_200": (validate("s.toml", f"x = {nested(200)}\n"), "nested more than 100 levels"),
    "suite_folder": (folder_as("validate"), "it is a folder"),
    "suite_missing": (missing("validate"), "no such file"),
    "suite_oversized": (oversized, "is over"),
    "suite_bad_toml": (validate("s.toml", "[[cases]\n"), "not valid TOML"),
    "schema_unknown_type": (validate("s.toml", tool_suite('{ type = "object", properties = { x = { type = "strin" } } }')),
                            "parameters.properties.x.type = 'strin' is not a type"),
    "schema_properties_list": (validate("s.toml", tool_suite('{ type = "object", properties = ["x"] }')),
                               "parameters.properties: ['x'] is not of type 'object'"),
    "schema_required_string": (validate("s.toml", tool_suite('{ type = "object", required = "x" }')),
                               "parameters.required: 'x' is not of type 'array'"),
    "schema_negative_min_length": (validate("s.toml", tool_suite('{ type = "object", properties = { x = { type = "string", minLength = -1 } } }')),
                                   "minLength"),
    "schema_not_object": (validate("s.toml", tool_suite('{ type = "string" }')), "must be an object schema"),
    "schema_toml_date": (validate("s.toml", tool_suite('{ type = "object", properties = { d = { default = 1979-05-27 } } }')),
                         "JSON cannot carry"),
    "duplicate_tool": (validate("s.toml", TOOL + TOOL + CASE), "('get_weather'): a second tool of that name"),
    "case_duplicate_tool": (validate("s.jsonl", json.dumps({**GOOD_LINE, "tools": [{"name": "f"}, {"name": "f"}]}) + "\n"),
                            "a second tool of that name"),
    "tool_description_number": (validate("s.toml", TOOL.replace('"Weather for a city"', "5") + CASE), "'description' must be a string"),
    "expect_undefined_tool": (validate("s.toml", TOOL + CASE.replace('call = "get_weather"', 'call = "get_wether"')),
                              "field 'expect.call': the case has no tool 'get_wether'"),
    "expect_unknown_argument": (validate("s.toml", TOOL + CASE.replace("city = \"Oslo\"", "town = \"Oslo\"")),
                                "field 'expect.arguments.town': tool 'get_weather' has no parameter 'town'"),
    "expect_call_without_tools": (validate("s.toml", CASE), "field 'expect' expects a tool call but the case offers no tools"),
    "expect_tool_without_tools": (validate("s.jsonl", json.dumps({**GOOD_LINE, "expect": "tool"}) + "\n"),
                                  "offers no tools"),
    "expect_any_of_undefined": (validate("s.toml", TOOL + CASE.replace('expect = { call = "get_weather", arguments = { city = "Oslo" } }',
                                                                      'expect = { any_of = ["direct", { call = "nope" }] }')),
                                "field 'expect.any_of[1].call': the case has no tool 'nope'"),
    "expect_calls_undefined": (validate("s.toml", TOOL + CASE.replace('expect = { call = "get_weather", arguments = { city = "Oslo" } }',
                                                                     'expect = { calls = [{ call = "get_weather" }, { call = "x" }] }')),
                               "field 'expect.calls[1].call'"),
    # suites (JSONL)
    "jsonl_suite_latin1": (validate("s.jsonl", (json.dumps(GOOD_LINE) + "\n" + json.dumps({**GOOD_LINE, "id": "w2"})
                                                .replace("Oslo", "Malm\xf6") + "\n").encode("latin-1")),
                           ":2: not UTF-8 (byte 0xf6 at byte offset"),
    "jsonl_suite_array_line": (validate("s.jsonl", "[1, 2]\n"), ":1: an array, not a JSON object"),
    "jsonl_suite_number_line": (validate("s.jsonl", json.dumps(GOOD_LINE) + "\n42\n"), ":2: a number, not a JSON object"),
    "jsonl_suite_depth_bomb": (validate("s.jsonl", nested(5000) + "\n"), ":1: JSON nested too deep"),
    "jsonl_suite_depth_200": (validate("s.jsonl", json.dumps({**GOOD_LINE, "tags": json.loads(nested(200))}) + "\n"), "nested more than 100"),
    # models.toml
    "models_latin1": (run_with_models(MODEL.encode() + b"# caf\xe9\n"), ":4: not UTF-8"),
    "models_max_tokens_negative": (run_with_models(MODEL + "max_tokens = -3\n"), "[models.m]: 'max_tokens' must be >= 1, got -3"),
    "models_max_tokens_zero": (run_with_models(MODEL + "max_tokens = 0\n"), "'max_tokens' must be >= 1, got 0"),
    "models_temperature_negative": (run_with_models(MODEL + "temperature = -1\n"), "'temperature' must be >= 0, got -1"),
    "models_temperature_nan": (run_with_models(MODEL + "temperature = nan\n"), "'temperature' must be a finite number"),
    "models_top_p_above_1": (run_with_models(MODEL + "top_p = 1.5\n"), "'top_p' must be > 0 and <= 1, got 1.5"),
    "models_top_p_zero": (run_with_models(MODEL + "top_p = 0\n"), "'top_p' must be > 0"),
    "models_seed_float": (run_with_models(MODEL + "seed = 1.5\n"), "'seed' must be an integer"),
    "models_eos_not_text": (run_with_models(MODEL + "extra_eos_tokens = [2]\n"), "'extra_eos_tokens' must list token texts"),
    "models_depth_bomb": (run_with_models(MODEL + f"x = {nested(3000)}\n"), "nested too deep"),
    "models_folder": (folder_as("models"), "it is a folder"),
    # gate rules
    "rules_latin1": (gate_rules(b"[overall]\n# \xff\nmin_accuracy = 0.5\n"), ":2: not UTF-8 (byte 0xff"),
    "rules_folder": (gate_rules(None), "it is a folder"),
    "rules_depth_bomb": (gate_rules(f"x = {nested(3000)}\n"), "nested too deep"),
    # replay files
    "replay_latin1": (replay(b'{"id": "direct-1", "output": "caf\xe9"}\n'), ":1: not UTF-8 (byte 0xe9 at byte offset 33, column 34"),
    "replay_duplicate_id": (replay('{"id": "direct-1", "output": "a"}\n{"id": "direct-2", "output": "b"}\n'
                                   '{"id": "direct-1", "output": "c"}\n'),
                            ":3: a second output for case 'direct-1' sample 0 (the first is on line 1)"),
    "replay_array_line": (replay("[1]\n"), ":1: an array, not a JSON object"),
    "replay_latency_string": (replay('{"id": "direct-1", "output": "a", "latency_s": "fast"}\n'), "'latency_s' must be"),
    "replay_sample_string": (replay('{"id": "direct-1", "output": "a", "sample": "1"}\n'), "field 'sample' must be int"),
    "replay_sample_negative": (replay('{"id": "direct-1", "output": "a", "sample": -1}\n'), "a sample and turn of 0 or more"),
    "replay_no_output": (replay('{"id": "direct-1"}\n'), "a non-empty id, an output, and a sample and turn of 0 or more"),
    "replay_empty": (replay("\n"), "no recorded outputs"),
    "replay_other_suite_ids": (replay('{"id": "weather-1", "output": "a"}\n{"id": "weather-2", "output": "b"}\n'),
                               "none of its 2 recorded case ids is a case of suite 'coding-tools'"),
    "replay_folder_without_results": (folder_as("replay"), "it is a folder"),
    "replay_missing": (missing("replay"), "no such file"),
    "replay_run_of_other_suite": (replay_run(other_suite_run), "a run of suite 'another-suite', not of 'coding-tools'"),
    "replay_run_cut_manifest": (replay_run(cut_manifest), "delete it"),
    "replay_run_list_manifest": (replay_run(list_manifest), "damaged manifest (a manifest must be a JSON object"),
    "replay_run_record_array": (replay_run(edit_record(3, lambda r: "[1, 2]")), "an array, not a JSON object"),
    "replay_run_record_no_passed": (replay_run(edit_record(2, lambda r: json.dumps({k: v for k, v in r.items() if k != "passed"}))),
                                    "no 'passed' field; a damaged record"),
    "replay_run_record_sample_text": (replay_run(edit_record(1, lambda r: json.dumps({**r, "sample": "0"}))),
                                      "field 'sample' must be int"),
    "replay_run_duplicate": (replay_run(duplicate_record), "a second record for case 'typecheck-1' sample 0"),
    # run folders handed to report, diff and gate
    "report_record_array": (read_run("report", edit_record(5, lambda r: "[1]")), "damaged record"),
    "report_cut_manifest": (read_run("report", cut_manifest), "delete it"),
    "diff_record_sample_text": (read_run("diff", edit_record(2, lambda r: json.dumps({**r, "sample": "x"}))), "damaged record"),
    "gate_record_latin1": (read_run("gate", lambda d: latin1_line(d, 3)), "damaged record"),
    "report_manifest_depth_bomb": (read_run("report", lambda d: write(d / "manifest.json", nested(5000))), "nested too deep"),
    "report_results_is_folder": (read_run("report", lambda d: folder_for(d / "results.jsonl")), "it is a folder"),
    # detect input
    "detect_latin1": (detect(b'{"output": "ok"}\n{"output": "\xe9"}\n'), ":2: not UTF-8 (byte 0xe9 at byte offset 29, column 13"),
    "detect_folder": (folder_as("detect"), "it is a folder"),
    "detect_missing": (missing("detect"), "no such file"),
    "detect_depth_bomb": (detect(nested(4000) + "\n"), "nested too deep"),
    # numeric flags
    "flag_samples_zero": (flag("--samples", "0"), "argument --samples: must be >= 1, got 0"),
    "flag_max_tokens_zero": (flag("--max-tokens", "0"), "argument --max-tokens: must be >= 1, got 0"),
    "flag_max_tokens_negative": (flag("--max-tokens", "-5"), "got -5"),
    "flag_batch_size_zero": (flag("--batch-size", "0"), "argument --batch-size: must be >= 1"),
    "flag_concurrency_negative": (flag("--concurrency", "-1"), "argument --concurrency: must be >= 1"),
    # output paths
    "report_output_missing_folder": (output_path("report", "-o", "no_such_dir/r.md"), "no_such_dir does not exist"),
    "report_output_is_folder": (output_path("report", "-o", "existing_folder"), "-o names a folder"),
    "diff_output_missing_folder": (output_path("diff", "-o", "nope/d.md"), "nope does not exist"),
    "gate_junit_missing_folder": (output_path("gate", "--junit", "nope/junit.xml"), "give --junit another path"),
    "gate_summary_missing_folder": (output_path("gate", "--summary", "nope/summary.md"), "give --summary another path"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_input_is_one_line_exit_2(tmp_path, capsys, name):
    build, needle = CASES[name]
    argv, named = build(tmp_path)
    capsys.readouterr()  # what building the input printed
    assert cli(argv + (["--quiet"] if argv[0] == "run" else [])) == 2  # an exception here is a traceback
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and named in lines[0] and needle in lines[0], lines[0]


def test_table_covers_forty_kinds():
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", ["suite_toml_depth_3000", "jsonl_suite_latin1", "replay_run_cut_manifest",
                                  "detect_latin1", "models_max_tokens_negative"])
def test_in_a_real_process_no_traceback(tmp_path, name):
    build, needle = CASES[name]
    argv, named = build(tmp_path)
    r = run_cli(*argv)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and named in r.stderr and needle in r.stderr, r.stderr


def test_stdin_of_detect_is_strict_utf8(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    r = subprocess.run([sys.executable, "-m", "harness.cli", "detect", "-"], input=b'{"output": "\xe9"}\n',
                       capture_output=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2 and b"<stdin>:1: not UTF-8" in r.stderr and b"Traceback" not in r.stderr


def test_nothing_is_written_for_refused_input(tmp_path):
    """A refused models.toml or flag leaves no run folder behind (checked before anything starts)."""
    build, _ = CASES["flag_samples_zero"]
    argv, _ = build(tmp_path)
    assert cli(argv) == 2
    assert not (tmp_path / "run").exists()


def test_bfcl_import_drops_cases_no_output_can_pass():
    """BFCL has a few answers naming a parameter their function lacks: imported, validate would refuse the suite."""
    from harness.bfcl import BfclCase, possible_cases

    tools = [{"name": "f", "description": "", "parameters": {"type": "object", "properties": {"a": {}}}}]
    good = BfclCase({"id": "ok", "tools": tools, "expect": {"call": "f", "arguments": {"a": 1}}}, [])
    optional = BfclCase({"id": "opt", "tools": tools,
                         "expect": {"call": "f", "arguments": {"b": {"one_of": [""], "optional": True}}}}, [])
    bad = BfclCase({"id": "bad", "tools": tools, "expect": {"call": "f", "arguments": {"b": 1}}}, [])
    kept, dropped = possible_cases([good, bad, optional])
    assert kept == [good, optional]
    assert len(dropped) == 1 and dropped[0].startswith("case 'bad': field 'expect.arguments.b'")
