"""Any OpenAI-compatible chat-completions server: vLLM, SGLang, llama.cpp server, Ollama, mlx_lm.server,
hosted APIs. The server renders the prompt and may parse tool calls itself.

Each request streams, to time the first token; `concurrency` requests are in flight at once on threads
sharing one httpx client, and each Generation is yielded as it finishes. Timeouts, dropped connections,
429 and 5xx are retried with exponential backoff; a case that still fails is a backend error.
Reasoning a server returns apart (`reasoning_content` or `reasoning`) is put back before the content as
`<think>…</think>`, so the detection conventions treat it as they treat an in-process model's reasoning.

Replies are untrusted (read by openai_reply.py): any surprise is a backend error for that case with a
short excerpt. The API key and auth header values are redacted from all the backend returns.
"""
import hashlib
import json
import os
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Iterator

from harness.backends.base import Backend, CallProbe, Generation, LoadInfo, Request
from harness.backends.openai_reply import (MAX_OUTPUT_BYTES, BadResponse, Reply, excerpt, head, parse_json, read_body,
                                           read_json, read_stream, sse_lines, until)
from harness.errors import BackendUnavailable, InputError
from harness.models import ModelSpec
from harness.options import Option
from harness.secrets import SENSITIVE_HEADERS, header_secrets, redact, redact_obj, register_secret
from harness.suite import openai_tools

PROBE_TOP_LOGPROBS = 20  # the most OpenAI's API allows
MAX_WAIT_S = 60.0  # cap on one backoff or Retry-After, so one case never stalls a run for long
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Retryable(Exception):
    """A failure that may pass: timeout, dropped connection, 429, 5xx."""

    def __init__(self, message: str, wait_s: float | None = None):
        super().__init__(message)
        self.wait_s = wait_s  # the server's Retry-After, when it sent one


@dataclass
class Settings:
    """How to reach an OpenAI-compatible server and how patiently to wait for it."""
    base_url: str
    model: str
    api_key_env: str | None = None
    concurrency: int = 1
    timeout_s: float = 120.0  # longest wait to connect or for the next bytes of a reply
    reply_timeout_s: float = 600.0  # longest wait for a whole reply (a server may trickle bytes forever); 5 x timeout_s
    max_retries: int = 4
    backoff_s: float = 1.0  # first retry waits about this long, doubling after
    max_output_bytes: int = MAX_OUTPUT_BYTES
    extra_body: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)

    @property
    def max_body_bytes(self) -> int:
        # JSON escaping can double the text, and a reply carries more than the text
        return 2 * self.max_output_bytes + 1024 * 1024

    @property
    def max_wire_bytes(self) -> int:
        # a stream wraps each token's text in a chunk of ~200 bytes; past this it is padding, not an answer
        return 64 * self.max_output_bytes + 1024 * 1024


def read_settings(spec: ModelSpec) -> Settings:
    """The entry's settings; models.py has checked their types and ranges against OpenAIBackend.options."""
    o, where = spec.options, spec.source
    timeout_s = float(o.get("timeout_s", 120.0))
    s = Settings(base_url=o["base_url"].rstrip("/"), model=o["model"], api_key_env=o.get("api_key_env"),
                 concurrency=o.get("concurrency", 1), timeout_s=timeout_s,
                 reply_timeout_s=float(o.get("reply_timeout_s", 5 * timeout_s)),
                 max_retries=o.get("max_retries", 4), backoff_s=float(o.get("backoff_s", 1.0)),
                 max_output_bytes=o.get("max_output_bytes", MAX_OUTPUT_BYTES), extra_body=o.get("extra_body", {}),
                 headers=o.get("headers", {}))
    if not s.base_url.startswith(("http://", "https://")):
        raise InputError(f"{where}: 'base_url' must be an http(s) URL such as http://127.0.0.1:8080/v1, got {s.base_url!r}")
    for name, value in s.headers.items():
        if not isinstance(value, str):
            raise InputError(f"{where}: header '{name}' in 'headers' must be a string, such as \"Bearer ${{MY_KEY}}\"")
        # models.toml is copied into manifests and shared: a credential in it would travel with them
        if name.lower() in SENSITIVE_HEADERS and not ENV_REF.search(value):
            raise InputError(f"{where}: header '{name}' holds a credential written out; put it in an environment "
                             f"variable and write \"${{NAME}}\" (or \"Bearer ${{NAME}}\") instead")
    return s


def expand_headers(headers: dict, where: str) -> dict:
    """`${NAME}` in a header value is the environment variable NAME, so keys need not sit in models.toml."""
    out = {}
    for name, value in headers.items():
        for var in ENV_REF.findall(value):
            if not os.environ.get(var):
                raise InputError(f"{where}: header '{name}' uses ${{{var}}}, but environment variable {var} is not "
                                 f"set; export it")
            register_secret(os.environ[var])  # a value read from the environment is treated as a secret
        out[name] = ENV_REF.sub(lambda m: os.environ[m.group(1)], value)
    return out


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
    except (TypeError, ValueError, OverflowError):
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


