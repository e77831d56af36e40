"""p_call through an OpenAI-compatible server's first-token logprobs (issue 17 item 7), against a real HTTP
server on 127.0.0.1 that answers like one: n/a with the reason where logprobs are missing or malformed."""
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import REFERENCE_SUITE, run_cli
from harness.probe import first_token_p_call


def _reply(top: list) -> dict:
    return {"choices": [{"message": {"content": "x"}, "logprobs": {"content": [{"token": "x", "top_logprobs": top}]}}]}


class LogprobServer(BaseHTTPRequestHandler):
    """Puts 0.8 on <tool_call> when the request's last message mentions a tool's verb, 0.01 otherwise;
    `mode` makes it answer without logprobs or with garbage in them."""
    mode = "ok"
    bodies: list = []

    def log_message(self, *args):
        pass

    def _send(self, code: int, payload) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send(200, {"data": [{"id": "m"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        text = body["messages"][-1]["content"].lower()
        p = 0.8 if any(w in text for w in ("run", "lint", "type-check", "read", "search", "find", "test")) else 0.01
        if self.mode == "none":
            return self._send(200, {"choices": [{"message": {"content": "x"}}]})
        if self.mode == "garbage":
            return self._send(200, _reply([{"token": 5, "logprob": "high"}, {"token": "<tool_call>", "logprob": 3}]))
        self._send(200, _reply([{"token": "The", "logprob": math.log(1 - p - 0.001)},
                                {"token": "<tool_call>", "logprob": math.log(p)}]))


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), LogprobServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    LogprobServer.bodies = []
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _models(tmp_path, port: int, marker: str | None = "<tool_call>"):
    line = f'call_marker = "{marker}"\n' if marker else ""
    path = tmp_path / "models.toml"
    path.write_text(f'[models.srv]\nbackend = "openai"\nbase_url = "http://127.0.0.1:{port}/v1"\nmodel = "m"\n{line}')
    return path


def _probe(tmp_path, models) -> dict:
    proc = run_cli("probe", str(REFERENCE_SUITE), "--model", "srv", "--models", str(models), "--format", "json",
                   "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_first_token_logprobs_give_p_call(server, tmp_path):
    report = _probe(tmp_path, _models(tmp_path, server.server_address[1]))
    assert all(b["max_tokens"] == 1 and b["logprobs"] is True and b["stream"] is False for b in LogprobServer.bodies)
    by_id = {c["id"]: c for c in report["cases"]}
    assert by_id["lint-1"]["p_call"] == pytest.approx(0.8) and by_id["direct-1"]["p_call"] == pytest.approx(0.01)
    assert report["auc"] > 0.5


@pytest.mark.parametrize("mode, marker, reason", [
    ("none", "<tool_call>", "no first-token logprobs"),
    ("garbage", "<tool_call>", "no token/logprob pairs"),
    ("ok", None, "set call_marker"),
])
def test_no_usable_logprobs_is_na_with_the_reason(server, tmp_path, monkeypatch, mode, marker, reason):
    monkeypatch.setattr(LogprobServer, "mode", mode)
    report = _probe(tmp_path, _models(tmp_path, server.server_address[1], marker))
    assert all(c["p_call"] is None and reason in c["na"] for c in report["cases"])
    assert report["auc"] is None


def test_marker_outside_the_listed_tokens():
    top = [{"token": "The", "logprob": math.log(0.6)}, {"token": "<", "logprob": math.log(0.3)}]
    assert first_token_p_call(_reply(top), "<tool_call>")[2].endswith("only the first one's")
    p, shown, na = first_token_p_call(_reply(top[:1]), "<tool_call>")
    assert p is None and shown == [("The", pytest.approx(0.6))] and "not among" in na
