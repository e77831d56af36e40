"""Load and validate suites: TOML files people write, JSONL files importers write.

Every problem is an InputError naming the file, the case and the field, with the fix.
"""
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.conversation import history, json_path, validate_messages
from harness.errors import InputError
from harness.expect import CallExpect, Expectation, parse_call, parse_expectation, references
from harness.jsonl import json_lines
from harness.toolschema import check_expectation, check_tools
from harness.userfiles import decode, parse_toml, read_bytes

SUITE_KEYS = ("name", "description", "system", "tools", "cases")
CASE_KEYS = ("id", "category", "prompt", "messages", "expect", "tags", "tools", "system", "script", "max_turns", "xfail")
TOOL_KEYS = ("name", "description", "parameters", "type", "function")
DEFAULT_MAX_TURNS = 8
MAX_TURNS_LIMIT = 64


@dataclass
class ScriptEntry:
    """A scripted tool: calls matching `call` get `result` (or the tool error `error`)."""
    call: CallExpect
    result: str | None = None
    error: str | None = None


@dataclass
class Case:
    """One case of a suite: its messages, tools and expectation."""
    id: str
    category: str
    messages: list[dict]  # system prompt first when the suite has one
    tools: list[dict]  # flat JSON-schema definitions: {"name", "description", "parameters"}
    expect: Expectation
    expect_raw: Any  # as written, stored in results so a run can be re-scored
    tags: list[str] = field(default_factory=list)
    script: list[ScriptEntry] = field(default_factory=list)  # non-empty: a scripted rollout (episodes.py)
    max_turns: int = DEFAULT_MAX_TURNS  # assistant turns a rollout may take
    xfail: bool | str = False  # a known failure: true, or the reason; CI does not redden on it
    sha256: str = ""  # of what the model is shown and expected to do: tells a recorded output which case it answered


@dataclass
class Suite:
    """A loaded and checked suite file."""
    name: str
    path: str
    sha256: str
    cases: list[Case]


def load_suite(path: str | Path) -> Suite:
    path = Path(path)
    data = read_bytes(path, "suite file", "give the path to a .toml or .jsonl suite")
    digest = hashlib.sha256(data).hexdigest()
    if path.suffix == ".jsonl":
        cases = _load_jsonl(path, data)
        name = path.stem
    else:
        raw = parse_toml(decode(data, path), path)
        _check_keys(raw, SUITE_KEYS, f"{path}", "the suite")
        name = raw.get("name", path.stem)
        if not isinstance(name, str):
            raise InputError(f"{path}: field 'name' must be a string")
        suite_tools = _tools(raw.get("tools", []), f"{path}: field 'tools'")
        system = raw.get("system")
        cases_raw = raw.get("cases")
        if not isinstance(cases_raw, list) or not cases_raw:
            raise InputError(f"{path}: no cases; add [[cases]] tables with id, category, prompt and expect")
        cases = [_case(c, f"{path}: case", suite_tools, system, i) for i, c in enumerate(cases_raw, 1)]
    _check_unique(cases, path)
    return Suite(name=name, path=str(path), sha256=digest, cases=cases)


def _load_jsonl(path: Path, data: bytes) -> list[Case]:
    lines = json_lines(io.BytesIO(data), str(path), "each line must be one case object")
    cases = [_case(raw, f"{path}:{lineno}: case", [], None) for lineno, raw in lines]
    if not cases:
        raise InputError(f"{path}: no cases; each line must be a case object with id, category, prompt and expect")
    return cases


def _case(raw: Any, label: str, suite_tools: list[dict], system: str | None, index: int | None = None) -> Case:
    where = f"{label} #{index}" if index else label
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a case must be a table/object with id, category, prompt and expect")
    case_id = raw.get("id")
    if not isinstance(case_id, str) or not case_id:
        raise InputError(f"{where}: missing field 'id'; give every case a unique string id")
    where = f"{label} '{case_id}'"
    _check_keys(raw, CASE_KEYS, where, "a case")
    category = raw.get("category")
    if not isinstance(category, str) or not category:
        raise InputError(f"{where}: missing field 'category'; name the category this case counts towards")
    if "expect" not in raw:
        raise InputError(f"{where}: missing field 'expect'; use \"tool\", \"direct\" or {{ call = \"name\" }}")
    expect = parse_expectation(raw["expect"], where)
    tools = _tools(raw["tools"], f"{where}: field 'tools'") if "tools" in raw else suite_tools
    messages = _messages(raw, tools, where)
    script, max_turns = _rollout(raw, expect, tools, where)
    if not script:
        _check_references(expect, messages, where)
    system = raw.get("system", system)
    if system is not None and not isinstance(system, str):
        raise InputError(f"{where}: field 'system' must be a string")
    if system and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system}] + messages
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InputError(f"{where}: field 'tags' must be a list of strings")
    xfail = raw.get("xfail", False)
    if not isinstance(xfail, (bool, str)) or xfail == "":
        raise InputError(f"{where}: field 'xfail' must be true, false or a reason string")
    check_expectation(expect, tools, where)
    return Case(id=case_id, category=category, messages=messages, tools=tools, expect=expect,
                expect_raw=raw["expect"], tags=tags, script=script, max_turns=max_turns, xfail=xfail,
                sha256=case_sha256({"messages": messages, "tools": tools, "expect": raw["expect"],
                                    "script": raw.get("script"), "max_turns": max_turns}))


def case_sha256(case: dict) -> str:
    """Messages, tools, expectation and rollout script as written; ASCII JSON, so lone surrogates hash too."""
    return hashlib.sha256(json.dumps(case, sort_keys=True, default=str).encode()).hexdigest()


