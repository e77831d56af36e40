"""Import Berkeley Function Calling Leaderboard (BFCL) categories as JSONL suites.

BFCL ships questions as `BFCL_v4_<category>.json` and answers as `possible_answer/BFCL_v4_<...>.json`,
both JSON Lines. An answer lists, per call, each parameter's acceptable values; "" among them means
the parameter may be omitted. The expectations written here mirror BFCL's AST checker
(bfcl_eval/eval_checker/ast_eval/ast_checker.py): normalized string comparison, int accepted for
float, dict parameters checked key by key, parallel calls matched in any order.
"""
import importlib.util
import json
import re
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

from harness.calls import ToolCall
from harness.errors import InputError
from harness.expect import parse_expectation
from harness.jsonl import json_lines
from harness.toolschema import check_expectation
from harness.userfiles import decode, read_text

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance",
              "live_simple", "live_multiple", "live_parallel", "live_parallel_multiple",
              "live_irrelevance", "live_relevance")
DIRECT_CATEGORIES = ("irrelevance", "live_irrelevance")  # the right answer is not to call
# What an irrelevance case expects: "reply" = any reply but a call (an answer, a refusal or a
# question; not an empty or unclear one); "bfcl" = BFCL's own rule, where anything that does not
# decode as a call passes, a malformed call included.
IRRELEVANCE_RULES = {"reply": {"any_of": ["answer", "decline", "ask"]}, "bfcl": {"any_of": ["direct", "malformed"]}}
ANY_CALL_CATEGORIES = ("live_relevance",)  # any call is right; BFCL has no answer file for it

# BFCL's GORILLA_TO_OPENAPI (bfcl_eval/constants/type_mappings.py); other types become string, as there
TYPE_MAP = {
    "integer": "integer", "number": "number", "float": "number", "string": "string",
    "boolean": "boolean", "bool": "boolean", "array": "array", "list": "array", "dict": "object",
    "object": "object", "tuple": "array", "any": "string", "byte": "integer", "short": "integer",
    "long": "integer", "double": "number", "char": "string", "ArrayList": "array", "Array": "array",
    "HashMap": "object", "Hashtable": "object", "Queue": "array", "Stack": "array", "Any": "string",
    "String": "string", "Bigint": "integer",
}
FILE_NAME = re.compile(r"BFCL_v(\d+)_(\w+)\.json$")


@dataclass
class BfclCase:
    """One imported BFCL case: its suite line and the calls that answer it."""
    case: dict  # one suite line: id, category, messages, tools, expect
    truth: list[ToolCall]  # each parameter's first acceptable value; [] where no call is right


def possible_cases(items: list[BfclCase]) -> tuple[list[BfclCase], list[str]]:
    """The cases some output can pass, and why each other one cannot (a few BFCL answers name a
    parameter their function does not declare, which BFCL's own checker also fails)."""
    kept, dropped = [], []
    for item in items:
        where = f"case {item.case['id']!r}"
        try:
            check_expectation(parse_expectation(item.case["expect"], where), item.case["tools"], where)
            kept.append(item)
        except InputError as e:
            dropped.append(str(e))
    return kept, dropped


def load_bfcl(data: str | None, categories: list[str], irrelevance: str = "reply") -> list[BfclCase]:
    """Read the categories from a bfcl_eval/data folder, an unpacked wheel, a .whl, or the installed package;
    `irrelevance` names the rule of IRRELEVANCE_RULES the irrelevance categories expect."""
    label, files = data_files(data)
    cases = []
    for category in categories:
        cases += import_category(label, files, category, irrelevance)
    return cases


def data_files(data: str | None) -> tuple[str, dict[str, Callable[[], str]]]:
    """(a label for messages, relative path -> loader) for every file under bfcl_eval/data."""
    if data is None:
        spec = importlib.util.find_spec("bfcl_eval")  # locates the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise InputError("bfcl_eval is not installed; pass --data with a bfcl_eval/data folder, an unpacked "
                             "wheel or a .whl file (pip download --no-deps bfcl-eval)")
        data = str(Path(spec.submodule_search_locations[0]) / "data")
    path = Path(data)
    if path.is_file() and zipfile.is_zipfile(path):
        return _zip_files(path)
    for folder in (path, path / "bfcl_eval" / "data"):
        if (folder / "possible_answer").is_dir():
            return str(folder), {p.relative_to(folder).as_posix(): partial(read_text, p, "BFCL data file")
                                 for p in folder.rglob("*.json")}
    raise InputError(f"{data}: no BFCL data here (no possible_answer folder); pass --data with bfcl_eval/data, "
                     "an unpacked bfcl-eval wheel or the .whl file")


