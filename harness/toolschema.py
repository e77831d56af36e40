"""Tool definitions checked before anything runs: each `parameters` is a valid JSON Schema (checked
against its metaschema with jsonschema), names are unique, and every expectation can be met by them."""
import json
from functools import lru_cache

from harness.errors import InputError
from harness.expect import CallExpect, Expectation

SCHEMA_TYPES = ("string", "number", "integer", "boolean", "array", "object", "null")
# Keywords that make a schema's property names something only a validator can decide.
OPEN_KEYWORDS = ("patternProperties", "allOf", "anyOf", "oneOf", "$ref", "if", "dependentSchemas", "not")


def check_tools(tools: list[dict], where: str) -> None:
    """`tools` are flat {"name", "description", "parameters"}; `where` prefixes errors."""
    seen = set()
    for i, tool in enumerate(tools):
        if tool["name"] in seen:
            raise InputError(f"{where}[{i}] ('{tool['name']}'): a second tool of that name; give every tool "
                             f"a unique name")
        seen.add(tool["name"])
        params = tool["parameters"]
        if params.get("type", "object") != "object":
            raise InputError(f"{where}[{i}] ('{tool['name']}'): 'parameters' must be an object schema "
                             f"(type = \"object\"), got type {params['type']!r}")
        try:
            problem = schema_problem(json.dumps(params, sort_keys=True))
        except TypeError as e:  # a TOML date or time: JSON Schema has no such value
            raise InputError(f"{where}[{i}] ('{tool['name']}'): 'parameters' holds a value JSON cannot carry "
                             f"({e}); quote it as a string") from None
        if problem:
            raise InputError(f"{where}[{i}] ('{tool['name']}'): 'parameters' is not a valid JSON Schema: {problem}")


@lru_cache(maxsize=1024)
def schema_problem(schema_json: str) -> str | None:
    """The first fault of a JSON Schema against its metaschema ($schema, else draft 2020-12), or None.
    Keyed by the schema's JSON so a tool list shared by many cases is checked once."""
    from jsonschema.exceptions import best_match  # imported here: ~0.1 s, paid only by suites with tools
    from jsonschema.validators import validator_for

    schema = json.loads(schema_json)
    cls = validator_for(schema)
    error = best_match(cls(cls.META_SCHEMA).iter_errors(schema))
    if error is None:
        return None
    where = error.json_path.replace("$", "parameters", 1)
    if error.absolute_path and error.absolute_path[-1] == "type" and error.validator == "anyOf":
        return f"{where} = {error.instance!r} is not a type; use one of {', '.join(SCHEMA_TYPES)}"
    return f"{where}: {error.message}"


def check_expectation(exp: Expectation, tools: list[dict], where: str, name: str = "expect") -> None:
    """Refuse what no output could satisfy: a call with no tools offered, a tool the case does not define,
    an argument the tool's schema cannot have (unless it may be left out). Each alternative of any_of must be
    possible on its own."""
    if exp.kind == "any_of":
        for i, alt in enumerate(exp.alternatives):
            check_expectation(alt, tools, where, f"{name}.any_of[{i}]")
        return
    if exp.kind in ("direct", "any"):  # "any": only no_repeat, which no call at all also meets
        return
    if exp.kind == "response":  # a reply kind: "call" takes any call, even to a tool not offered
        return
    if not tools:
        raise InputError(f"{where}: field '{name}' expects a tool call but the case offers no tools; "
                         f"add tools to the case (or the suite) or expect \"direct\"")
    by_name = {t["name"]: t for t in tools}
    listed = "steps" if exp.kind == "steps" else "calls"
    for i, call in enumerate(exp.calls):
        field = name if exp.kind == "call" else f"{name}.{listed}[{i}]"
        tool = by_name.get(call.name)
        if tool is None:
            raise InputError(f"{where}: field '{field}.call': the case has no tool '{call.name}' (its tools: "
                             f"{', '.join(by_name)}); fix the name or add the tool")
        _check_arguments(call, tool["parameters"], where, field)
    if exp.final is not None:  # a rollout's last turn
        check_expectation(exp.final, tools, where, f"{name}.final")


def _check_arguments(call: CallExpect, schema: dict, where: str, field: str) -> None:
    closed = schema.get("additionalProperties") in (None, False)  # unset counts as closed: tools list what they take
    known = schema.get("properties", {} if schema.get("additionalProperties") is False else None)
    if not call.arguments or not closed or not isinstance(known, dict) or any(k in schema for k in OPEN_KEYWORDS):
        return  # extra names allowed, or only a validator could tell
    for arg, matcher in call.arguments.items():
        if arg not in known and not (matcher.absent or matcher.optional):  # those pass when it is left out
            raise InputError(f"{where}: field '{field}.arguments.{arg}': tool '{call.name}' has no parameter "
                             f"'{arg}' (its parameters: {', '.join(known) or 'none'}); fix the name or add it "
                             f"to the tool's schema")
