"""Calls written as XML-ish markup, "a call tag naming the tool, then one tag per parameter": the
reader shared by Anthropic/MiniMax/DSML/Step-3 `<invoke>`, Qwen3-Coder/Seed `<function=>` and the
GLM/Hunyuan/LongCat `<arg_key>` families. Each family is one Dialect.

Models drop or garble closing tags; like vLLM and Ollama the reader recovers: a parameter that is
never closed ends where the next parameter or the call ends, a closer with junk before its `>`
(`</parameter/>`) or written twice still closes, and a call whose closer is missing ends at the
wrapper's closer or the next call. Only a call cut off by the end of the text has unknown arguments."""
import re
from dataclasses import dataclass

from harness.detect.base import ToolCall
from harness.detect.lenient import decode
from harness.detect.spec import Format, find_ahead, marker_at, result, skip_ws
from harness.detect.values import xml_value

# Wrappers that several formats share: a wrapper followed by nothing tells us nothing.
_SHARED = ("<tool_call>", "<tool_calls>", "<function_calls>")
_JUNK = 16  # characters a garbled closer may hold before its `>`


@dataclass(frozen=True)
class Dialect:
    """The tags of one family of XML-style calls."""
    call_prefix: str        # how every call starts, e.g. "<invoke"
    claim: re.Pattern       # matched at the first call: is this text this dialect (or a cut-off start of it)?
    call_open: re.Pattern   # a complete call header; group 1 = tool name
    call_close: str
    param_prefix: str
    param_open: re.Pattern  # a complete parameter header; group 1 = key; group "string" (optional) = DSML flag
    param_close: str
    # Inside a value, where a new parameter begins even though the value was never closed.
    param_restart: str


def invoke_dialect(ns: str = "") -> Dialect:
    """`<NSinvoke name="f"><NSparameter name="k">v</NSparameter></NSinvoke>` (Anthropic, MiniMax-M2, DSML, Step-3)."""
    name = r"""\s+name\s*=\s*["']?([^"'>]+?)["']?"""
    flag = r"""(?:\s+string\s*=\s*["'](?P<string>true|false)["'])?"""
    return Dialect(
        call_prefix=f"<{ns}invoke",
        claim=re.compile(rf"<{ns}invoke(?:\s+name\s*=|\s*\Z)"),
        call_open=re.compile(rf"<{ns}invoke{name}\s*>"),
        call_close=f"</{ns}invoke>",
        param_prefix=f"<{ns}parameter",
        param_open=re.compile(rf"<{ns}parameter{name}{flag}\s*>"),
        param_close=f"</{ns}parameter>",
        param_restart=f"<{ns}parameter name=",
    )


def key_value_dialect(call: str, key: str, value: str, after_name: str = r"(?=\s|<)") -> Dialect:
    """`<CALL>name<KEY>k</KEY><VALUE>v</VALUE></CALL>` (GLM, Hunyuan, LongCat); `after_name` says
    what ends a complete name."""
    name = r"<%s>\s*([A-Za-z_][\w.\-]*)%s" % (call, after_name)
    return Dialect(
        call_prefix=f"<{call}>",
        claim=re.compile(name),
        call_open=re.compile(name),
        call_close=f"</{call}>",
        param_prefix=f"<{key}>",
        param_open=re.compile(rf"<{key}>([^<]*)(?:</{key}>\s*)+<{value}>"),  # a doubled </KEY> is tolerated
        param_close=f"</{value}>",
        param_restart=f"<{key}>",
    )


def xml_format(label: str, markers: tuple[str, ...], d: Dialect, name_follows: str = "") -> Format:
    """A format made of Dialect calls, announced by a wrapper or by the call prefix itself. After a wrapper
    the call prefix follows; after the call prefix as marker, the characters `name_follows` (any if empty)."""
    def parse(text, i, schema):
        marker = marker_at(text, i, markers)
        j = i if marker == d.call_prefix else skip_ws(text, i + len(marker))
        if not text.startswith(d.call_prefix, j):
            cut = len(text) - j < len(d.call_prefix) and d.call_prefix.startswith(text[j:])
            if cut and (j < len(text) or marker not in _SHARED):
                return result(label, [], True, len(text))  # cut off right after the wrapper
            return None
        if not d.claim.match(text, j):
            return None
        stops = (d.call_prefix,) if marker == d.call_prefix else (d.call_prefix, "</" + marker[1:])
        calls, bad, end = read_calls(text, j, d, schema, stops)
        return result(label, calls, bad, end)
    follows = {m: d.call_prefix[0] for m in markers if m != d.call_prefix}
    if name_follows and d.call_prefix in markers:
        follows[d.call_prefix] = name_follows
    return Format(label, markers, parse, follows=follows)


