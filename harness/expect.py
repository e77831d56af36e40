"""Expectations: what a case expects the model to do, parsed from the suite's TOML/JSON form.

Forms (`expect = …` in a suite):
  "direct"                      answer without calling a tool
  "tool"                        call any tool
  { call = NAME, arguments = { PARAM = MATCHER, … }, extra_arguments = "forbid" | "allow" }
  { calls = [ {call = …, arguments = …}, … ], order = "any" | "exact" }     parallel calls
  { any_of = [ EXPECTATION, … ] }                                           alternatives
  { answer = { contains = [TEXT, …], regex = RE } }     a direct answer holding these (tool results' values)
  { retry = CALL_ID } or "retry"        call that call's tool again with changed arguments ("retry": the
                                        last call of the conversation), the recovery after a tool error
  no_repeat = true (beside any table form, or alone)    fail a call already made with the same arguments
  { steps = [ {call = …}, … ], order = "exact" | "any", final = EXPECTATION }   a scripted rollout
                                        (cases with [[cases.script]]): the calls over the episode, then
                                        the last turn's answer
  "answer" | "ask" | "decline" | "call" | "malformed"   the response kind (harness/kinds.py) must be this;
                                "call" is any detected call, even to a tool not offered ("tool" is not)
  { ask = { about = [PARAM, …] } }                     ask, and the question names each PARAM (or
                                                       words of its description)
A MATCHER is a literal (deep equality; 1 and 1.0 are equal, true is not 1) or a table of keys that
must all hold: one_of (+ normalize = "bfcl"), regex (re.search: anchor it yourself), contains,
type, approx (+ tol), fields (+ extra_fields), items, optional, absent, from_result (+ path: the
value at that JSON path in the named call's result, "items[0].id"). A table is always a matcher,
never a literal object: match an object with `fields`.
"""
import math
import re
from dataclasses import dataclass, field
from typing import Any

from harness.errors import InputError

JSON_TYPES = ("integer", "number", "string", "boolean", "array", "object", "null")
MATCHER_KEYS = ("one_of", "normalize", "regex", "contains", "type", "approx", "tol",
                "fields", "extra_fields", "items", "optional", "absent", "from_result", "path")
NORMALIZERS = ("bfcl",)
EXTRA_POLICIES = ("forbid", "allow")
ORDERS = ("any", "exact")
RESPONSE_KINDS = ("answer", "ask", "decline", "call", "malformed")  # expectable kinds (not "unsure")
STRING_FORMS = ("direct", "tool", "retry") + RESPONSE_KINDS
FORMS_HINT = (f'use one of {", ".join(map(repr, STRING_FORMS))}, or a table with call, calls, any_of, answer, '
              'retry, steps or ask')
DEFAULT_TOL = 1e-6


class _Unset:
    """Marks a matcher without a literal: None is a real literal (JSON null)."""

    def __repr__(self):
        return "UNSET"


UNSET = _Unset()


@dataclass
class Matcher:
    """One argument's constraints; every constraint that is set must hold."""
    equals: Any = UNSET
    one_of: list | None = None
    normalize: str | None = None
    regex: str | None = None
    contains: str | None = None
    type: str | None = None
    approx: float | None = None
    tol: float | None = None
    fields: "dict[str, Matcher] | None" = None
    extra_fields: str = "forbid"
    items: "list[Matcher] | None" = None
    optional: bool = False
    absent: bool = False
    from_result: str | None = None  # a call id; bound to a literal per conversation before matching
    path: str | None = None
    unbound: str | None = None  # why from_result named nothing in this conversation (never parsed)


@dataclass
class CallExpect:
    """One expected call: the tool's name and matchers for its arguments."""
    name: str
    arguments: dict[str, Matcher] | None = None  # None: any arguments are fine
    extra_arguments: str = "forbid"


@dataclass
class Answer:
    """What an expected direct answer must say."""
    contains: list[str] = field(default_factory=list)
    regex: str | None = None


@dataclass
class Expectation:
    """What a case expects of the model, in one of the expectation forms."""
    kind: str  # "direct" | "tool" | "call" | "calls" | "any_of" | "retry" | "any" | "steps" | "response"
    calls: list[CallExpect] = field(default_factory=list)  # one for "call"; the steps for "steps"
    order: str = "any"
    alternatives: "list[Expectation]" = field(default_factory=list)
    answer: Answer | None = None  # "direct" with constraints on the answer's text
    retry: str = ""  # "retry": the call id to retry; "" is the conversation's last call
    no_repeat: bool = False
    final: "Expectation | None" = None  # "steps": the episode's last turn
    response: str | None = None  # for "response": one of RESPONSE_KINDS
    about: list[str] = field(default_factory=list)  # for an ask: parameters the question must name


