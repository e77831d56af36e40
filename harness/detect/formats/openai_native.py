"""API-shaped output instead of model text: an OpenAI assistant message (or a whole response, or a
bare `tool_calls` list) with `function.arguments` as a JSON string, legacy `function_call`,
Anthropic `tool_use` content blocks; and llama.cpp's generic `{"tool_call": ...}` /
`{"tool_calls": [...]}` / `{"response": ...}` JSON. Only as the whole answer."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import partial_name, to_call
from harness.detect.lenient import decode
from harness.detect.spec import Format, nothing, result, skip_ws
from harness.detect.trie import alternation

# Keys of API objects, found in one pass (each starts with a quote, which the regex engine scans for fast).
_KEYS = re.compile(alternation(('"tool_calls"', '"function_call"', '"tool_use"', '"tool_call"', '"choices"',
                                '"response"', '"function"')))


def _message(obj):
    """The assistant message inside a whole response, or obj itself."""
    if isinstance(obj.get("choices"), list) and obj["choices"] and isinstance(obj["choices"][0], dict):
        obj = obj["choices"][0]
    for key in ("message", "delta"):
        if isinstance(obj.get(key), dict):
            return obj[key]
    return obj


def _items(obj) -> tuple[str, list] | None:
    """(label, call items) of an API object, or None when it is not one."""
    if isinstance(obj, list):
        if obj and all(isinstance(x, dict) and (isinstance(x.get("function"), dict) or x.get("type") == "tool_use")
                       for x in obj):
            return "openai_native", obj
        return None
    obj = _message(obj)
    if isinstance(obj.get("tool_calls"), list):
        native = all(isinstance(x, dict) and "function" in x for x in obj["tool_calls"])
        return ("openai_native" if native else "llamacpp_generic"), obj["tool_calls"]
    if isinstance(obj.get("function_call"), dict):
        return "openai_native", [obj["function_call"]]
    if isinstance(obj.get("tool_call"), dict):
        return "llamacpp_generic", [obj["tool_call"]]
    if isinstance(obj.get("content"), list):
        return "openai_native", [b for b in obj["content"] if isinstance(b, dict) and b.get("type") == "tool_use"]
    if "response" in obj or obj.get("role") == "assistant":
        return "openai_native", []
    return None


def _parse(s, i, schema):
    if not s.startswith(("{", "[")) or not _KEYS.search(s):
        return None
    try:
        obj, end = decode(s, 0)
    except ValueError:  # cut off: keep the name of the call that was being written
        if '"function"' not in s and '"tool_call' not in s:
            return None
        name = partial_name(s, 0, len(s))
        return result("openai_native", [ToolCall(name, None)] if name else [], True, len(s))
    if skip_ws(s, end) != len(s) or not isinstance(obj, (dict, list)):
        return None
    found = _items(obj)
    if found is None:
        return None
    label, items = found
    if not items:
        return nothing(len(s))  # a message or a response without calls
    calls = [to_call(x) for x in items]
    return result(label, [c for c in calls if c], any(c is None for c in calls), len(s))


FORMAT = Format("openai_native", (), _parse, starts="{[")
