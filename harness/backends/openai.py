"""Any OpenAI-compatible chat-completions server: vLLM, SGLang, llama.cpp server, Ollama, mlx_lm.server,
hosted APIs. The server renders the prompt and may parse tool calls itself.

Each request streams, to time the first token; `concurrency` requests are in flight at once on threads
sharing one httpx client, and each Generation is yielded as it finishes. Timeouts, dropped connections,
429 and 5xx are retried with exponential backoff; a case that still fails is a backend error.
Reasoning a server returns apart (`reasoning_content` or `reasoning`) is put back before the content as
`<think>…</think>`, so the detection conventions treat it as they treat an in-process model's reasoning.
"""
import hashlib
import json
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Iterator

from harness.backends.base import Backend, Generation, LoadInfo, Request
from harness.errors import InputError
from harness.models import ModelSpec
from harness.options import Option
from harness.suite import Case, openai_tools

EXCERPT_CHARS = 300
MAX_WAIT_S = 60.0  # cap on one backoff or Retry-After, so one case never stalls a run for long


class Retryable(Exception):
    """A failure that may pass: timeout, dropped connection, 429, 5xx."""

    def __init__(self, message: str, wait_s: float | None = None):
        super().__init__(message)
        self.wait_s = wait_s  # the server's Retry-After, when it sent one


class BadResponse(Exception):
    """The server answered, but not with a usable completion: retrying would get the same."""


@dataclass
class Settings:
    base_url: str
    model: str
    api_key_env: str | None = None
    concurrency: int = 1
    timeout_s: float = 120.0  # longest wait to connect or for the next bytes of a reply
    max_retries: int = 4
    backoff_s: float = 1.0  # first retry waits about this long, doubling after
    extra_body: dict = field(default_factory=dict)


def read_settings(spec: ModelSpec) -> Settings:
    """The entry's settings; models.py has checked their types and ranges against OpenAIBackend.options."""
    o, where = spec.options, spec.source
    s = Settings(base_url=o["base_url"].rstrip("/"), model=o["model"], api_key_env=o.get("api_key_env"),
                 concurrency=o.get("concurrency", 1), timeout_s=float(o.get("timeout_s", 120.0)),
                 max_retries=o.get("max_retries", 4), backoff_s=float(o.get("backoff_s", 1.0)),
                 extra_body=o.get("extra_body", {}))
    if not s.base_url.startswith(("http://", "https://")):
        raise InputError(f"{where}: 'base_url' must be an http(s) URL such as http://127.0.0.1:8080/v1, got {s.base_url!r}")
    return s


