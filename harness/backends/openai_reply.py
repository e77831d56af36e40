"""Reading a chat-completions reply, streamed (SSE) or whole, as untrusted data: every field read is
type-checked, the text is kept as parts up to a limit (linear in the reply's size, never held past the
limit), and any surprise is a BadResponse naming the field, with a short redacted excerpt.
"""
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import msgspec

from harness.secrets import redact

EXCERPT_CHARS = 300
HEAD_BYTES = 8192  # of an error body: enough for the excerpt, never the whole of a gigantic one
MAX_OUTPUT_BYTES = 4_000_000  # default cap on one case's text (content, reasoning, call arguments): no more than
                              # a record keeps (scoring.MAX_OUTPUT_CHARS), so nothing is held only to be cut
MAX_TOKEN_COUNT = 2 ** 53  # a usage count above this is not a count
MAX_FINISH_REASON = 64


class BadResponse(Exception):
    """The server answered, but not with a usable completion: retrying would get the same."""


def excerpt(text: str) -> str:
    """Up to EXCERPT_CHARS of what a server sent, secrets redacted first so a cut never shows part of one."""
    text = redact(text).strip()
    return repr(text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…")


# Reading a reply. Every field read is listed here with the types it may have (null always may be); an
# object is checked against its list before any field is used. A new field (say `logprobs` of a choice)
# is a line here and a reader in Reply.
REPLY_FIELDS = {"choices": (list,), "usage": (dict,)}
USAGE_FIELDS = {"prompt_tokens": (int,), "completion_tokens": (int,)}
CHOICE_FIELDS = {"index": (int,), "delta": (dict,), "message": (dict,), "finish_reason": (str,)}
PART_FIELDS = {"content": (str,), "reasoning_content": (str,), "reasoning": (str,), "tool_calls": (list,)}
CALL_FIELDS = {"index": (int,), "id": (str,), "type": (str,), "function": (dict,)}
FUNCTION_FIELDS = {"name": (str,), "arguments": (str, dict)}
TYPE_WORDS = {str: "a string", int: "an integer", list: "a list", dict: "an object"}


def spot(where: tuple) -> str:
    """A field's path for a message, ("choices", 0, "delta") -> choices[0].delta; built only on a failure."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".") or "the reply"


def checked(obj, fields: dict, *where) -> dict:
    """obj, once it is an object whose listed fields are null or exactly of their types. Values come from
    the JSON parser, so an exact type check suffices, and it keeps a bool from passing for an int."""
    if type(obj) is not dict:
        raise BadResponse(f"{spot(where)} is {type(obj).__name__}, not an object")
    get = obj.get
    for key, types in fields.items():
        value = get(key)
        if value is not None and type(value) not in types:
            words = " or ".join(TYPE_WORDS[t] for t in types)
            raise BadResponse(f"{spot((*where, key))} is {type(value).__name__}, not {words}")
    return obj


def token_count(usage: dict, key: str) -> int | None:
    n = usage.get(key)
    if n is not None and not 0 <= n < MAX_TOKEN_COUNT:
        raise BadResponse(f"usage.{key} is {n}, not a token count")
    return n


@dataclass
class Call:
    """One tool call assembled from a whole message or stream deltas: arguments as string pieces or an object."""
    name: str = ""
    pieces: list = field(default_factory=list)
    whole: dict | None = None

    def arguments(self):
        return self.whole if self.whole is not None else "".join(self.pieces)


@dataclass
class Reply:
    """A completion assembled from a whole response or from stream deltas, text kept as parts (linear)."""
    limit: int = MAX_OUTPUT_BYTES  # bytes of text kept; the rest is dropped and `truncated` set
    content: list = field(default_factory=list)
    reasoning: list = field(default_factory=list)
    calls: dict = field(default_factory=dict)  # index -> Call
    top: int = -1  # the highest call index yet, so a call without an index finds its place in O(1)
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_s: float | None = None
    done: bool = False  # the stream sent [DONE]
    kept: int = 0  # bytes of text held
    truncated: bool = False

    def take(self, obj, key: str) -> None:
        """Fold in a response ("message") or a stream chunk ("delta"), checking every field read."""
        checked(obj, REPLY_FIELDS)
        if obj.get("error") is not None:
            raise BadResponse("server error")
        if usage := obj.get("usage"):
            checked(usage, USAGE_FIELDS, "usage")
            self.prompt_tokens = token_count(usage, "prompt_tokens")
            self.completion_tokens = token_count(usage, "completion_tokens")
        for i, choice in enumerate(obj.get("choices") or ()):
            checked(choice, CHOICE_FIELDS, "choices", i)
            if choice.get("index") in (None, 0):
                self.take_choice(choice, key, i)

    def take_choice(self, choice: dict, key: str, i: int) -> None:
        if part := choice.get(key):
            checked(part, PART_FIELDS, "choices", i, key)
            self.keep(self.content, part.get("content"))
            # mlx_lm.server and Ollama say `reasoning`, vLLM and SGLang `reasoning_content`
            self.keep(self.reasoning, part.get("reasoning_content") or part.get("reasoning"))
            for n, tc in enumerate(part.get("tool_calls") or ()):
                self.take_call(tc, ("choices", i, key, "tool_calls", n))
        if finish := choice.get("finish_reason"):
            if len(finish) > MAX_FINISH_REASON:
                raise BadResponse(f"choices[{i}].finish_reason is {len(finish)} characters long")
            self.finish_reason = finish

    def take_call(self, tc, where: tuple) -> None:
        # a call arrives whole or as deltas by index; arguments deltas are string pieces
        fn = checked(checked(tc, CALL_FIELDS, *where).get("function") or {}, FUNCTION_FIELDS, *where, "function")
        name, args, index = fn.get("name"), fn.get("arguments"), tc.get("index")
        if index is None:
            index = self.top + 1 if name or not self.calls else self.top  # a name starts a new call
        elif index < 0:
            raise BadResponse(f"{spot(where)}.index is {index}, not a position")
        self.top = max(self.top, index)
        call = self.calls.setdefault(index, Call())
        call.name = name or call.name
        if isinstance(args, dict):
            call.whole, call.pieces = args, []
        elif args is not None:
            call.whole = None
            self.keep(call.pieces, args)

    def keep(self, parts: list, text: str | None) -> None:
        """Append text while the reply is under its limit; past it, keep the part that fits and flag it."""
        if not text or self.truncated:
            return
        size = len(text) if text.isascii() else len(text.encode())
        if self.kept + size > self.limit:
            text = text.encode()[:self.limit - self.kept].decode(errors="ignore")
            size, self.truncated = len(text.encode()), True
        parts.append(text)
        self.kept += size

    def has_output(self) -> bool:
        return bool(self.content or self.reasoning or self.calls)

    def output(self) -> str:
        content = "".join(self.content)
        return f"<think>{''.join(self.reasoning)}</think>{content}" if self.reasoning else content

    def tool_calls(self) -> list | None:
        return [{"function": {"name": self.calls[i].name, "arguments": self.calls[i].arguments()}}
                for i in sorted(self.calls)] or None


# strict (no NaN, lone surrogates, invalid UTF-8 or numbers out of range) and fast: replies are untrusted
JSON = msgspec.json.Decoder()


def parse_json(data: bytes | str):
    try:
        return JSON.decode(data)
    except (msgspec.DecodeError, RecursionError) as e:  # RecursionError: a nesting bomb
        raise BadResponse(f"not JSON: {str(e)[:120]}") from None


def text_of(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", "replace")


def read_json(body: bytes | str, limit: int = MAX_OUTPUT_BYTES) -> Reply:
    reply = Reply(limit=limit)
    try:
        data = parse_json(body)
        if not isinstance(data, dict) or not ("choices" in data or "error" in data):
            raise BadResponse("not a chat completion")
        reply.take(data, "message")
    except BadResponse as e:
        raise BadResponse(f"server sent an invalid reply ({e}): {excerpt(text_of(body))}") from None
    return reply


def read_stream(lines: Iterable[bytes], t0: float, limit: int = MAX_OUTPUT_BYTES) -> Reply:
    """Fold SSE `data:` lines into a Reply; stops early once the text reaches `limit`."""
    reply, last = Reply(limit=limit), b""
    for line in lines:
        if line:
            last = line
        if not line.startswith(b"data:"):
            continue  # blank separators, ": keepalive" comments, event names
        data = line[5:]  # the JSON parser skips the blank after "data:"
        if len(data) < 16 and data.strip() == b"[DONE]":
            reply.done = True
            break
        try:
            reply.take(parse_json(data), "delta")
        except BadResponse as e:
            raise BadResponse(f"invalid stream chunk ({e}): {excerpt(text_of(data))}") from None
        if reply.ttft_s is None and reply.has_output():
            reply.ttft_s = time.perf_counter() - t0
        if reply.truncated:
            return reply  # the rest of the reply is never read, so never held
    if not reply.done and reply.finish_reason is None:
        raise BadResponse(f"stream ended before the answer was complete (no finish_reason, no [DONE]); "
                          f"last line: {excerpt(text_of(last))}")
    return reply


def until(chunks: Iterable[bytes], deadline: float, limit_s: float, max_bytes: int) -> Iterator[bytes]:
    """The chunks of a body, cut off once the whole reply has taken longer than limit_s or sent max_bytes."""
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if time.perf_counter() > deadline:
            raise BadResponse(f"the reply was not finished after {limit_s:g} s (reply_timeout_s)")
        if size > max_bytes:
            raise BadResponse(f"the reply went on past {max_bytes} bytes without reaching max_output_bytes of text")
        yield chunk


def sse_lines(chunks: Iterable[bytes], max_line: int) -> Iterator[bytes]:
    """Lines of a byte stream split on LF (CRLF too), as bytes: the JSON parser checks UTF-8 itself. Each
    chunk's complete lines are split in one call; only the unfinished last line waits, as a list of pieces."""
    pending, pending_len, number = [], 0, 0
    for chunk in chunks:
        end = chunk.rfind(b"\n")
        if end < 0:
            pending.append(chunk)
            pending_len += len(chunk)
            if pending_len > max_line:
                raise BadResponse(f"line {number + 1} of the stream is over {max_line} bytes (max_output_bytes)")
            continue
        block = b"".join([*pending, chunk[:end]]) if pending else chunk[:end]
        pending, pending_len = ([chunk[end + 1:]], len(chunk) - end - 1) if end + 1 < len(chunk) else ([], 0)
        lines = block.split(b"\n")
        number += len(lines)
        for line in lines:
            yield line[:-1] if line.endswith(b"\r") else line
    if pending_len:
        line = b"".join(pending)
        yield line[:-1] if line.endswith(b"\r") else line


def first_bytes(chunks: Iterable[bytes], n: int) -> bytes:
    """A body's first n bytes (or a little more), reading no further: the rest is never held."""
    parts, size = [], 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size >= n:
            break
    return b"".join(parts)


def read_body(chunks: Iterable[bytes], cap: int) -> bytes:
    body = first_bytes(chunks, cap + 1)
    if len(body) > cap:
        raise BadResponse(f"the reply body is over {cap} bytes (raise max_output_bytes to accept it)")
    return body


def head(chunks: Iterable[bytes]) -> str:
    """The start of an error body, as text for an excerpt."""
    return first_bytes(chunks, HEAD_BYTES)[:HEAD_BYTES].decode("utf-8", "replace")