def request_body(spec: ModelSpec, s: Settings, request: Request) -> dict:
    """The request for a case: its messages, then a rollout's turns so far (`request.messages`)."""
    case, seed = request.case, request.seed if request.seed is not None else spec.seed + request.sample
    body = {"model": s.model, "messages": wire_messages(request.messages),
            "temperature": spec.temperature, "top_p": spec.top_p, "max_tokens": spec.max_tokens, "seed": seed,
            "stream": True, "stream_options": {"include_usage": True}}
    if case.tools:
        body["tools"] = openai_tools(case.tools)
    if spec.chat_template_kwargs:
        body["chat_template_kwargs"] = spec.chat_template_kwargs
    if spec.extra_eos_tokens:
        body["stop"] = spec.extra_eos_tokens
    body.update(s.extra_body)
    return body


class OpenAIBackend(Backend):
    options = {
        "base_url": Option(str, "the server's OpenAI-compatible base URL, ending in /v1", required=True),
        "model": Option(str, "the model name the server knows", required=True),
        "api_key_env": Option(str, "environment variable holding the API key (never written anywhere)"),
        "headers": Option(dict, "extra request headers; ${NAME} is read from the environment (credentials must be)"),
        "concurrency": Option(int, "requests in flight at once", min=1),
        "timeout_s": Option((int, float), "longest wait to connect or for the next bytes", min=0, exclusive_min=True),
        "reply_timeout_s": Option((int, float), "longest wait for a whole reply (default 5 x timeout_s)", min=0,
                                  exclusive_min=True),
        "max_retries": Option(int, "retries of timeouts, 429 and 5xx", min=0),
        "backoff_s": Option((int, float), "first retry wait, doubling after", min=0),
        "max_output_bytes": Option(int, "most bytes of text kept per case; the rest is cut off and flagged", min=1),
        "extra_body": Option(dict, "extra request fields passed through"),
        "call_marker": Option(str, "the text that starts a call (e.g. <tool_call>): harness probe reads its "
                                   "first-token probability from the server's logprobs"),
    }

    def identity(self) -> dict:
        return {"base_url": self.spec.options.get("base_url"), "served_model": self.spec.options.get("model")}

    def load(self) -> LoadInfo:
        import httpx

        s = self.settings = read_settings(self.spec)
        headers = expand_headers(s.headers, self.spec.source)
        if s.api_key_env:
            key = os.environ.get(s.api_key_env)
            if not key:
                raise InputError(f"{self.spec.source}: environment variable {s.api_key_env} (api_key_env) is not set; "
                                 f"export it with the server's API key")
            headers["Authorization"] = f"Bearer {key}"
            register_secret(key)
        for secret in header_secrets(headers):
            register_secret(secret)
        limits = httpx.Limits(max_connections=s.concurrency, max_keepalive_connections=s.concurrency)
        self.client = httpx.Client(headers=headers, timeout=s.timeout_s, limits=limits)
        self.stop, self.lock = threading.Event(), threading.Lock()
        self.details = {"mode": "sequential" if s.concurrency == 1 else "concurrent", "concurrency": s.concurrency,
                        "retries": 0}
        t0 = time.perf_counter()
        self.check_server()
        return LoadInfo(load_s=time.perf_counter() - t0,
                        details=redact_obj({"base_url": s.base_url, "model": s.model}))

    def check_server(self) -> None:
        """Fail fast, with the fix, when nothing answers; /health covers servers whose /models is broken."""
        import httpx

        problems = []
        for url in (f"{self.settings.base_url}/models", f"{self.settings.base_url.removesuffix('/v1')}/health"):
            try:
                with self.client.stream("GET", url) as r:
                    if r.status_code < 400:
                        return
                    if r.status_code in (401, 403):
                        raise InputError(redact(
                            f"{self.spec.source}: {url} refused the request (HTTP {r.status_code}); set 'api_key_env' "
                            f"to the name of an environment variable holding a valid API key"))
                    problems.append(f"GET {url}: HTTP {r.status_code} {excerpt(head(r.iter_bytes()))}")
            except httpx.HTTPError as e:
                problems.append(f"GET {url}: {type(e).__name__}: {e}")
        raise BackendUnavailable(redact(
            f"{self.spec.source}: no OpenAI-compatible server answers at {self.settings.base_url} "
            f"({'; '.join(problems)}); start the server (e.g. `python -m mlx_lm server --model PATH --port 8080`, "
            f"`vllm serve MODEL`) or fix 'base_url'"))

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
        gen = Generation(case_id=request.case.id, sample=request.sample, output="", timing=self.details["mode"])
        try:
            self.attempt_all(request, gen)
        except Exception as e:  # a surprise no check foresaw still costs only this case, never the run
            gen.output, gen.tool_calls = "", None
            gen.error = f"unexpected failure reading the reply ({type(e).__name__}): {excerpt(str(e))}"
        # what a server sends may echo the key anywhere: nothing leaves unredacted
        gen.output, gen.tool_calls = redact(gen.output), redact_obj(gen.tool_calls)
        gen.error = None if gen.error is None else redact(gen.error)
        return gen

    def attempt_all(self, request: Request, gen: Generation) -> None:
        s = self.settings
        body = request_body(self.spec, s, request)
        prompt = {k: body.get(k) for k in ("messages", "tools", "chat_template_kwargs")}
        gen.prompt_sha256 = hashlib.sha256(json.dumps(prompt, sort_keys=True).encode()).hexdigest()
        wait = 0.0
        for attempt in range(s.max_retries + 1):
            if attempt:
                if self.stop.wait(wait):
                    return  # the run is closing: no more retries
                with self.lock:
                    self.details["retries"] += 1
            t0 = time.perf_counter()
            try:
                reply = self.post(body, t0)
            except BadResponse as e:
                gen.error = str(e)
                return
            except Retryable as e:
                gen.error = f"{e} (after {attempt + 1} attempts)"
                wait = backoff_s(attempt, s.backoff_s) if e.wait_s is None else min(MAX_WAIT_S, e.wait_s)
                continue
            gen.output, gen.tool_calls, gen.finish_reason = reply.output(), reply.tool_calls(), reply.finish_reason
            gen.prompt_tokens, gen.completion_tokens = reply.prompt_tokens, reply.completion_tokens
            gen.latency_s, gen.ttft_s, gen.error = time.perf_counter() - t0, reply.ttft_s, None
            gen.truncated_output = reply.truncated
            return

    def post(self, body: dict, t0: float) -> Reply:
        import httpx

        s, url = self.settings, f"{self.settings.base_url}/chat/completions"
        deadline = t0 + s.reply_timeout_s
        try:
            with self.client.stream("POST", url, json=body) as r:
                chunks = until(r.iter_bytes(), deadline, s.reply_timeout_s, s.max_wire_bytes)
                if r.status_code == 429 or r.status_code >= 500:
                    raise Retryable(f"HTTP {r.status_code} from {url}: {excerpt(head(chunks))}",
                                    retry_after_s(r.headers.get("retry-after")))
                if not 200 <= r.status_code < 300:
                    raise BadResponse(f"HTTP {r.status_code} from {url}: {excerpt(head(chunks))}")
                if "text/event-stream" in r.headers.get("content-type", ""):
                    return read_stream(sse_lines(chunks, s.max_body_bytes), t0, s.max_output_bytes)
                return read_json(read_body(chunks, s.max_body_bytes), s.max_output_bytes)  # it ignored `stream`
        except httpx.TimeoutException as e:
            raise Retryable(f"timed out after {s.timeout_s:g} s waiting for {url} ({type(e).__name__})") from None
        except httpx.DecodingError as e:  # a body that does not decode as its Content-Encoding says
            raise BadResponse(f"unreadable reply from {url}: {type(e).__name__}: {e}") from None
        except httpx.RequestError as e:
            raise Retryable(f"connection to {url} failed: {type(e).__name__}: {e}") from None

    def generation_details(self) -> dict:
        return redact_obj(self.details)

    def probe(self, requests: list[Request]) -> list[CallProbe]:
        """p_call from the first token's logprobs (issue 17), one 1-token request per case; n/a with the reason
        where the server returns none or no call_marker (the text that starts a call) is configured."""
        import httpx

        from harness.probe import first_token_p_call

        marker = self.spec.options.get("call_marker", "")
        out = []
        for r in requests:
            if not marker:
                out.append(CallProbe(r.case.id, r.sample, None, na=f"set call_marker (the text that starts a call, "
                                     f"e.g. \"<tool_call>\") in {self.spec.source} to probe this server"))
                continue
            body = {**request_body(self.spec, self.settings, r), "stream": False, "max_tokens": 1,
                    "logprobs": True, "top_logprobs": PROBE_TOP_LOGPROBS}
            body.pop("stream_options")
            try:
                reply = self.client.post(f"{self.settings.base_url}/chat/completions", json=body)
                p_call, top, na = first_token_p_call(parse_json(reply.content) if reply.status_code < 400 else None,
                                                     marker)  # parse_json: the strict parser replies get
                na = na if reply.status_code < 400 else f"HTTP {reply.status_code}: {excerpt(reply.text)}"
            except (httpx.HTTPError, BadResponse) as e:
                p_call, top, na = None, [], f"{type(e).__name__}: {excerpt(str(e))}"
            out.append(CallProbe(r.case.id, r.sample, p_call, na=na, marker=marker, top_tokens=top))
        return out

    def close(self) -> None:
        if hasattr(self, "client"):
            self.stop.set()  # no new retries; requests in flight end within timeout_s
            self.client.close()