def _zip_files(path: Path) -> tuple[str, dict[str, Callable[[], str]]]:
    archive = zipfile.ZipFile(path)
    files = {}
    for name in archive.namelist():
        head, sep, rest = name.partition("bfcl_eval/data/")
        if sep and rest.endswith(".json"):
            files[rest] = lambda name=name: decode(archive.read(name), f"{path}!{name}")
    if not files:
        raise InputError(f"{path}: no bfcl_eval/data/ inside; pass the bfcl-eval wheel or its data folder")
    return f"{path}!bfcl_eval/data", files


def import_category(label: str, files: dict[str, Callable[[], str]], category: str,
                    irrelevance: str = "reply") -> list[BfclCase]:
    versions = {int(m[1]): name for name in files
                if (m := FILE_NAME.fullmatch(name)) and m[2] == category}
    if category not in CATEGORIES or not versions:
        available = sorted({m[2] for name in files if (m := FILE_NAME.fullmatch(name))} & set(CATEGORIES))
        raise InputError(f"{label}: category {category!r} is not supported or not in this data; "
                         f"use one of {', '.join(available) or 'none found'}")
    name = versions[max(versions)]
    questions = _read_jsonl(label, name, files[name]())
    answers: dict[str, list] = {}
    if category not in DIRECT_CATEGORIES + ANY_CALL_CATEGORIES:
        answer_name = f"possible_answer/{name}"
        if answer_name not in files:
            raise InputError(f"{label}: {answer_name} is missing; use a complete bfcl_eval/data folder")
        ids = {q["id"] for _, q in questions}
        for line, record in _read_jsonl(label, answer_name, files[answer_name]()):
            where = f"{label}/{answer_name}: line {line}: case {record['id']!r}"
            if record["id"] not in ids:
                raise InputError(f"{where}: answer without a question in {name}; use matching BFCL files")
            answers[record["id"]] = _field(record, "ground_truth", list, where)
    return [_convert(category, record, answers, f"{label}/{name}: line {line}: case {record['id']!r}", irrelevance)
            for line, record in questions]


def _read_jsonl(label: str, name: str, text: str) -> list[tuple[int, dict]]:
    records, seen = [], set()
    for number, record in json_lines(text.splitlines(), f"{label}/{name}", "use an unmodified BFCL file"):
        where = f"{label}/{name}: line {number}"
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise InputError(f"{where}: no 'id' string; every BFCL line needs one")
        if record["id"] in seen:
            raise InputError(f"{where}: case {record['id']!r} appears twice; ids must be unique")
        seen.add(record["id"])
        records.append((number, record))
    return records


def _convert(category: str, record: dict, answers: dict[str, list], where: str, irrelevance: str) -> BfclCase:
    turns = _field(record, "question", list, where)
    if not turns or not isinstance(turns[0], list) or not turns[0]:
        raise InputError(f"{where}: field 'question' has no first turn; expected [[{{role, content}}, …]]")
    docs = _field(record, "function", list, where)
    if not all(isinstance(doc, dict) and isinstance(doc.get("name"), str) for doc in docs):
        raise InputError(f"{where}: field 'function' has an entry without a 'name'; use an unmodified BFCL file")
    tools = [to_tool(doc) for doc in docs]
    case = {"id": record["id"], "category": category, "messages": turns[0], "tools": tools}
    if category in DIRECT_CATEGORIES:
        return BfclCase({**case, "expect": IRRELEVANCE_RULES[irrelevance]}, [])
    if category in ANY_CALL_CATEGORIES:
        return BfclCase({**case, "expect": "tool"}, [ToolCall(docs[0]["name"], {})])
    if record["id"] not in answers:
        raise InputError(f"{where}: no answer in possible_answer; use matching BFCL files")
    by_name = {doc["name"]: doc.get("parameters", {}) for doc in docs}
    calls, truth = [], []
    for answer in answers[record["id"]]:
        if not isinstance(answer, dict) or len(answer) != 1:
            raise InputError(f"{where}: answer {answer!r} is not {{function: {{param: [values]}}}}")
        (name, params), = answer.items()
        if name not in by_name:
            raise InputError(f"{where}: answer calls {name!r}, which is not among the case's functions")
        schema = by_name[name]
        required = schema.get("required", [])
        props = schema.get("properties", {})
        calls.append({"call": name, "arguments": {
            param: _param_matcher(vals, props.get(param, {}), param in required, f"{where}: {name}.{param}")
            for param, vals in params.items()}})
        truth.append(ToolCall(name, _first_values(params, required, props)))
    expect = calls[0] if len(calls) == 1 else {"calls": calls}
    return BfclCase({**case, "expect": expect}, truth)


