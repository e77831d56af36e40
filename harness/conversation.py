"""Conversations with tool turns: validate a suite's gold prefix, convert it to the OpenAI shape chat
templates and servers expect, and read back the calls made and the results they got.

A suite writes an assistant call as {id, name, arguments} (the OpenAI shape {id, type, function} is
accepted too) and a tool result as {role = "tool", tool_call_id, content}. Stored messages are always
the OpenAI shape with arguments as an object: templates render `arguments | tojson`, and the openai
backend serialises them to the JSON string its API wants.
"""
import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

from harness.errors import InputError
from harness.expect import Expectation, Matcher

ROLES = ("system", "user", "assistant", "tool")
MESSAGE_KEYS = {"system": ("role", "content"), "user": ("role", "content"),
                "assistant": ("role", "content", "tool_calls"), "tool": ("role", "tool_call_id", "content")}
CALL_KEYS = ("id", "name", "arguments", "type", "function")
PATH_STEP = re.compile(r"\.?([A-Za-z_][\w-]*)|\[(-?\d+)\]|\[\"([^\"]*)\"\]")


@dataclass
class PriorCall:
    """A call already in the conversation and the result it got (None while unanswered)."""
    id: str
    name: str
    arguments: dict
    turn: int  # the assistant turn (counted from 0) that made it
    result: str | None = None


@dataclass
class History:
    """The calls made so far in a conversation."""
    calls: list[PriorCall] = field(default_factory=list)

    def find(self, call_id: str) -> PriorCall | None:
        return next((c for c in self.calls if c.id == call_id), None)

    def is_repeat(self, name: str, arguments: dict | None) -> bool:
        """True when a call with this name and these arguments was made before (JSON equality)."""
        return any(c.name == name and _canonical(c.arguments) == _canonical(arguments) for c in self.calls)

    def latest_results(self) -> list[str]:
        """Results of the calls of the last assistant turn that made calls (what the next turn reads)."""
        last = self.calls[-1].turn if self.calls else None
        return [c.result for c in self.calls if c.turn == last and c.result is not None]


def validate_messages(raw: Any, tools: list[dict], where: str) -> list[dict]:
    """The suite's messages checked and converted to the OpenAI shape; `where` names the case."""
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{where}: field 'messages' must be a non-empty list of {{role, content}}")
    names = {t["name"] for t in tools}
    calls: dict[str, str] = {}  # call id -> tool name
    answered: set[str] = set()
    out = []
    for i, m in enumerate(raw):
        label = f"{where}: field messages[{i}]"
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise InputError(f"{label}: role must be one of {', '.join(ROLES)}")
        role = m["role"]
        unknown = [k for k in m if k not in MESSAGE_KEYS[role]]
        if unknown:
            raise InputError(f"{label}: unknown key '{unknown[0]}' in a {role} message; "
                             f"allowed: {', '.join(MESSAGE_KEYS[role])}")
        content = m.get("content")
        if content is not None and not isinstance(content, str):
            raise InputError(f"{label}.content: must be a string")
        if role == "assistant" and "tool_calls" in m:
            out.append(_assistant(m, label, names, calls))
        elif role == "tool":
            out.append(_tool(m, label, calls, answered))
        else:
            if content is None:
                raise InputError(f"{label}: a {role} message needs a string 'content'")
            out.append({"role": role, "content": content})
    if out[-1]["role"] == "assistant":
        raise InputError(f"{where}: field messages[{len(out) - 1}]: the conversation ends with an assistant "
                         "message; end it with a user or tool message (the expectation is about the next "
                         "assistant turn)")
    return out


def _assistant(m: dict, label: str, names: set[str], calls: dict[str, str]) -> dict:
    raw_calls = m["tool_calls"]
    if not isinstance(raw_calls, list) or not raw_calls:
        raise InputError(f"{label}.tool_calls: must be a non-empty list of {{id, name, arguments}}")
    shaped = []
    for j, c in enumerate(raw_calls):
        where = f"{label}.tool_calls[{j}]"
        if not isinstance(c, dict):
            raise InputError(f"{where}: a call must be a table {{id, name, arguments}}")
        unknown = [k for k in c if k not in CALL_KEYS]
        if unknown:
            raise InputError(f"{where}: unknown key '{unknown[0]}'; give id, name and arguments")
        fn = c["function"] if isinstance(c.get("function"), dict) else c  # OpenAI shape or flat
        call_id, name, arguments = c.get("id"), fn.get("name"), fn.get("arguments", {})
        if not isinstance(call_id, str) or not call_id:
            raise InputError(f"{where}.id: every call needs a string id, which its tool result names in tool_call_id")
        if call_id in calls:
            raise InputError(f"{where}.id: call id '{call_id}' is used twice; give every call its own id")
        if not isinstance(name, str) or name not in names:
            raise InputError(f"{where}.name: {name!r} is not a tool of this case; "
                             f"use one of {', '.join(sorted(names)) or '(none defined)'}")
        if isinstance(arguments, str):  # the API's JSON-string form
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                raise InputError(f"{where}.arguments: not valid JSON; give an object") from None
        if not isinstance(arguments, dict):
            raise InputError(f"{where}.arguments: must be an object (a table), got {type(arguments).__name__}")
        calls[call_id] = name
        shaped.append(template_call(call_id, name, arguments))
    return {"role": "assistant", "content": m.get("content") or "", "tool_calls": shaped}