def _messages(raw: dict, tools: list[dict], where: str) -> list[dict]:
    if ("prompt" in raw) == ("messages" in raw):
        raise InputError(f"{where}: give exactly one of 'prompt' (a string) or 'messages' (a list of {{role, content}})")
    if "prompt" in raw:
        if not isinstance(raw["prompt"], str) or not raw["prompt"].strip():
            raise InputError(f"{where}: field 'prompt' must be a non-empty string")
        return [{"role": "user", "content": raw["prompt"]}]
    return validate_messages(raw["messages"], tools, where)


def _rollout(raw: dict, expect: Expectation, tools: list[dict], where: str) -> tuple[list[ScriptEntry], int]:
    """The script and max_turns of a scripted rollout; ([], default) for a case judged on one turn."""
    if "script" not in raw:
        if expect.kind == "steps":
            raise InputError(f"{where}: field 'expect': steps and final apply to scripted rollouts; add "
                             "[[cases.script]] entries that answer the calls, or expect the next turn only")
        if "max_turns" in raw:
            raise InputError(f"{where}: field 'max_turns' applies only to cases with [[cases.script]]")
        return [], DEFAULT_MAX_TURNS
    if expect.kind != "steps":
        raise InputError(f"{where}: field 'expect': a case with [[cases.script]] is judged over the episode; "
                         "use expect = { steps = [{ call = … }, …], final = … }")
    entries = raw["script"]
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{where}: field 'script' must be a non-empty list of [[cases.script]] tables")
    names = {t["name"] for t in tools}
    script = []
    for i, entry in enumerate(entries):
        label = f"script[{i}]"
        call = parse_call(entry, where, label, extra_keys=("result", "error"))
        if ("result" in entry) == ("error" in entry):
            raise InputError(f"{where}: field '{label}': give exactly one of result = \"…\" or error = \"…\"")
        reply = entry.get("result", entry.get("error"))
        if not isinstance(reply, str):
            raise InputError(f"{where}: field '{label}.{'result' if 'result' in entry else 'error'}' must be a string")
        script.append(ScriptEntry(call, result=entry.get("result"), error=entry.get("error")))
    for label, name in [(f"script[{i}].call", e.call.name) for i, e in enumerate(script)] + \
                       [(f"expect.steps[{i}].call", c.name) for i, c in enumerate(expect.calls)]:
        if name not in names:
            raise InputError(f"{where}: field '{label}': {name!r} is not a tool of this case; "
                             f"use one of {', '.join(sorted(names)) or '(none defined)'}")
    max_turns = raw.get("max_turns", DEFAULT_MAX_TURNS)
    if isinstance(max_turns, bool) or not isinstance(max_turns, int) or not 1 <= max_turns <= MAX_TURNS_LIMIT:
        raise InputError(f"{where}: field 'max_turns' must be a whole number from 1 to {MAX_TURNS_LIMIT}, got {max_turns!r}")
    return script, max_turns


def _check_references(expect: Expectation, messages: list[dict], where: str) -> None:
    """from_result and retry must name a call of the gold prefix (and a path its result holds)."""
    calls = history(messages)
    for call_id, path, label in references(expect):
        if label == "retry":
            if not (calls.find(call_id) if call_id else calls.calls):
                raise InputError(f"{where}: field 'expect.retry': the messages hold no call "
                                 f"{call_id or '(none at all)'} to retry; name the id of an assistant tool call")
            continue
        call = calls.find(call_id)
        if call is None:
            raise InputError(f"{where}: field 'expect' ({label}): from_result names {call_id!r}, which no "
                             f"assistant tool call of the messages has; use one of {', '.join(c.id for c in calls.calls) or '(none)'}")
        try:
            json_path(call.result, path)
        except LookupError as e:
            raise InputError(f"{where}: field 'expect' ({label}): from_result {call_id!r}: {e}") from None


def _tools(raw: Any, where: str) -> list[dict]:
    if not isinstance(raw, list):
        raise InputError(f"{where} must be a list of tool definitions ([[tools]] tables)")
    tools = []
    for i, t in enumerate(raw):
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict):
            t = t["function"]  # OpenAI style; stored flat
        if not isinstance(t, dict) or not isinstance(t.get("name"), str) or not t["name"]:
            raise InputError(f"{where}[{i}]: every tool needs a 'name' string")
        _check_keys(t, TOOL_KEYS, f"{where}[{i}] ('{t['name']}')", "a tool")
        params = t.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, dict):
            raise InputError(f"{where}[{i}] ('{t['name']}'): 'parameters' must be a JSON-schema object")
        if not isinstance(t.get("description", ""), str):
            raise InputError(f"{where}[{i}] ('{t['name']}'): 'description' must be a string")
        tools.append({"name": t["name"], "description": t.get("description", ""), "parameters": params})
    check_tools(tools, where)
    return tools


def openai_tools(tools: list[dict]) -> list[dict]:
    """The OpenAI `tools=` shape that chat templates and servers expect."""
    return [{"type": "function", "function": t} for t in tools]


def _check_keys(raw: dict, allowed: tuple, where: str, what: str) -> None:
    unknown = [k for k in raw if k not in allowed]
    if unknown:
        raise InputError(f"{where}: unknown field '{unknown[0]}' in {what}; allowed: {', '.join(allowed)}")


def _check_unique(cases: list[Case], path: Path) -> None:
    seen = set()
    for c in cases:
        if c.id in seen:
            raise InputError(f"{path}: case '{c.id}': duplicate id; every case id must be unique")
        seen.add(c.id)