def is_tool_expected(exp: Expectation) -> bool:
    """True when the case expects a call; any_of expects one only if every alternative does."""
    if exp.kind == "any_of":
        return all(is_tool_expected(alt) for alt in exp.alternatives)
    if exp.kind == "response":
        return exp.response == "call"
    return exp.kind not in ("direct", "any")


def references(exp: Expectation) -> list[tuple[str, str | None, str]]:
    """(call id, JSON path, where) for every from_result matcher and retry target, to check against
    the conversation they refer to; a retry of the last call has id ""."""
    found = [(exp.retry, None, "retry")] if exp.kind == "retry" else []
    for call in exp.calls:
        for name, m in (call.arguments or {}).items():
            found += _matcher_references(m, f"{call.name}.{name}")
    for alt in exp.alternatives + ([exp.final] if exp.final else []):
        found += references(alt)
    return found


def _matcher_references(m: Matcher, label: str) -> list[tuple[str, str | None, str]]:
    found = [(m.from_result, m.path, label)] if m.from_result is not None else []
    for key, sub in (m.fields or {}).items():
        found += _matcher_references(sub, f"{label}.{key}")
    for i, sub in enumerate(m.items or []):
        found += _matcher_references(sub, f"{label}[{i}]")
    return found


def intended_kinds(exp: Expectation) -> frozenset[str]:
    """The response kinds a case is written for, for confusion matrices: "direct" means an answer
    (though it scores any reply without a call as passing)."""
    if exp.kind == "any_of":
        return frozenset().union(*(intended_kinds(alt) for alt in exp.alternatives))
    if exp.kind == "response":
        return frozenset([exp.response])
    if exp.kind == "steps" and exp.final:
        return intended_kinds(exp.final)  # the episode's last turn is the reply being judged
    if exp.kind == "any":  # no_repeat alone: any reply without a repeated call
        return frozenset()
    return frozenset(["answer" if exp.kind == "direct" else "call"])


def parse_expectation(raw: Any, where: str, name: str = "expect") -> Expectation:
    """Parse the suite form; `where` prefixes errors ("suites/x.toml: case 'a'")."""
    if isinstance(raw, str):
        if raw in ("direct", "tool", "retry"):
            return Expectation(raw)
        if raw in RESPONSE_KINDS:
            return Expectation("response", response=raw)
        _fail(where, name, f"unknown expectation {raw!r}", FORMS_HINT)
    if not isinstance(raw, dict):
        _fail(where, name, f"expected a string or a table, got {_type_name(raw)}", FORMS_HINT)
    no_repeat = _flag(raw, "no_repeat", where, name)
    raw = {k: v for k, v in raw.items() if k != "no_repeat"}
    forms = [key for key in ("call", "calls", "any_of", "answer", "retry", "steps", "ask") if key in raw]
    if not forms and "final" in raw:
        forms = ["steps"]  # a rollout judged on its answer alone
    if not forms and not raw and no_repeat:
        return Expectation("any", no_repeat=True)
    if len(forms) != 1:
        _fail(where, name, f"table has keys {sorted(raw)}",
              "give exactly one of call, calls or any_of (or answer, retry, steps, ask)")
    exp = _parse_form(forms[0], raw, where, name)
    exp.no_repeat = no_repeat
    return exp


def _parse_form(form: str, raw: dict, where: str, name: str) -> Expectation:
    if form == "ask":
        return _parse_ask(raw, where, name)
    if form == "call":
        return Expectation("call", calls=[parse_call(raw, where, name)])
    if form in ("calls", "steps"):
        _check_keys(raw, (form, "order") + (("final",) if form == "steps" else ()), where, name)
        items = _nonempty_list(raw[form], where, f"{name}.{form}") if form == "calls" or form in raw else []
        calls = [parse_call(item, where, f"{name}.{form}[{i}]") for i, item in enumerate(items)]
        order = _choice(raw.get("order", "any"), ORDERS, where, f"{name}.order")
        final = parse_expectation(raw["final"], where, f"{name}.final") if "final" in raw else None
        if final and final.kind == "steps":
            _fail(where, f"{name}.final", "steps cannot nest", "give the last turn's expectation, e.g. \"direct\"")
        return Expectation(form, calls=calls, order=order, final=final)
    if form == "answer":
        _check_keys(raw, ("answer",), where, name)
        return Expectation("direct", answer=_parse_answer(raw["answer"], where, f"{name}.answer"))
    if form == "retry":
        _check_keys(raw, ("retry",), where, name)
        target = raw["retry"]
        if target is not True and (not isinstance(target, str) or not target):
            _fail(where, f"{name}.retry", f"expected a call id or true, got {target!r}",
                  'name the call to retry (retry = "call_1"), or write retry = true for the last call')
        return Expectation("retry", retry="" if target is True else target)
    _check_keys(raw, ("any_of",), where, name)
    items = _nonempty_list(raw["any_of"], where, f"{name}.any_of")
    return Expectation("any_of", alternatives=[
        parse_expectation(item, where, f"{name}.any_of[{i}]") for i, item in enumerate(items)])


