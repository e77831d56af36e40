"""The openai backend against a local fault-injecting server: request shape, streaming assembly,
retries, backend errors, concurrency, secrets kept out of results, and the CLI flag."""
import socket
import subprocess
import sys
import time

import pytest

from conftest import REFERENCE_SUITE, ROOT, run_cli
from fault_server import GARBAGE, FaultServer, answer_text
from harness import runner
from harness.backends.base import Request
from harness.backends.openai import OpenAIBackend, retry_after_s, wire_messages
from harness.backends.openai_reply import Reply, read_stream
from harness.errors import BackendUnavailable, InputError
from harness.models import spec_from_entry
from harness.results import read_manifest, read_records
from harness.suite import load_suite

SUITE = load_suite(REFERENCE_SUITE)


def spec_for(srv: FaultServer, **options):
    entry = {"backend": "openai", "base_url": srv.base_url, "model": "fake-model", "backoff_s": 0.01,
             "timeout_s": 2, **options}
    return spec_from_entry("fake", entry, "[models.fake]")


def run_suite(tmp_path, spec) -> list[dict]:
    runner.run(SUITE, spec, tmp_path / "run", progress=False)
    return read_records(tmp_path / "run")


def generate_one(spec):
    backend = OpenAIBackend(spec)
    backend.load()
    try:
        return next(iter(backend.generate([Request(SUITE.cases[0])])))
    finally:
        backend.close()


def assert_each_case_once_and_its_own(records):
    assert sorted(r.id for r in records) == sorted(c.id for c in SUITE.cases)
    by_id = {c.id: c for c in SUITE.cases}
    for r in records:  # no answer crossed over to another case's record
        assert r.output == answer_text({"messages": by_id[r.id].messages}), r


def test_request_carries_sampler_tools_template_kwargs_and_extra_body(tmp_path):
    with FaultServer() as srv:
        spec = spec_for(srv, extra_body={"top_k": 1}, max_tokens=64, enable_thinking=False, seed=7,
                        extra_eos_tokens=["<|eot_id|>"])
        generate_one(spec)
    body = srv.bodies[0]
    assert body["model"] == "fake-model" and body["messages"] == SUITE.cases[0].messages
    assert body["tools"][0] == {"type": "function", "function": SUITE.cases[0].tools[0]}
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"]) == (0.0, 1.0, 64, 7)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["chat_template_kwargs"] == {"enable_thinking": False} and body["top_k"] == 1
    assert body["stop"] == ["<|eot_id|>"]


def test_retries_recover_and_nothing_is_lost_or_duplicated(tmp_path):
    with FaultServer(script=["500", "reset", "503", "reset", "500"]) as srv:
        records = run_suite(tmp_path, spec_for(srv, concurrency=4))
    assert srv.requests == len(SUITE.cases) + 5
    assert_each_case_once_and_its_own(records)
    assert all(r.error is None and r.timing == "concurrent" for r in records)
    assert read_manifest(tmp_path / "run").generation["retries"] == 5


def test_retry_after_is_honored():
    with FaultServer(script=["429"], retry_after=1) as srv:
        gen = generate_one(spec_for(srv, backoff_s=0.001))
    assert gen.error is None and srv.requests == 2
    assert srv.arrivals[1] - srv.arrivals[0] >= 0.95  # the header's 1 s, not the 1 ms backoff


def test_timeouts_become_backend_errors_reported_apart(tmp_path):
    with FaultServer(script=["hang", "hang"], hang_s=1) as srv:
        records = run_suite(tmp_path, spec_for(srv, timeout_s=0.2, max_retries=1))
    errors = [r for r in records if r.reason == "backend_error"]
    assert len(records) == len(SUITE.cases) and len(errors) == 1
    assert "timed out after 0.2 s" in errors[0].error and "after 2 attempts" in errors[0].error
    assert errors[0].passed is False and errors[0].level is None


@pytest.mark.parametrize("fault, shown", [
    ("garbage", "<html><body>502 Bad Gateway"),
    ("garbage_sse", '{"choices": [{"delta": {"content": "he'),
    ("truncated_sse", "partial "),
    ("400", "injected 400"),
])
def test_bad_answers_are_backend_errors_with_an_excerpt_and_no_retry(fault, shown):
    with FaultServer(script=[fault]) as srv:
        gen = generate_one(spec_for(srv))
    assert srv.requests == 1 and gen.output == "" and shown in gen.error
    assert len(gen.error) < 300 + 200  # the body excerpt is cut at 300 characters
    assert GARBAGE[:400] not in gen.error


def test_streamed_tool_call_deltas_reasoning_and_plain_json(tmp_path):
    with FaultServer(script=["deltas", "reasoning", "json"]) as srv:
        records = {r.id: r for r in run_suite(tmp_path, spec_for(srv))}
    first, second, third = (records[c.id] for c in SUITE.cases[:3])
    assert first.tool_calls == [{"function": {"name": "read_file", "arguments": '{"path": "src/app.py"}'}}]
    assert first.detection.format == "openai_native" and first.finish_reason == "tool_calls"
    assert first.detection.calls[0].arguments == {"path": "src/app.py"}
    assert first.ttft_s is not None and first.reason == "wrong_tool"  # expected execute_code
    assert second.output.startswith("<think>thinking it over</think>echo: ")
    assert third.output.startswith("echo: ") and third.ttft_s is None and third.prompt_tokens == 7


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_n_keeps_n_requests_in_flight(tmp_path, concurrency):
    with FaultServer(delay_s=0.05) as srv:
        records = run_suite(tmp_path, spec_for(srv, concurrency=concurrency))
    assert srv.max_in_flight == concurrency
    assert_each_case_once_and_its_own(records)


