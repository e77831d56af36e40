"""Load and validate suites: TOML files people write, JSONL files importers write.

Every problem is an InputError naming the file, the case and the field, with the fix.
"""
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.expect import Expectation, parse_expectation
from harness.jsonl import json_lines
from harness.toolschema import check_expectation, check_tools
from harness.userfiles import decode, parse_toml, read_bytes

SUITE_KEYS = ("name", "description", "system", "tools", "cases")
CASE_KEYS = ("id", "category", "prompt", "messages", "expect", "tags", "tools", "system")
TOOL_KEYS = ("name", "description", "parameters", "type", "function")
ROLES = ("system", "user", "assistant", "tool")


@dataclass
class Case:
    id: str
    category: str
    messages: list[dict]  # system prompt first when the suite has one
    tools: list[dict]  # flat JSON-schema definitions: {"name", "description", "parameters"}
    expect: Expectation
    expect_raw: Any  # as written, stored in results so a run can be re-scored
    tags: list[str] = field(default_factory=list)
    sha256: str = ""  # of messages, tools and expectation: tells a recorded output which case it answered


@dataclass
class Suite:
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
    messages = _messages(raw, where)
    system = raw.get("system", system)
    if system is not None and not isinstance(system, str):
        raise InputError(f"{where}: field 'system' must be a string")
    if system and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system}] + messages
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InputError(f"{where}: field 'tags' must be a list of strings")
    check_expectation(expect, tools, where)
    return Case(id=case_id, category=category, messages=messages, tools=tools, expect=expect,
                expect_raw=raw["expect"], tags=tags, sha256=case_sha256(messages, tools, raw["expect"]))


def case_sha256(messages: list[dict], tools: list[dict], expect_raw: Any) -> str:
    """What the model is shown and what is expected of it; ASCII JSON, so lone surrogates hash too."""
    text = json.dumps({"messages": messages, "tools": tools, "expect": expect_raw}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _messages(raw: dict, where: str) -> list[dict]:
    if ("prompt" in raw) == ("messages" in raw):
        raise InputError(f"{where}: give exactly one of 'prompt' (a string) or 'messages' (a list of {{role, content}})")
    if "prompt" in raw:
        if not isinstance(raw["prompt"], str) or not raw["prompt"].strip():
            raise InputError(f"{where}: field 'prompt' must be a non-empty string")
        return [{"role": "user", "content": raw["prompt"]}]
    messages = raw["messages"]
    if not isinstance(messages, list) or not messages:
        raise InputError(f"{where}: field 'messages' must be a non-empty list of {{role, content}}")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise InputError(f"{where}: field 'messages[{i}]': role must be one of {', '.join(ROLES)}")
        if not isinstance(m.get("content", ""), str) and m.get("content") is not None:
            raise InputError(f"{where}: field 'messages[{i}].content' must be a string")
    return [dict(m) for m in messages]


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
