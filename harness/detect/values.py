"""Argument values: the tool schemas a caller passes, XML-style raw values typed by the convention
(strip one newline each side, JSON if it parses, else string) or by the declared schema type."""
import json
import re
from dataclasses import dataclass, field

from harness.detect.lenient import loads

_JSON = json.JSONDecoder(strict=False)
_JSON_SPACE = re.compile(r"[ \t\n\r]*")  # what json's decode skips before a value
_JSON_STARTS = '{["-0123456789tfnNI'
_INTEGER = re.compile(r"\s*[-+]?\d+\s*")
_FLOAT = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")
# Type names that chat templates and schemas use besides the JSON-schema ones.
_ALIASES = {"str": "string", "text": "string", "varchar": "string", "char": "string", "enum": "string",
            "int": "integer", "float": "number", "double": "number", "bool": "boolean",
            "dict": "object", "list": "array", "none": "null"}
_NO = object()


@dataclass(frozen=True)
class Schema:
    """Declared parameter types per tool: {tool: {param: ("integer", ...)}}."""
    params: dict = field(default_factory=dict)

    def types(self, tool: str, param: str) -> tuple[str, ...] | None:
        return self.params.get(tool, {}).get(param) if self.params else None


NO_SCHEMA = Schema()


def schema_from_tools(tools) -> Schema:
    """Tools as {"name", "parameters"} or OpenAI {"type": "function", "function": {...}}; bad entries are skipped."""
    if not isinstance(tools, list):
        return NO_SCHEMA
    params = {}
    for tool in tools:
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
            tool = tool["function"]
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            continue
        spec = tool.get("parameters") or tool.get("input_schema") or {}
        props = spec.get("properties") if isinstance(spec, dict) else None
        if isinstance(props, dict):
            params[tool["name"]] = {k: _declared(v) for k, v in props.items() if isinstance(k, str)}
    return Schema(params) if params else NO_SCHEMA


_PREPARED: dict[int, tuple[list, Schema]] = {}  # id(tools) -> (tools, schema): a suite's list is read once


def prepared_schema(tools) -> Schema:
    """schema_from_tools, cached by the identity of the tools list (a suite passes the same list for
    every case); the list is kept so that its id cannot be reused by another list."""
    if not tools:
        return NO_SCHEMA
    hit = _PREPARED.get(id(tools))
    if hit is not None and hit[0] is tools:
        return hit[1]
    if len(_PREPARED) >= 64:
        _PREPARED.clear()
    schema = _PREPARED[id(tools)] = (tools, schema_from_tools(tools))
    return schema[1]


def _declared(prop) -> tuple[str, ...]:
    if not isinstance(prop, dict):
        return ()
    kind = prop.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    for key in ("anyOf", "oneOf"):
        if isinstance(prop.get(key), list):
            for alt in prop[key]:
                kinds.extend(_declared(alt))
    if not kinds and "enum" in prop:
        kinds = ["string"]
    return tuple(_ALIASES.get(str(k).lower(), str(k).lower()) for k in kinds)


def strip_newline(raw: str) -> str:
    """Exactly one leading and one trailing newline belong to the markup, not the value."""
    if raw.startswith("\n"):
        raw = raw[1:]
    if raw.endswith("\n"):
        raw = raw[:-1]
    return raw


def json_or_text(text: str):
    """JSON if the text is JSON; a Python-literal dict or list ({'a': True}) as the JSON it means,
    like pythonic calls; else the text itself."""
    k = _JSON_SPACE.match(text).end()
    if k < len(text) and text[k] in _JSON_STARTS:  # text that cannot be JSON skips the costly decode error
        try:
            return _JSON.decode(text)
        except (ValueError, RecursionError):
            pass
    if text.lstrip()[:1] in ("{", "["):
        try:
            value = loads(text)
        except ValueError:
            return text
        if isinstance(value, (dict, list)):
            return value
    return text


def xml_value(raw: str, types: tuple[str, ...] | None = None, is_string: bool = False):
    """Type one raw XML-style parameter value."""
    text = strip_newline(raw)
    if is_string:
        return text
    if types:
        return coerce(text, types)
    return json_or_text(text)


def coerce(text: str, types: tuple[str, ...]):
    """The value as the first declared type it fits; a string when declared or when nothing fits."""
    if "null" in types and text.strip() in ("null", "None"):
        return None
    if "string" in types:
        return text
    for kind in types:
        value = _AS.get(kind, _none)(text)
        if value is not _NO:
            return value
    return json_or_text(text)


def _none(text):
    return _NO


def _integer(text):
    if _INTEGER.fullmatch(text):
        return int(text)
    number = _number(text)
    return int(number) if isinstance(number, float) and number.is_integer() else _NO


def _number(text):
    if _INTEGER.fullmatch(text):
        return int(text)
    return float(text) if _FLOAT.fullmatch(text) else _NO


def _boolean(text):
    return {"true": True, "false": False}.get(text.strip().lower(), _NO)


def _container(kind):
    def convert(text):
        try:
            value = loads(text)  # JSON, or a Python literal such as {'k': 'v', 'x': True}
        except ValueError:
            return _NO
        return value if isinstance(value, kind) else _NO
    return convert


_AS = {"integer": _integer, "number": _number, "boolean": _boolean,
       "object": _container(dict), "array": _container(list)}
