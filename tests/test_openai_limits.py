"""Resource limits of the openai backend: a case's text over `max_output_bytes` is truncated and flagged
(the rest of the reply never read), a reply that never finishes is cut off at `reply_timeout_s`, and the
options are checked at load."""
import json
import time

import pytest

from conftest import REFERENCE_SUITE
from fault_server import Canned, FaultServer, chunk
from harness.backends.base import Request
from harness.backends.openai import OpenAIBackend
from harness.errors import InputError
from harness.models import spec_from_entry
from harness.suite import load_suite

CASE = load_suite(REFERENCE_SUITE).cases[0]


def generate(reply, **options):
    with FaultServer(script=[reply]) as srv:
        entry = {"backend": "openai", "base_url": srv.base_url, "model": "m", "timeout_s": 5, "max_retries": 0,
                 **options}
        backend = OpenAIBackend(spec_from_entry("lim", entry, "[models.lim]"))
        backend.load()
        try:
            return next(iter(backend.generate([Request(CASE)]))), srv
        finally:
            backend.close()


def test_a_streamed_reply_over_the_limit_is_truncated_flagged_and_not_read_further():
    # after the limit the server trickles keepalives for 10 s: reading on would hit reply_timeout_s
    parts = [chunk({"content": "x" * 60_000}), chunk({"content": "y" * 60_000}), *[b": keepalive\n\n"] * 500]
    t0 = time.perf_counter()
    gen, srv = generate(Canned(parts, pause_s=0.02), max_output_bytes=100_000, reply_timeout_s=5)
    assert gen.error is None and gen.truncated_output is True
    assert gen.output == "x" * 60_000 + "y" * 40_000
    assert time.perf_counter() - t0 < 4 and srv.requests == 1


def test_truncation_keeps_whole_characters_and_counts_reasoning_and_call_arguments():
    parts = [chunk({"reasoning_content": "é" * 30}),  # 60 bytes
             chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "€" * 20}}]}),  # 60 bytes
             chunk({"content": "ü" * 50}), chunk({}, "stop"), b"data: [DONE]\n\n"]
    gen, _ = generate(Canned(parts), max_output_bytes=151)
    assert gen.truncated_output is True and gen.error is None
    assert gen.output == "<think>" + "é" * 30 + "</think>" + "ü" * 15  # 31 bytes left: 15 whole characters
    assert gen.tool_calls == [{"function": {"name": "f", "arguments": "€" * 20}}]


def test_a_reply_under_the_limit_is_whole_and_not_flagged():
    gen, _ = generate(Canned([chunk({"content": "z" * 1000}), chunk({}, "stop")]), max_output_bytes=1000)
    assert gen.output == "z" * 1000 and gen.truncated_output is False and gen.finish_reason == "stop"


def test_a_whole_json_body_over_the_limit_is_truncated_too():
    body = {"choices": [{"index": 0, "message": {"content": "w" * 5000}, "finish_reason": "length"}]}
    gen, _ = generate(Canned([json.dumps(body).encode()], ctype="application/json"), max_output_bytes=1200)
    assert gen.output == "w" * 1200 and gen.truncated_output is True and gen.finish_reason == "length"


def test_a_reply_that_never_finishes_is_cut_off_and_not_retried():
    t0 = time.perf_counter()
    gen, srv = generate(Canned([chunk({"content": "a"}), *[b": keepalive\n\n"] * 400], pause_s=0.01),
                        reply_timeout_s=0.5, max_retries=2)
    assert time.perf_counter() - t0 < 3
    assert "not finished after 0.5 s (reply_timeout_s)" in gen.error and srv.requests == 1 and gen.output == ""


def test_a_stream_of_empty_chunks_is_cut_off_once_it_carries_far_more_bytes_than_text():
    empty = b'data: {"choices": []}\n\n' * 500
    gen, _ = generate(Canned([empty] * 200 + [b"data: [DONE]\n\n"]), max_output_bytes=1000)  # 2.4 MB of nothing
    assert gen.output == "" and "went on past 1112576 bytes" in gen.error  # 64 x 1000 + 1 MiB


def test_the_whole_reply_limit_follows_timeout_s_unless_set():
    trickle = Canned([chunk({"content": "a"}), *[b": keepalive\n\n"] * 400], pause_s=0.01)
    gen, _ = generate(trickle, timeout_s=0.3)
    assert "not finished after 1.5 s (reply_timeout_s)" in gen.error


@pytest.mark.parametrize("bad, named", [({"max_output_bytes": 0}, "max_output_bytes"),
                                        ({"max_output_bytes": "4MB"}, "max_output_bytes"),
                                        ({"reply_timeout_s": 0}, "reply_timeout_s"),
                                        ({"headers": {"x-api-key": 5}}, "x-api-key"),
                                        ({"headers": ["x-api-key"]}, "headers"),
                                        ({"headers": {"Authorization": "Bearer sk-literal"}}, "Authorization.*\\$\\{NAME\\}")])
def test_bad_limit_and_header_options_are_input_errors_naming_the_key(bad, named):
    with FaultServer() as srv, pytest.raises(InputError, match=named):
        OpenAIBackend(spec_from_entry("lim", {"backend": "openai", "base_url": srv.base_url, "model": "m", **bad},
                                      "[models.lim]")).load()