def to_tool(doc: dict) -> dict:
    """A BFCL function doc (which has a string "name") as a suite tool with a JSON-schema `parameters`."""
    return {"name": doc["name"], "description": doc.get("description", ""),
            "parameters": to_json_schema(doc.get("parameters", {}))}


def to_json_schema(schema: dict) -> dict:
    """BFCL function docs use Python and Java type names ("dict", "float", "tuple"): map to JSON Schema."""
    out = dict(schema)
    if isinstance(out.get("type"), str):
        out["type"] = TYPE_MAP.get(out["type"], "string")
    if isinstance(out.get("properties"), dict):
        # a property without a type is a string to BFCL too
        out["properties"] = {key: to_json_schema({"type": "string", **prop}) if isinstance(prop, dict) else prop
                             for key, prop in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = to_json_schema(out["items"])
    return out


def _param_matcher(vals: list, schema: dict, required: bool, where: str) -> dict:
    if not isinstance(vals, list):
        raise InputError(f"{where}: expected a list of acceptable values, got {vals!r}")
    if not vals:
        # a few parameters list no value at all (live_simple_106, 112), which BFCL can never pass;
        # read it as "an empty list, or leave it out"
        return {"one_of": [[]], "optional": True}
    nested = [v for v in vals if _is_nested(v, schema)]
    if nested:
        if len(nested) > 1 or any(v != "" and v not in nested for v in vals):
            raise InputError(f"{where}: several alternative objects for one parameter are not supported; "
                             "skip this category or file an issue")
        raw = _nested_matcher(nested[0], where)
    else:
        raw = {"one_of": vals}
        # BFCL standardizes strings of string, list and dict parameters, not a variable name given for a number
        if schema.get("type") not in ("integer", "float", "boolean"):
            raw["normalize"] = "bfcl"
    # BFCL rejects a missing required parameter even when "" is among its values
    if "" in vals and not required:
        raw["optional"] = True
    return raw


def _is_nested(value, schema: dict) -> bool:
    """BFCL compares dict parameters (and lists of dicts) key by key, each key with its own value list."""
    if schema.get("type") == "dict":
        return isinstance(value, dict)
    return (schema.get("type") in ("array", "list") and (schema.get("items") or {}).get("type") == "dict"
            and isinstance(value, list) and all(isinstance(v, dict) for v in value))


def _nested_matcher(value: dict | list, where: str) -> dict:
    if isinstance(value, list):
        return {"items": [_nested_matcher(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    return {"fields": {key: _param_matcher(vals, {}, False, f"{where}.{key}") for key, vals in value.items()}}


def _first_values(params: dict, required: list, props: dict) -> dict:
    """A call giving each parameter its first acceptable value, omitting optional ones without a value."""
    args = {}
    for param, vals in params.items():
        picks = [v for v in vals if v != ""] if vals else [[]]  # [] reads as an empty list, see _param_matcher
        picks = picks or ([""] if param in required else [])
        if picks:
            value = picks[0]
            if _is_nested(value, props.get(param, {})):
                value = ([_first_values(v, [], {}) for v in value] if isinstance(value, list)
                         else _first_values(value, [], {}))
            args[param] = value
    return args


def hermes_output(calls: list[ToolCall]) -> str:
    """Render calls as Hermes `<tool_call>` JSON, the most widely detected format; no calls -> a plain answer."""
    if not calls:
        return "I cannot help with that using the available tools."
    return "\n".join(
        f"<tool_call>\n{json.dumps({'name': c.name, 'arguments': c.arguments}, ensure_ascii=False)}\n</tool_call>"
        for c in calls)


def _field(record: dict, key: str, kind: type, where: str):
    value = record.get(key)
    if not isinstance(value, kind):
        raise InputError(f"{where}: field {key!r} is missing or not a {kind.__name__}; use an unmodified BFCL file")
    return value
