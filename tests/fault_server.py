"""A fake OpenAI-compatible server on 127.0.0.1 that injects faults, for tests and benchmarks.
In-process as `with FaultServer(...) as srv`, or alone: `python tests/fault_server.py --delay 0.05`
prints its base URL and serves until killed.

POSTs take the next fault from `script` (in arrival order), then answer normally: the answer echoes the
last user message, so a test can tell that each result belongs to its own case. A script entry may also
be a `Canned` reply, sent byte for byte. The server counts requests, in-flight maximum and Authorization
headers, and refuses anything past `max_requests`.

A request is in flight from its arrival until the server starts writing the last bytes of its answer:
the client may send its next request as soon as those bytes arrive, before the handler thread returns,
so counting until the handler returns would see one request more than the client ever had open.
"""
import argparse
import base64
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Faults a script may name: "500", "503", "429" (with Retry-After), "400", "reset" (TCP RST before any
# answer), "hang" (no answer until the client gives up), "garbage" (a 200 that is not JSON),
# "garbage_sse" (a bad stream chunk), "truncated_sse" (the stream stops without finish_reason or [DONE]),
# "json" (a whole, non-streamed response), "deltas" (a tool call streamed in argument pieces),
# "reasoning" (reasoning_content before the content), "big" (the server's `big_stream` reply).
# "echo_400", "echo_500", "echo_sse" and "echo_content" send the request's headers back, in several
# encodings, in an error body, an SSE error event, or the completion's content and call arguments.
GARBAGE = "<html><body>502 Bad Gateway" + " padding" * 100 + "</body></html>"


@dataclass
class Canned:
    """A reply sent as given: status line, Content-Type, then each part written and flushed, `pause_s` apart."""
    parts: list
    status: int = 200
    ctype: str = "text/event-stream"
    pause_s: float = 0.0


def echoed(headers) -> str:
    """The request's headers as a careless server might echo them: verbatim, in JSON, URL-encoded, base64."""
    values = {k.lower(): v for k, v in headers.items()}
    keys = [v.removeprefix("Bearer ") for v in values.values()]
    return ("bad request; " + "; ".join(f"{k}: {v}" for k, v in values.items()) + "; " +
            json.dumps({"headers": values}) + "; " + "; ".join(f"key={quote(k, safe='')}" for k in keys) + "; " +
            "; ".join(f"b64={base64.b64encode(k.encode()).decode()}" for k in keys))


def big_stream(total_bytes: int, chunks: int) -> list[bytes]:
    """A reply of about total_bytes of content in `chunks` SSE chunks, then finish and [DONE]."""
    piece = "x" * max(1, total_bytes // chunks)
    return [chunk({"content": piece}) for _ in range(chunks)] + [chunk({}, "stop"), b"data: [DONE]\n\n"]


def answer_text(body: dict) -> str:
    users = [m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user"]
    return f"echo: {users[-1] if users else ''}"


def chunk(delta: dict, finish: str | None = None) -> bytes:
    data = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(data)}\n\n".encode()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        srv: FaultServer = self.server.owner
        if self.path.endswith("/models"):
            ok = srv.models_status < 400
            self.send_json(srv.models_status, {"object": "list", "data": [{"id": "fake-model"}]} if ok else
                           {"error": {"message": echoed(self.headers)}})
        elif self.path == "/stats":  # for a client in another process
            self.send_json(200, {"requests": srv.requests, "max_in_flight": srv.max_in_flight})
        else:
            ok = srv.health_status < 400
            self.send_json(srv.health_status, {"status": "ok"} if ok else {"error": echoed(self.headers)})

    def do_POST(self):
        srv: FaultServer = self.server.owner
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        fault = srv.arrive(body, self.headers.get("authorization"))
        self.counted = True
        try:
            if fault == "refused":
                self.send_json(418, {"error": "fault server: request limit reached"})
                return
            time.sleep(srv.delay_s)
            self.respond(fault, body)
        finally:
            self.leave()

    def leave(self):
        """Called once, just before the answer's last bytes are written (see the module docstring)."""
        if getattr(self, "counted", False):
            self.counted = False
            self.server.owner.leave()

    def respond(self, fault, body: dict):
        text = answer_text(body)
        if isinstance(fault, Canned):
            self.send_canned(fault)
        elif fault == "big":
            self.send_stream(self.server.owner.big_parts)
        elif fault in ("echo_400", "echo_500"):
            self.send_json(int(fault[-3:]), {"error": {"message": echoed(self.headers)}})
        elif fault == "echo_sse":
            self.send_stream([chunk({"content": "hi"}),
                              f"event: error\ndata: {json.dumps({'error': {'message': echoed(self.headers)}})}\n\n".encode()])
        elif fault == "echo_content":
            echo = echoed(self.headers)
            call = {"index": 0, "function": {"name": "read_file", "arguments": json.dumps({"path": echo})}}
            self.send_stream([chunk({"content": echo, "tool_calls": [call]}), chunk({}, "stop"),
                              b"data: [DONE]\n\n"])
        elif fault in ("500", "503", "400"):
            self.send_json(int(fault), {"error": {"message": f"injected {fault}"}})
        elif fault == "429":
            self.send_json(429, {"error": {"message": "slow down"}}, {"Retry-After": str(self.server.owner.retry_after)})
        elif fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.leave()
            self.connection.close()
        elif fault == "hang":
            self.server.owner.stopping.wait(self.server.owner.hang_s)
            self.leave()
        elif fault == "garbage":
            self.send_raw(200, "application/json", GARBAGE.encode())
        elif fault == "json":
            message = {"role": "assistant", "content": text}
            self.send_json(200, {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 7, "completion_tokens": 3}})
        elif fault == "deltas":
            call = '{"path": "src/app.py"}'
            self.send_stream([chunk({"role": "assistant"}),
                              chunk({"tool_calls": [{"index": 0, "id": "c1", "type": "function",
                                                     "function": {"name": "read_file", "arguments": ""}}]}),
                              *[chunk({"tool_calls": [{"index": 0, "function": {"arguments": call[i:i + 5]}}]})
                                for i in range(0, len(call), 5)],
                              chunk({}, "tool_calls"), b"data: [DONE]\n\n"])
        else:
            head = {"garbage_sse": [b'data: {"choices": [{"delta": {"content": "he'],
                    "truncated_sse": [chunk({"content": "partial "})],
                    "reasoning": [chunk({"reasoning_content": "thinking it over"})]}.get(fault, [])
            done = [] if fault in ("garbage_sse", "truncated_sse") else [
                chunk({"content": text}), chunk({}, "stop"),
                f"data: {json.dumps({'choices': [], 'usage': {'prompt_tokens': 7, 'completion_tokens': 3}})}\n\n".encode(),
                b"data: [DONE]\n\n"]
            self.send_stream([b": keepalive\n\n", *head, *done])

    def send_json(self, status: int, obj, headers: dict | None = None):
        self.send_raw(status, "application/json", json.dumps(obj).encode(), headers)

    def send_raw(self, status: int, ctype: str, data: bytes, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.leave()
        self.wfile.write(data)

    def send_stream(self, parts: list[bytes]):
        self.send_canned(Canned(parts))

    def send_canned(self, reply: Canned):
        # HTTP/1.0 without Content-Length: the body ends when the connection closes
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.ctype)
        self.end_headers()
        for n, part in enumerate(reply.parts, 1):
            if reply.pause_s:
                if self.server.owner.stopping.wait(reply.pause_s):
                    break
            if n == len(reply.parts):
                self.leave()
            self.wfile.write(part)
            self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # room for every connection of a concurrency-16 benchmark

    def handle_error(self, request, client_address):
        pass  # an injected reset leaves a closed socket behind; that is the point


class FaultServer:
    def __init__(self, script: list | None = None, delay_s: float = 0.0, max_requests: int = 500,
                 retry_after: int = 1, hang_s: float = 5.0, models_status: int = 200, health_status: int = 200,
                 big: tuple[int, int] = (0, 1), default: str | None = None):
        self.script, self.delay_s, self.max_requests = list(script or []), delay_s, max_requests
        self.retry_after, self.hang_s = retry_after, hang_s
        self.models_status, self.health_status = models_status, health_status  # a failing one echoes the headers
        self.big_parts = big_stream(*big)  # built once: serving it costs only the writes
        self.default = default  # the fault of every request once the script is used up
        self.lock, self.stopping = threading.Lock(), threading.Event()
        self.requests, self.in_flight, self.max_in_flight = 0, 0, 0
        self.arrivals: list[float] = []
        self.auth: set = set()
        self.bodies: list[dict] = []

    def arrive(self, body: dict, auth: str | None) -> str | None:
        with self.lock:
            self.requests += 1
            self.arrivals.append(time.perf_counter())
            self.bodies.append(body)
            self.auth.add(auth)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.requests > self.max_requests:
                return "refused"
            return self.script.pop(0) if self.script else self.default

    def leave(self) -> None:
        with self.lock:
            self.in_flight -= 1

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "FaultServer":
        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)  # quick shutdown
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def main() -> None:
    ap = argparse.ArgumentParser(description="serve a fake OpenAI-compatible API on 127.0.0.1 until killed")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds per request")
    ap.add_argument("--max-requests", type=int, default=100_000)
    ap.add_argument("--big", type=int, nargs=2, metavar=("BYTES", "CHUNKS"),
                    help="answer every request with about BYTES of content streamed in CHUNKS SSE chunks")
    args = ap.parse_args()
    big = dict(big=tuple(args.big), default="big") if args.big else {}
    with FaultServer(delay_s=args.delay, max_requests=args.max_requests, **big) as srv:
        print(srv.base_url, flush=True)
        srv.stopping.wait()


if __name__ == "__main__":
    main()