def _parse_answer(raw: Any, where: str, name: str) -> Answer:
    if not isinstance(raw, dict) or not raw:
        _fail(where, name, f"expected a table, got {raw!r}", 'give { contains = ["…"] } and/or { regex = "…" }')
    _check_keys(raw, ("contains", "regex"), where, name)
    contains = raw.get("contains", [])
    contains = [contains] if isinstance(contains, str) else contains
    if not isinstance(contains, list) or not all(isinstance(c, str) and c for c in contains):
        _fail(where, f"{name}.contains", f"expected a list of non-empty strings, got {raw.get('contains')!r}",
              'give contains = ["3 errors", "ledger.py"]')
    regex = _string(raw["regex"], where, f"{name}.regex") if "regex" in raw else None
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as e:
            _fail(where, f"{name}.regex", f"bad regular expression: {e}", "fix the pattern")
    return Answer(contains=contains, regex=regex)


def parse_matcher(raw: Any, where: str, name: str) -> Matcher:
    if not isinstance(raw, dict):
        _check_literal(raw, where, name)
        return Matcher(equals=raw)
    if not raw:
        _fail(where, name, "empty matcher table", "give a literal or matcher keys such as one_of")
    unknown = [key for key in raw if key not in MATCHER_KEYS]
    if unknown:
        _fail(where, name, f"unknown matcher key {unknown[0]!r}",
              f"use one of {', '.join(MATCHER_KEYS)} (match an object with fields)")
    m = Matcher()
    if "one_of" in raw:
        m.one_of = _nonempty_list(raw["one_of"], where, f"{name}.one_of")
        for i, item in enumerate(m.one_of):
            _check_literal(item, where, f"{name}.one_of[{i}]", allow_object=True)
    if "normalize" in raw:
        m.normalize = _choice(raw["normalize"], NORMALIZERS, where, f"{name}.normalize")
        _needs(raw, "normalize", "one_of", where, name)
    if "regex" in raw:
        m.regex = _string(raw["regex"], where, f"{name}.regex")
        try:
            re.compile(m.regex)
        except re.error as e:
            _fail(where, f"{name}.regex", f"bad regular expression: {e}", "fix the pattern")
    if "contains" in raw:
        m.contains = _string(raw["contains"], where, f"{name}.contains")
    if "type" in raw:
        m.type = _choice(raw["type"], JSON_TYPES, where, f"{name}.type")
    if "approx" in raw:
        m.approx = _number(raw["approx"], where, f"{name}.approx")
        m.tol = _number(raw.get("tol", DEFAULT_TOL), where, f"{name}.tol")
    elif "tol" in raw:
        _needs(raw, "tol", "approx", where, name)
    if "fields" in raw:
        if not isinstance(raw["fields"], dict):
            _fail(where, f"{name}.fields", f"expected a table, got {_type_name(raw['fields'])}",
                  "give { KEY = MATCHER, … }")
        m.fields = {key: parse_matcher(value, where, f"{name}.fields.{key}")
                    for key, value in raw["fields"].items()}
    if "extra_fields" in raw:
        m.extra_fields = _choice(raw["extra_fields"], EXTRA_POLICIES, where, f"{name}.extra_fields")
        _needs(raw, "extra_fields", "fields", where, name)
    if "items" in raw:
        if not isinstance(raw["items"], list):
            _fail(where, f"{name}.items", f"expected a list, got {_type_name(raw['items'])}",
                  "give [MATCHER, …], one per element")
        m.items = [parse_matcher(value, where, f"{name}.items[{i}]")
                   for i, value in enumerate(raw["items"])]
    m.optional = _flag(raw, "optional", where, name)
    m.absent = _flag(raw, "absent", where, name)
    if "from_result" in raw:
        m.from_result = _string(raw["from_result"], where, f"{name}.from_result")
        if not m.from_result:
            _fail(where, f"{name}.from_result", "empty", "name the call id whose result holds the value")
        m.path = _string(raw["path"], where, f"{name}.path") if "path" in raw else None
    elif "path" in raw:
        _needs(raw, "path", "from_result", where, name)
    if m.absent and len(raw) > 1:
        _fail(where, name, "absent = true cannot be combined with other keys",
              "use { absent = true } alone")
    return m