def read_calls(text: str, j: int, d: Dialect, schema, stops: tuple[str, ...]) -> tuple[list[ToolCall], bool, int]:
    """The calls written back to back from j; `stops` end a call whose closer is missing."""
    calls = []
    while True:
        m = d.call_open.match(text, j)
        if not m:  # the header is cut off or garbled: the name is not known
            return calls, True, len(text)
        name = m.group(1).strip()
        args, end = _params(text, m.end(), d, schema, name, stops)
        calls.append(ToolCall(name, args))
        if args is None:
            return calls, True, end
        j = skip_ws(text, end)
        if not text.startswith(d.call_prefix, j):
            return calls, False, end


def closer_end(text: str, p: int, tag: str) -> int:
    """The end of closing tag `tag` at p, also when garbled before its `>` (`</parameter/>`,
    `</parameter1>`); -1 when there is none."""
    if text.startswith(tag, p):
        return p + len(tag)
    q = p + len(tag) - 1
    if not text.startswith(tag[:-1], p):
        return -1
    k = text.find(">", q, q + _JUNK + 1)
    return k + 1 if k >= 0 and "<" not in text[q:k] and "\n" not in text[q:k] else -1


def _params(text: str, p: int, d: Dialect, schema, name: str, stops) -> tuple[dict | None, int]:
    """The parameters of one call and the index after it; None when the call is cut off (the
    arguments are unknown) or its body is unreadable."""
    args, n = {}, len(text)
    structure = (d.param_prefix, d.call_close[:-1]) + stops  # what may follow a parameter's closer
    while True:
        p = skip_ws(text, p)
        close = closer_end(text, p, d.call_close)
        if close >= 0:
            return args, close
        if p >= n:
            return None, n
        if text.startswith(stops, p):  # the closer is missing, but the wrapper or the next call shows the end
            return args, p
        m = d.param_open.match(text, p)
        if m:
            end, p = _value_end(text, m.end(), d, stops, structure)
            if end < 0:
                return None, n
            key = m.group(1).split("<")[0].strip() or m.group(1).strip()
            is_string = (m.groupdict().get("string") or "") == "true"
            args[key] = xml_value(text[m.end():end], schema.types(name, key), is_string)
            continue
        if text[p] == "{" and not args:  # a JSON object as the whole body (DeepSeek V4, Qwen3-Coder variants)
            try:
                value, after = decode(text, p)
            except ValueError:
                value = None
            if isinstance(value, dict):
                args, p = value, after
                continue
        close = find_ahead(text, d.call_close, p)
        return None, (close + len(d.call_close) if close >= 0 else n)


_CLOSERS: dict[tuple[str, tuple[str, ...]], tuple] = {}  # (closer, structure) -> the two searches below


def _closers(close: str, structure: tuple[str, ...]) -> tuple:
    """Searches for a parameter's closer (closer_end's rule), with the closers written again right
    after it: the first such run that structure follows, and the first one at all. Compiled once
    per dialect and wrapper, on first use (import time counts in every command)."""
    found = _CLOSERS.get((close, structure))
    if found is None:
        one = re.escape(close[:-1]) + "[^<>\n]{0,%d}>" % _JUNK
        run = f"{one}(?:\\s*{one})*+"
        after = "|".join(map(re.escape, structure))
        found = _CLOSERS[close, structure] = (re.compile(f"{run}(?=\\s*(?:{after}|\\Z))").search, re.compile(run).search)
    return found


def _value_end(text: str, start: int, d: Dialect, stops, structure) -> tuple[int, int]:
    """Where a parameter value ends and where reading resumes; (-1, len) when it is cut off. A
    closer counts only when structure follows it (the text's end, a parameter, the call's end),
    so a value holding a literal `</parameter>` stays whole; else the first closer counts, and a
    value never closed ends at the next parameter or at the end of the call."""
    n, k = len(text), find_ahead(text, d.param_close[:-1], start)  # remembered: no pass when no closer is ahead
    if k >= 0:
        structural, anywhere = _closers(d.param_close, structure)
        m = structural(text, k) or anywhere(text, k)
        k, resume = (m.start(), m.end()) if m else (-1, n)
    if k >= 0:
        restart = text.find(d.param_restart, start, k)
        if restart >= 0 and d.param_open.match(text, restart + (d.param_restart[0] == "\n")):
            return restart, restart
        return k, resume
    ends = [e for e in (find_ahead(text, s, start) for s in (d.param_prefix, d.call_close) + stops) if e >= 0]
    return (min(ends), min(ends)) if ends else (-1, n)
