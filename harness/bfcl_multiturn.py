"""Import BFCL multi_turn_base per turn, from the gold prefix: for turn k of an entry, a case holding the
earlier user turns, their ground-truth calls and the results BFCL's own environment classes return for
them, expecting that turn's ground-truth calls (in order, in one assistant message).

The environments (bfcl_eval's GorillaFileSystem, TradingBot, …) run here, at import time only, through
bfcl_eval's execute_multi_turn_func_call on BFCL's own ground-truth strings; a run never executes
anything. bfcl-eval is an optional install: the installed package, or the wheel passed as --data.

Per turn against BFCL's whole entry, on the ground truth (bfcl-eval 2026.3.23, the 175 entries without
MathAPI, whose mpmath was not installed): BFCL's own multi_turn_checker accepts 175/175 entries, and
the 656 per-turn cases replayed with the ground truth pass 656/656 at the call level. On a model they
part: BFCL zeroes an entry for one wrong turn, per turn scores each turn from the right prefix.
"""
import ast
import json
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Callable

from harness.bfcl import BfclCase, _field, _read_jsonl, to_json_schema
from harness.calls import ToolCall
from harness.errors import InputError

MULTI_TURN_CATEGORIES = ("multi_turn_base",)
QUESTIONS = "BFCL_v4_{category}.json"


def import_multi_turn(label: str, files: dict[str, Callable[[], str]], data: str | None,
                      category: str) -> tuple[list[BfclCase], list[str]]:
    """(cases, notes): a note says which entries were left out because an environment could not load."""
    execute = _executor(data)
    name = QUESTIONS.format(category=category)
    if name not in files or f"possible_answer/{name}" not in files:
        raise InputError(f"{label}: {name} or possible_answer/{name} is missing; use a complete bfcl_eval/data folder")
    answers = {r["id"]: r for _, r in _read_jsonl(label, f"possible_answer/{name}", files[f"possible_answer/{name}"]())}
    docs = _docs(label, files)
    cases, skipped = [], {}
    run_name = f"harness_import_{uuid.uuid4().hex[:8]}"  # bfcl_eval caches environments by this name
    for line, entry in _read_jsonl(label, name, files[name]()):
        where = f"{label}/{name}: line {line}: case {entry['id']!r}"
        if entry["id"] not in answers:
            raise InputError(f"{where}: no answer in possible_answer; use matching BFCL files")
        try:
            cases += _entry_cases(category, entry, answers[entry["id"]], docs, execute, run_name, where)
        except ModuleNotFoundError as e:  # an environment's own dependency (MathAPI needs mpmath)
            skipped.setdefault(e.name, []).append(entry["id"])
    notes = [f"left out {len(ids)} entries whose BFCL environment needs the module {module!r} "
             f"(pip install {module}): {', '.join(ids[:3])}{', …' if len(ids) > 3 else ''}"
             for module, ids in skipped.items()]
    return cases, notes


def _executor(data: str | None):
    """bfcl_eval's execute_multi_turn_func_call, from the installed package or the wheel given as --data."""
    try:
        from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call
        return execute_multi_turn_func_call
    except ImportError:
        pass
    root = _package_root(data)
    if root is None:
        raise InputError("multi_turn_base runs BFCL's environment classes at import time: install bfcl-eval "
                         "(pip install bfcl-eval) or pass --data with the bfcl-eval wheel or its unpacked folder")
    sys.path.insert(0, root)  # a pure-Python wheel imports as a zip
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call
    return execute_multi_turn_func_call


def _package_root(data: str | None) -> str | None:
    if data is None:
        return None
    path = Path(data)
    if path.is_file() and zipfile.is_zipfile(path):
        return str(path) if "bfcl_eval/__init__.py" in zipfile.ZipFile(path).namelist() else None
    for folder in (path, path.parent, path.parent.parent):  # the wheel folder, bfcl_eval/ or bfcl_eval/data
        if (folder / "bfcl_eval" / "eval_checker").is_dir():
            return str(folder)
    return None


