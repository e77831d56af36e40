"""Gemma: Gemma 4 `<|tool_call>call:NAME{key:<|"|>text<|"|>,n:42}<tool_call|>`, FunctionGemma
`<start_function_call>call:NAME{key:<escape>text<escape>}<end_function_call>`, and Gemma 2/3
prompted ```` ```tool_code ```` fences holding Python calls (the fence is the marker here)."""
from harness.detect.base import ToolCall
from harness.detect.lenient import decode
from harness.detect.python_calls import read_calls, read_kwargs
from harness.detect.spec import NAME, Format, result, skip_ws


def _call_blocks(label: str, tag: str, delim: str) -> Format:
    """A block after `tag` holding one or more back-to-back `call:NAME{...}` (or degraded `call:NAME(k=v)`)."""
    def parse(text, i, schema):
        calls, n = [], len(text)
        p = skip_ws(text, i + len(tag))
        if not text.startswith("call:", p):
            return result(label, [], True, p)
        while text.startswith("call:", p):
            m = NAME.match(text, p + 5)
            if not m or m.end() >= n:  # no name, or one that may be cut off
                return result(label, calls, True, n)
            try:
                if text[m.end()] == "(":
                    args, p = read_kwargs(text, m.end() + 1)
                else:
                    args, p = decode(text, m.end(), delim)
            except ValueError:
                args = None
            if not isinstance(args, dict):
                return result(label, calls + [ToolCall(m.group(), None)], True, n)
            calls.append(ToolCall(m.group(), args))
            p = skip_ws(text, p + (text.startswith(",", p)))
        return result(label, calls, False, p)
    return Format(label, (tag,), parse)


def _tool_code(text, i, schema):
    calls, bad, end = read_calls(text, skip_ws(text, i + len("```tool_code")), "```")
    return result("gemma_tool_code", calls, bad, end)


GEMMA4 = _call_blocks("gemma4", "<|tool_call>", '<|"|>')
FUNCTIONGEMMA = _call_blocks("functiongemma", "<start_function_call>", "<escape>")
TOOL_CODE = Format("gemma_tool_code", ("```tool_code",), _tool_code)