def _tool(m: dict, label: str, calls: dict[str, str], answered: set[str]) -> dict:
    call_id = m.get("tool_call_id")
    if not isinstance(call_id, str) or call_id not in calls:
        known = ", ".join(calls) or "none yet"
        raise InputError(f"{label}.tool_call_id: {call_id!r} answers no earlier call (calls so far: {known}); "
                         "name the id of an assistant tool call above it")
    if call_id in answered:
        raise InputError(f"{label}.tool_call_id: call '{call_id}' already has a result; answer each call once")
    if not isinstance(m.get("content"), str):
        raise InputError(f"{label}.content: a tool message needs the result as a string")
    answered.add(call_id)
    return {"role": "tool", "tool_call_id": call_id, "content": m["content"]}


def template_call(call_id: str, name: str, arguments: dict | None) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def call_message(calls: list[dict], content: str = "") -> dict:
    """An assistant turn that made `calls` (already in template shape)."""
    return {"role": "assistant", "content": content, "tool_calls": calls}


def tool_message(call_id: str, content: str) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def history(messages: list[dict]) -> History:
    """Every call the messages made, in order, with the result each got."""
    found, turn = History(), 0
    for m in messages:
        for c in m.get("tool_calls") or []:
            fn = c.get("function", c)
            found.calls.append(PriorCall(c["id"], fn["name"], fn.get("arguments") or {}, turn))
        turn += m.get("role") == "assistant"
        if m.get("role") == "tool" and (call := found.find(m.get("tool_call_id"))):
            call.result = m.get("content")
    return found


def assistant_turns(messages: list[dict]) -> int:
    """How many assistant turns the messages hold: the index of the next one."""
    return sum(1 for m in messages if m.get("role") == "assistant")


def json_path(content: str | None, path: str | None) -> Any:
    """The value at `path` ("items[0].id", "$.a.b", "[2]"; empty: the whole document) in a JSON result.
    Raises LookupError saying what is missing."""
    if content is None:
        raise LookupError("that call has no result yet")
    try:
        value = json.loads(content)
    except json.JSONDecodeError:
        raise LookupError("its result is not JSON") from None
    rest = (path or "").removeprefix("$")
    while rest:
        step = PATH_STEP.match(rest)
        if not step:
            raise LookupError(f"cannot read path {path!r} at {rest!r}; write it as items[0].id")
        key, index, quoted = step.groups()
        rest = rest[step.end():]
        if index is not None:
            if not isinstance(value, list) or not -len(value) <= int(index) < len(value):
                raise LookupError(f"path {path!r}: no item [{index}]")
            value = value[int(index)]
        else:
            key = quoted if quoted is not None else key
            if not isinstance(value, dict) or key not in value:
                raise LookupError(f"path {path!r}: no key {key!r}")
            value = value[key]
    return value


RESULT_VALUE = re.compile(r"[\w./-]*[\d_./][\w./-]*")


def result_values(content: str) -> set[str]:
    """Values a turn could take from a tool result: JSON leaves, else numbers, paths and identifiers."""
    try:
        doc = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        doc = None
    if isinstance(doc, (dict, list)):
        return {v for v in _leaves(doc) if v.strip()}
    return {w.strip(".") for w in RESULT_VALUE.findall(content or "") if w.strip(".")}


def _leaves(doc: Any) -> list[str]:
    if isinstance(doc, dict):
        return [v for x in doc.values() for v in _leaves(x)]
    if isinstance(doc, list):
        return [v for x in doc for v in _leaves(x)]
    return [] if doc is None or isinstance(doc, bool) else [str(doc)]


def uses_result(output: str, results: list[str]) -> bool:
    """Does the output repeat a value from one of the results it answers? Values match as whole
    words, so "4" is not found in "42"."""
    return any(re.search(rf"(?<![\w./-]){re.escape(v)}(?![\w/-])", output) for r in results for v in result_values(r))


def _canonical(arguments: dict | None) -> str:
    return json.dumps(arguments, sort_keys=True, ensure_ascii=False)


def turn_facts(calls: list, output: str, messages: list[dict], before: History) -> dict:
    """Per-turn measurements for the reports: did the turn repeat an earlier call, and (after a tool
    result) did it use a value from that result? `calls` are the turn's detected ToolCalls."""
    repeat = any(c.arguments is not None and before.is_repeat(c.name, c.arguments) for c in calls)
    after_result = bool(messages) and messages[-1].get("role") == "tool"
    used = None
    if after_result:
        said = output + "".join(json.dumps(c.arguments, ensure_ascii=False) for c in calls if c.arguments)
        used = uses_result(said, before.latest_results())
    return {"repeat": repeat, "after_result": after_result, "used_result": used}


def bind_results(expect: Expectation, history: History) -> Expectation:
    """The expectation with every from_result matcher replaced by the value it names in `history`."""
    return dataclasses.replace(
        expect, calls=[dataclasses.replace(c, arguments=_bind_fields(c.arguments, history)) for c in expect.calls],
        alternatives=[bind_results(a, history) for a in expect.alternatives],
        final=bind_results(expect.final, history) if expect.final else None)


def _bind_fields(fields: dict[str, Matcher] | None, history: History) -> dict[str, Matcher] | None:
    return None if fields is None else {k: _bind(m, history) for k, m in fields.items()}


def _bind(m: Matcher, history: History) -> Matcher:
    m = dataclasses.replace(m, fields=_bind_fields(m.fields, history),
                            items=[_bind(i, history) for i in m.items] if m.items is not None else None)
    if m.from_result is None:
        return m
    call = history.find(m.from_result)
    try:
        if call is None:
            raise LookupError("the conversation has no such call")
        return dataclasses.replace(m, equals=json_path(call.result, m.path))
    except LookupError as e:
        return dataclasses.replace(m, unbound=f"the value at {m.path or 'the root'} of {m.from_result}'s result: {e}")