def _docs(label: str, files: dict[str, Callable[[], str]]) -> dict[str, list[dict]]:
    """Environment class -> its function docs, from multi_turn_func_doc/."""
    from bfcl_eval.constants.executable_backend_config import MULTI_TURN_FUNC_DOC_FILE_MAPPING

    docs = {}
    for cls, file_name in MULTI_TURN_FUNC_DOC_FILE_MAPPING.items():
        path = f"multi_turn_func_doc/{file_name}"
        if path in files:
            docs[cls] = [json.loads(line) for line in files[path]().splitlines() if line.strip()]
    if not docs:
        raise InputError(f"{label}: no multi_turn_func_doc/ files; use a complete bfcl_eval/data folder")
    return docs


def _entry_cases(category: str, entry: dict, answer: dict, docs: dict, execute, run_name: str,
                 where: str) -> list[BfclCase]:
    turns = _field(entry, "question", list, where)
    truth = _field(answer, "ground_truth", list, where)
    if len(truth) != len(turns):
        raise InputError(f"{where}: {len(turns)} question turns but {len(truth)} ground-truth turns")
    classes = _field(entry, "involved_classes", list, where)
    excluded = set(entry.get("excluded_function") or [])
    functions = [doc for cls in classes for doc in docs.get(cls, []) if doc["name"] not in excluded]
    tools = [{"name": d["name"], "description": d.get("description", ""),
              "parameters": to_json_schema(d.get("parameters", {}))} for d in functions]
    params = {d["name"]: list((d.get("parameters") or {}).get("properties", {})) for d in functions}
    messages: list[dict] = []
    cases = []
    for k, (question, calls_text) in enumerate(zip(turns, truth)):
        messages += [{"role": m["role"], "content": m["content"]} for m in question]
        calls = [_parse_call(text, params, f"{where}: turn {k}") for text in calls_text]
        expect = "direct" if not calls else (_call_expect(calls[0]) if len(calls) == 1 else
                                              {"calls": [_call_expect(c) for c in calls], "order": "exact"})
        cases.append(BfclCase({"id": f"{entry['id']}-turn-{k}", "category": category, "messages": list(messages),
                               "tools": tools, "expect": expect}, calls))
        if calls:
            results, _ = execute(calls_text, entry.get("initial_config", {}), classes, run_name, entry["id"])
            ids = [f"call_{k}_{i}" for i in range(len(calls))]
            messages.append({"role": "assistant", "content": "", "tool_calls": [
                {"id": i, "name": c.name, "arguments": c.arguments} for i, c in zip(ids, calls)]})
            messages += [{"role": "tool", "tool_call_id": i, "content": r} for i, r in zip(ids, results)]
    return cases


def _call_expect(call: ToolCall) -> dict:
    # a table in an expectation is a matcher: an object value is matched as the one value it may be
    return {"call": call.name, "arguments": {k: {"one_of": [v]} if isinstance(v, dict) else v
                                             for k, v in call.arguments.items()}}


def _parse_call(text: str, params: dict[str, list[str]], where: str) -> ToolCall:
    """A ground-truth string such as "mv(source='a', destination='b')", read with ast (never evaluated)."""
    try:
        node = ast.parse(text, mode="eval").body
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            raise ValueError("not a plain function call")
        names = params.get(node.func.id)
        if names is None:
            raise ValueError(f"{node.func.id!r} is not a function of the entry's classes")
        args = {names[i]: ast.literal_eval(a) for i, a in enumerate(node.args)}
        args |= {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}
    except (SyntaxError, ValueError, IndexError) as e:
        raise InputError(f"{where}: cannot read the ground-truth call {text!r} ({e}); use an unmodified BFCL file") from None
    return ToolCall(node.func.id, _json_value(args))


def _json_value(value):
    """Tuples in ground truth become lists, as they would arrive in a model's JSON call."""
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value
