"""The API key and auth header values never reach results.jsonl, manifest.json, reports, stdout or stderr,
whatever a server echoes (error bodies, SSE error events, content, call arguments) and however it encodes
the key (verbatim, JSON, URL-encoded, base64)."""
import base64
import json
import uuid
from urllib.parse import quote, quote_plus

import pytest

from conftest import REFERENCE_SUITE, run_cli
from fault_server import FaultServer
from harness.backends.base import Request
from harness.backends.openai import OpenAIBackend
from harness.errors import InputError
from harness.models import spec_from_entry
from harness.results import read_records
from harness.secrets import MARK, header_secrets, redact, redact_obj, register_secret
from harness.suite import load_suite

# quotes, a backslash, '/', '+' and '=' make every encoding of the key differ from the key itself
KEY = 'sk-Te5t/k+y=0123456789"abc\\def'
XKEY = "xk-another-secret-4242"


def leaked_forms(secret: str) -> list[str]:
    once = json.dumps(secret)[1:-1]
    return [secret, once, json.dumps(once)[1:-1], quote(secret, safe=""), quote_plus(secret),
            base64.b64encode(secret.encode()).decode().rstrip("=")]


def assert_no_leak(text: str, where: str, secrets=(KEY, XKEY)) -> None:
    for secret in secrets:
        for form in leaked_forms(secret):
            assert form not in text, f"{where} holds {form!r}"


@pytest.mark.parametrize("text", [
    f"Authorization: Bearer {KEY}",
    json.dumps({"headers": {"authorization": f"Bearer {KEY}"}}),
    json.dumps(json.dumps({"path": KEY})),
    f"https://x/?key={quote(KEY, safe='')}&q={quote_plus(KEY)}",
    f"b64={base64.b64encode(KEY.encode()).decode()} urlsafe={base64.urlsafe_b64encode(KEY.encode()).decode()}",
    f"lower-case escapes {quote(KEY, safe='').lower()}",
    f"{KEY}{KEY} twice, glued",
])
def test_redact_removes_the_key_in_every_encoding(text):
    out = redact(text, [KEY])
    assert MARK in out
    assert_no_leak(out, "redacted text", [KEY])


def test_redact_leaves_other_text_and_short_values_alone():
    register_secret("abc")  # too short to be a key: redacting it would garble ordinary text
    assert redact("abc def") == "abc def"
    assert redact("no secret here", ["sk-unrelated-value"]) == "no secret here"
    fresh = f"sk-{uuid.uuid4()}"
    assert redact_obj({"a": [f"x {fresh}", 3, None]}) == {"a": [f"x {fresh}", 3, None]}  # not registered yet
    register_secret(fresh)
    assert redact_obj({"a": [f"x {fresh}", 3, None], fresh: 1}) == {"a": [f"x {MARK}", 3, None], MARK: 1}


def test_auth_header_values_and_their_credentials_are_secrets():
    found = header_secrets({"Authorization": "Bearer tok-1234", "X-API-Key": "k-5678", "Accept": "text/plain"})
    assert found == ["Bearer tok-1234", "tok-1234", "k-5678"]


def write_models(tmp_path, srv, **extra) -> str:
    lines = [f'[models.echo]\nbackend = "openai"\nbase_url = "{srv.base_url}"\nmodel = "m"\n'
             f'api_key_env = "HARNESS_ECHO_KEY"\nmax_retries = 1\nbackoff_s = 0.01\n'
             f'headers = {{ "x-api-key" = "${{HARNESS_ECHO_XKEY}}" }}\n'] + [f"{k} = {v}\n" for k, v in extra.items()]
    (tmp_path / "models.toml").write_text("".join(lines))
    return str(tmp_path / "models.toml")


def test_a_server_echoing_the_key_everywhere_leaves_it_on_no_disk_and_no_stream(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_ECHO_KEY", KEY)
    monkeypatch.setenv("HARNESS_ECHO_XKEY", XKEY)
    script = ["echo_400", "echo_500", "echo_500", "echo_sse", "echo_content", "echo_500"]
    with FaultServer(script=script) as srv:
        run_dir = tmp_path / "run"
        r = run_cli("run", str(REFERENCE_SUITE), "--model", "echo", "--models", write_models(tmp_path, srv),
                    "--run-dir", str(run_dir))
        report = run_cli("report", str(run_dir))
    assert r.returncode in (0, 1), r.stderr
    assert srv.auth == {f"Bearer {KEY}"}  # the key was sent
    assert all(b.get("messages") for b in srv.bodies)
    records = read_records(run_dir)
    errors = [rec for rec in records if rec.error]
    assert len(records) == len(load_suite(REFERENCE_SUITE).cases) and len(errors) == 3  # 400, 500 twice (retried once), SSE error; the last 500 recovers
    assert all(MARK in rec.error for rec in errors)
    echoed = [rec for rec in records if MARK in rec.output]
    assert len(echoed) == 1 and MARK in json.dumps(echoed[0].tool_calls)  # content and call arguments
    for path in run_dir.iterdir():
        assert_no_leak(path.read_text(), path.name)
    for name, text in (("run stdout", r.stdout), ("run stderr", r.stderr), ("report stdout", report.stdout),
                       ("report stderr", report.stderr)):
        assert_no_leak(text, name)


def test_a_load_failure_that_echoes_the_key_prints_it_nowhere(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_ECHO_KEY", KEY)
    monkeypatch.setenv("HARNESS_ECHO_XKEY", XKEY)
    with FaultServer(models_status=404, health_status=404) as srv:
        r = run_cli("run", str(REFERENCE_SUITE), "--model", "echo", "--models", write_models(tmp_path, srv),
                    "--run-dir", str(tmp_path / "run"))
    assert r.returncode == 3 and "no OpenAI-compatible server answers" in r.stderr, r.stderr  # backend unavailable
    assert MARK in r.stderr and "Traceback" not in r.stderr
    assert_no_leak(r.stdout + r.stderr, "output")
    for path in (tmp_path / "run").glob("*"):
        assert_no_leak(path.read_text(), path.name)


def test_everything_the_backend_returns_or_raises_is_redacted(monkeypatch):
    monkeypatch.setenv("HARNESS_ECHO_KEY", KEY)
    with FaultServer(script=["echo_sse"]) as srv:
        spec = spec_from_entry("echo", {"backend": "openai", "base_url": srv.base_url, "model": "m",
                                        "api_key_env": "HARNESS_ECHO_KEY"}, "[models.echo]")
        backend = OpenAIBackend(spec)
        info = backend.load()
        gen = next(iter(backend.generate([Request(load_suite(REFERENCE_SUITE).cases[0])])))
        backend.close()
    texts = [gen.error, json.dumps(info.details), json.dumps(backend.generation_details()),
             json.dumps(backend.setup_warnings())]
    assert MARK in gen.error
    for text in texts:
        assert_no_leak(text, "backend result")


def test_a_header_variable_that_is_not_set_is_an_input_error(monkeypatch):
    monkeypatch.delenv("HARNESS_UNSET_KEY", raising=False)
    with FaultServer() as srv, pytest.raises(InputError, match=r"\$\{HARNESS_UNSET_KEY\}.*not set"):
        OpenAIBackend(spec_from_entry("h", {"backend": "openai", "base_url": srv.base_url, "model": "m",
                                            "headers": {"api-key": "${HARNESS_UNSET_KEY}"}}, "[models.h]")).load()