def test_api_key_is_sent_but_never_written(tmp_path, monkeypatch):
    secret = "sk-test-0123456789-do-not-store"
    monkeypatch.setenv("HARNESS_TEST_KEY", secret)
    with FaultServer() as srv:
        run_suite(tmp_path, spec_for(srv, api_key_env="HARNESS_TEST_KEY"))
    assert srv.auth == {f"Bearer {secret}"}
    for path in (tmp_path / "run").iterdir():
        assert secret not in path.read_text(), path.name


def test_missing_key_variable_is_an_input_error(monkeypatch):
    monkeypatch.delenv("HARNESS_TEST_KEY", raising=False)
    with FaultServer() as srv, pytest.raises(InputError, match="HARNESS_TEST_KEY"):
        OpenAIBackend(spec_for(srv, api_key_env="HARNESS_TEST_KEY")).load()


def test_server_down_at_load_names_the_url_and_the_fix():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    spec = spec_from_entry("down", {"backend": "openai", "base_url": f"http://127.0.0.1:{port}/v1", "model": "m"}, "[models.down]")
    with pytest.raises(BackendUnavailable, match=rf"127\.0\.0\.1:{port}/v1.*start the server"):
        OpenAIBackend(spec).load()


def test_load_falls_back_to_health_when_models_is_broken():
    with FaultServer(models_status=500) as srv:
        info = OpenAIBackend(spec_for(srv)).load()
    assert info.details == {"base_url": srv.base_url, "model": "fake-model"} and info.size_bytes is None


@pytest.mark.parametrize("bad", [{"concurrency": 0}, {"base_url": "127.0.0.1:8080"}, {"timeout_s": "fast"}])
def test_bad_options_are_input_errors(bad):
    with FaultServer() as srv, pytest.raises(InputError):
        OpenAIBackend(spec_for(srv, **bad)).load()


def test_retry_after_parsing():
    assert retry_after_s("2") == 2.0 and retry_after_s(None) is None and retry_after_s("soon") is None
    assert 0 <= retry_after_s(time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 5))) <= 5


def test_calls_without_index_and_whole_arguments_objects():
    reply = read_stream(iter([
        b'data: {"choices": [{"delta": {"tool_calls": [{"function": {"name": "a", "arguments": {"x": 1}}}]}}]}',
        b'data: {"choices": [{"delta": {"tool_calls": [{"function": {"name": "b", "arguments": "{\\"y\\""}}]}}]}',
        b'data: {"choices": [{"delta": {"tool_calls": [{"function": {"arguments": ": 2}"}}]}, "finish_reason": "tool_calls"}]}',
    ]), time.perf_counter())
    assert reply.tool_calls() == [{"function": {"name": "a", "arguments": {"x": 1}}},
                                  {"function": {"name": "b", "arguments": '{"y": 2}'}}]
    assert Reply(content="hi").tool_calls() is None


def test_cli_concurrency_flag_overrides_the_entry(tmp_path):
    with FaultServer(delay_s=0.1) as srv:
        models = tmp_path / "models.toml"
        models.write_text(f'[models.fake]\nbackend = "openai"\nbase_url = "{srv.base_url}"\nmodel = "m"\nconcurrency = 1\n')
        r = run_cli("run", str(REFERENCE_SUITE), "--model", "fake", "--models", str(models), "--concurrency", "5",
                    "--run-dir", str(tmp_path / "run"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert srv.max_in_flight == 5
    assert_each_case_once_and_its_own(read_records(tmp_path / "run"))


def test_cli_startup_does_not_import_httpx():
    code = ("import sys, harness.cli; harness.cli.build_parser(); import harness.backends.openai; "
            "assert 'httpx' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_models_lists_openai_entries(tmp_path):
    models = tmp_path / "models.toml"
    models.write_text('[models.srv]\nbackend = "openai"\nbase_url = "http://127.0.0.1:8080/v1"\nmodel = "m"\n'
                      'extra_body = { top_k = 20 }\n')
    r = run_cli("models", "--models", str(models))
    assert r.returncode == 0 and "srv\topenai\thttp://127.0.0.1:8080/v1" in r.stdout, r.stderr


def test_assistant_call_arguments_go_out_as_json_strings():
    messages = [{"role": "user", "content": "read it"},
                {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "read_file", "arguments": {"path": "a"}}}]},
                {"role": "tool", "content": "text"}]
    sent = wire_messages(messages)
    assert sent[1]["tool_calls"] == [{"type": "function", "function": {"name": "read_file", "arguments": '{"path": "a"}'}}]
    assert sent[0] == messages[0] and messages[1]["tool_calls"][0]["function"]["arguments"] == {"path": "a"}