def excerpt(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…")


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def backoff_s(attempt: int, base: float) -> float:
    # jitter spreads the retries of concurrent requests so they do not hit a recovering server together
    return min(MAX_WAIT_S, base * 2 ** attempt) * random.uniform(0.5, 1.0)


def wire_call(call: dict) -> dict:
    fn = call.get("function") or {}
    args = fn.get("arguments", {})
    return {**call, "type": call.get("type", "function"),
            "function": {**fn, "arguments": args if isinstance(args, str) else json.dumps(args)}}


def wire_messages(messages: list[dict]) -> list[dict]:
    """Suites may write an assistant call's arguments as a table; the API wants a JSON string."""
    return [dict(m, tool_calls=[wire_call(c) for c in m["tool_calls"]]) if m.get("tool_calls") else m
            for m in messages]


def request_body(spec: ModelSpec, s: Settings, case: Case, sample: int, messages: list[dict] | None = None) -> dict:
    """`messages`: the conversation so far when it goes beyond the case's own (a rollout's later turns)."""
    body = {"model": s.model, "messages": wire_messages(messages or case.messages), "temperature": spec.temperature,
            "top_p": spec.top_p, "max_tokens": spec.max_tokens, "seed": spec.seed + sample,
            "stream": True, "stream_options": {"include_usage": True}}
    if case.tools:
        body["tools"] = openai_tools(case.tools)
    if spec.chat_template_kwargs:
        body["chat_template_kwargs"] = spec.chat_template_kwargs
    if spec.extra_eos_tokens:
        body["stop"] = spec.extra_eos_tokens
    body.update(s.extra_body)
    return body


@dataclass
class Reply:
    """A completion assembled from a whole response or from stream deltas."""
    content: str = ""
    reasoning: str = ""
    calls: dict = field(default_factory=dict)  # index -> {"name", "arguments"}
    finish_reason: str | None = None
    usage: dict = field(default_factory=dict)
    ttft_s: float | None = None
    done: bool = False  # the stream sent [DONE]

    def take(self, obj: dict, key: str) -> None:
        """Fold in a response ("message") or a stream chunk ("delta")."""
        if obj.get("error"):
            raise BadResponse(f"server error: {excerpt(json.dumps(obj['error']))}")
        self.usage = obj.get("usage") or self.usage
        for choice in obj.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            part = choice.get(key) or {}
            self.content += part.get("content") or ""
            self.reasoning += part.get("reasoning_content") or part.get("reasoning") or ""
            for tc in part.get("tool_calls") or []:
                self.add_call(tc)
            self.finish_reason = choice.get("finish_reason") or self.finish_reason

    def add_call(self, tc: dict) -> None:
        # a call arrives whole or as deltas by index; arguments deltas are string pieces
        fn = tc.get("function") or {}
        index = tc.get("index")
        if index is None:
            index = len(self.calls) if fn.get("name") or not self.calls else max(self.calls)
        slot = self.calls.setdefault(index, {"name": "", "arguments": ""})
        slot["name"] = fn.get("name") or slot["name"]
        args = fn.get("arguments")
        if isinstance(args, str) and isinstance(slot["arguments"], str):
            slot["arguments"] += args
        elif args is not None:
            slot["arguments"] = args

    def has_output(self) -> bool:
        return bool(self.content or self.reasoning or self.calls)

    def output(self) -> str:
        return f"<think>{self.reasoning}</think>{self.content}" if self.reasoning else self.content

    def tool_calls(self) -> list | None:
        return [{"function": self.calls[i]} for i in sorted(self.calls)] or None


def read_json(text: str) -> Reply:
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or not ("choices" in data or "error" in data):
            raise BadResponse(f"server sent JSON that is not a chat completion: {excerpt(text)}")
        reply = Reply()
        reply.take(data, "message")
    except (ValueError, TypeError, AttributeError) as e:
        raise BadResponse(f"server sent invalid JSON ({type(e).__name__}): {excerpt(text)}") from None
    return reply


def read_stream(lines: Iterator[str], t0: float) -> Reply:
    reply, last = Reply(), ""
    for line in lines:
        if line.strip():
            last = line
        if not line.startswith("data:"):
            continue  # blank separators, ": keepalive" comments, event names
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            reply.done = True
            break
        try:
            reply.take(json.loads(data), "delta")
        except (ValueError, TypeError, AttributeError) as e:
            raise BadResponse(f"server sent an invalid stream chunk ({type(e).__name__}): {excerpt(data)}") from None
        if reply.ttft_s is None and reply.has_output():
            reply.ttft_s = time.perf_counter() - t0
    if not reply.done and reply.finish_reason is None:
        raise BadResponse(f"stream ended before the answer was complete (no finish_reason, no [DONE]); "
                          f"last line: {excerpt(last)}")
    return reply


class OpenAIBackend(Backend):
    options = {
        "base_url": Option(str, "the server's OpenAI-compatible base URL, ending in /v1", required=True),
        "model": Option(str, "the model name the server knows", required=True),
        "api_key_env": Option(str, "environment variable holding the API key (never written anywhere)"),
        "concurrency": Option(int, "requests in flight at once", min=1),
        "timeout_s": Option((int, float), "longest wait to connect or for the next bytes", min=0, exclusive_min=True),
        "max_retries": Option(int, "retries of timeouts, 429 and 5xx", min=0),
        "backoff_s": Option((int, float), "first retry wait, doubling after", min=0),
        "extra_body": Option(dict, "extra request fields passed through"),
    }

    def identity(self) -> dict:
        return {"base_url": self.spec.options.get("base_url"), "served_model": self.spec.options.get("model")}

    def load(self) -> LoadInfo:
        import httpx

        s = self.settings = read_settings(self.spec)
        headers = {}
        if s.api_key_env:
            key = os.environ.get(s.api_key_env)
            if not key:
                raise InputError(f"{self.spec.source}: environment variable {s.api_key_env} (api_key_env) is not set; "
                                 f"export it with the server's API key")
            headers["Authorization"] = f"Bearer {key}"
        limits = httpx.Limits(max_connections=s.concurrency, max_keepalive_connections=s.concurrency)
        self.client = httpx.Client(headers=headers, timeout=s.timeout_s, limits=limits)
        self.stop, self.lock = threading.Event(), threading.Lock()
        self.details = {"mode": "sequential" if s.concurrency == 1 else "concurrent", "concurrency": s.concurrency,
                        "retries": 0}
        t0 = time.perf_counter()
        self.check_server()
        return LoadInfo(load_s=time.perf_counter() - t0, details={"base_url": s.base_url, "model": s.model})

    def check_server(self) -> None:
        """Fail fast, with the fix, when nothing answers; /health covers servers whose /models is broken."""
        import httpx

        problems = []
        for url in (f"{self.settings.base_url}/models", f"{self.settings.base_url.removesuffix('/v1')}/health"):
            try:
                r = self.client.get(url)
                if r.status_code < 400:
                    return
                if r.status_code in (401, 403):
                    raise InputError(f"{self.spec.source}: {url} refused the request (HTTP {r.status_code}); set "
                                     f"'api_key_env' to the name of an environment variable holding a valid API key")
                problems.append(f"GET {url}: HTTP {r.status_code} {excerpt(r.text)}")
            except httpx.HTTPError as e:
                problems.append(f"GET {url}: {type(e).__name__}: {e}")
        raise InputError(f"{self.spec.source}: no OpenAI-compatible server answers at {self.settings.base_url} "
                         f"({'; '.join(problems)}); start the server (e.g. `python -m mlx_lm server --model PATH "
                         f"--port 8080`, `vllm serve MODEL`) or fix 'base_url'")

    def generate(self, requests: list[Request]) -> Iterator[Generation]:
        pool = ThreadPoolExecutor(max_workers=self.settings.concurrency, thread_name_prefix="harness-openai")
        t0 = time.perf_counter()
        try:
            for n, done in enumerate(as_completed([pool.submit(self.complete, r) for r in requests]), 1):
                elapsed = time.perf_counter() - t0
                self.details.update(generate_s=elapsed, cases_per_s=n / elapsed)
                yield done.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def complete(self, request: Request) -> Generation:
        s = self.settings
        body = request_body(self.spec, s, request.case, request.sample, request.messages)
        prompt = {k: body.get(k) for k in ("messages", "tools", "chat_template_kwargs")}
        gen = Generation(case_id=request.case.id, sample=request.sample, output="",
                         prompt_sha256=hashlib.sha256(json.dumps(prompt, sort_keys=True).encode()).hexdigest(),
                         timing=self.details["mode"])
        wait = 0.0
        for attempt in range(s.max_retries + 1):
            if attempt:
                if self.stop.wait(wait):
                    break  # the run is closing: no more retries
                with self.lock:
                    self.details["retries"] += 1
            t0 = time.perf_counter()
            try:
                reply = self.post(body, t0)
            except BadResponse as e:
                gen.error = str(e)
                return gen
            except Retryable as e:
                gen.error = f"{e} (after {attempt + 1} attempts)"
                wait = backoff_s(attempt, s.backoff_s) if e.wait_s is None else min(MAX_WAIT_S, e.wait_s)
                continue
            usage = reply.usage
            gen.output, gen.tool_calls, gen.finish_reason = reply.output(), reply.tool_calls(), reply.finish_reason
            gen.prompt_tokens, gen.completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
            gen.latency_s, gen.ttft_s, gen.error = time.perf_counter() - t0, reply.ttft_s, None
            return gen
        return gen

    def post(self, body: dict, t0: float) -> Reply:
        import httpx

        url = f"{self.settings.base_url}/chat/completions"
        try:
            with self.client.stream("POST", url, json=body) as r:
                if r.status_code == 429 or r.status_code >= 500:
                    r.read()
                    raise Retryable(f"HTTP {r.status_code} from {url}: {excerpt(r.text)}",
                                    retry_after_s(r.headers.get("retry-after")))
                if r.status_code >= 400:
                    r.read()
                    raise BadResponse(f"HTTP {r.status_code} from {url}: {excerpt(r.text)}")
                if "text/event-stream" in r.headers.get("content-type", ""):
                    return read_stream(r.iter_lines(), t0)
                r.read()  # the server ignored `stream`
                return read_json(r.text)
        except httpx.TimeoutException as e:
            raise Retryable(f"timed out after {self.settings.timeout_s:g} s waiting for {url} ({type(e).__name__})") from None
        except httpx.RequestError as e:
            raise Retryable(f"connection to {url} failed: {type(e).__name__}: {e}") from None

    def generation_details(self) -> dict:
        return self.details

    def close(self) -> None:
        if hasattr(self, "client"):
            self.stop.set()  # no new retries; requests in flight end within timeout_s
            self.client.close()