def parse_arguments(raw: Any, where: str, name: str) -> dict[str, Matcher]:
    if not isinstance(raw, dict):
        _fail(where, name, f"expected a table, got {_type_name(raw)}", "give { PARAM = MATCHER, … }")
    return {key: parse_matcher(value, where, f"{name}.{key}") for key, value in raw.items()}


def parse_call(raw: Any, where: str, name: str, extra_keys: tuple = ()) -> CallExpect:
    if not isinstance(raw, dict):
        _fail(where, name, f"expected a table, got {_type_name(raw)}",
              "give { call = NAME, arguments = { … } }")
    _check_keys(raw, ("call", "arguments", "extra_arguments") + extra_keys, where, name)
    if "call" not in raw:
        _fail(where, f"{name}.call", "missing", "name the tool the model should call")
    call = _string(raw["call"], where, f"{name}.call")
    if not call:
        _fail(where, f"{name}.call", "empty", "name the tool the model should call")
    arguments = (parse_arguments(raw["arguments"], where, f"{name}.arguments")
                 if "arguments" in raw else None)
    extra = _choice(raw.get("extra_arguments", "forbid"), EXTRA_POLICIES, where,
                    f"{name}.extra_arguments")
    return CallExpect(call, arguments, extra)


def _parse_ask(raw: dict, where: str, name: str) -> Expectation:
    _check_keys(raw, ("ask",), where, name)
    spec = raw["ask"]
    if not isinstance(spec, dict):
        _fail(where, f"{name}.ask", f"expected a table, got {_type_name(spec)}",
              'give { about = ["PARAM", …] }, or write expect = "ask"')
    _check_keys(spec, ("about",), where, f"{name}.ask")
    about = _nonempty_list(spec.get("about"), where, f"{name}.ask.about")
    for i, item in enumerate(about):
        if not _string(item, where, f"{name}.ask.about[{i}]"):
            _fail(where, f"{name}.ask.about[{i}]", "empty", "name the parameter the question must ask for")
    return Expectation("response", response="ask", about=list(about))


def _check_literal(value: Any, where: str, name: str, allow_object: bool = False) -> None:
    """Literals are JSON values; TOML dates and such cannot come from a model's call."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if math.isfinite(value):
            return
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_literal(item, where, f"{name}[{i}]", allow_object=True)
        return
    elif isinstance(value, dict) and allow_object:
        for key, item in value.items():
            _check_literal(item, where, f"{name}.{key}", allow_object=True)
        return
    _fail(where, name, f"{_type_name(value)} {value!r} is not a JSON value",
          "give a string, number, boolean, list or null")


def _check_keys(raw: dict, allowed: tuple, where: str, name: str) -> None:
    for key in raw:
        if key not in allowed:
            _fail(where, f"{name}.{key}", "unknown key", f"use only {', '.join(allowed)}")


def _needs(raw: dict, key: str, other: str, where: str, name: str) -> None:
    if other not in raw:
        _fail(where, f"{name}.{key}", f"only applies together with {other}", f"add {other} or remove {key}")


def _nonempty_list(value: Any, where: str, name: str) -> list:
    if not isinstance(value, list) or not value:
        _fail(where, name, f"expected a non-empty list, got {value!r}", "give a list with at least one item")
    return value


def _choice(value: Any, choices: tuple, where: str, name: str) -> str:
    if value not in choices:
        _fail(where, name, f"unknown value {value!r}", f"use one of {', '.join(choices)}")
    return value


def _string(value: Any, where: str, name: str) -> str:
    if not isinstance(value, str):
        _fail(where, name, f"expected a string, got {_type_name(value)}", "quote the value")
    return value


def _number(value: Any, where: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(where, name, f"expected a number, got {_type_name(value)}", "give a number")
    return value


def _flag(raw: dict, key: str, where: str, name: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        _fail(where, f"{name}.{key}", f"expected true or false, got {value!r}", f"write {key} = true")
    return value


def _type_name(value: Any) -> str:
    return "table" if isinstance(value, dict) else type(value).__name__


def _fail(where: str, name: str, problem: str, fix: str):
    raise InputError(f"{where}: field {name!r}: {problem}; {fix}")
