"""Replies are untrusted: a hostile server serving many malformed shapes (wrong types, nulls, non-JSON
chunks, non-UTF-8 bytes, nesting bombs, endless and gigantic replies) never crashes a run; each case is
either a valid generation or a backend error with a short excerpt, and the other cases go on."""
import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REFERENCE_SUITE, run_cli
from fault_server import Canned, FaultServer
from harness import runner
from harness.backends.openai import wire_messages
from harness.backends.openai_reply import BadResponse, Reply, read_json, read_stream, sse_lines
from harness.models import spec_from_entry
from harness.results import read_records
from harness.runner import case_seed
from harness.suite import load_suite

SUITE = load_suite(REFERENCE_SUITE)
DONE = b"data: [DONE]\n\n"


def data(obj) -> bytes:
    return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"


def choice(delta=None, finish=None, **extra) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": "ok"} if delta is None else delta,
                         "finish_reason": finish, **extra}]}


def stream(*objs, done=True) -> Canned:
    return Canned([data(o) for o in objs] + ([DONE] if done else []))


def body(obj, ctype="application/json", status=200) -> Canned:
    return Canned([obj if isinstance(obj, bytes) else json.dumps(obj).encode()], status=status, ctype=ctype)


def whole(message=None, **extra) -> dict:
    return {"choices": [{"index": 0, "message": {"content": "ok"} if message is None else message,
                         "finish_reason": "stop"}], **extra}


def usage(**counts) -> dict:
    return {"choices": [], "usage": counts}


# (name, reply, "ok" | "error"): each a kind of surprise, most of them seen from real or broken servers
SHAPES = [
    ("plain", stream(choice(), choice({}, "stop")), "ok"),
    ("crlf line endings", Canned([data(choice()).replace(b"\n", b"\r\n"), data(choice({}, "stop")), DONE]), "ok"),
    ("raw U+2028 in content", Canned([b'data: {"choices": [{"delta": {"content": "a\xe2\x80\xa8b"}}]}\n\n',
                                      data(choice({}, "stop"))]), "ok"),
    ("nulls everywhere", stream({"choices": [{"index": None, "delta": {"content": None, "tool_calls": None,
                                 "role": None}, "finish_reason": None}], "usage": None}, choice({}, "stop")), "ok"),
    ("choices null", stream({"choices": None}, choice({}, "stop")), "ok"),
    ("delta null", stream({"choices": [{"delta": None}]}, choice({}, "stop")), "ok"),
    ("usage counts null", stream(choice({}, "stop"), usage(prompt_tokens=None, completion_tokens=None)), "ok"),
    ("usage as a string", stream(choice({}, "stop"), {"choices": [], "usage": "7"}), "error"),
    ("usage as a list", stream(choice({}, "stop"), {"choices": [], "usage": [7, 3]}), "error"),
    ("usage count a string", stream(choice({}, "stop"), usage(prompt_tokens="7")), "error"),
    ("usage count a list", stream(choice({}, "stop"), usage(completion_tokens=[3])), "error"),
    ("usage count negative", stream(choice({}, "stop"), usage(prompt_tokens=-1)), "error"),
    ("usage count a float", stream(choice({}, "stop"), usage(prompt_tokens=7.5)), "error"),
    ("usage count huge", stream(choice({}, "stop"), usage(completion_tokens=10 ** 30)), "error"),
    ("usage count a bool", stream(choice({}, "stop"), usage(prompt_tokens=True)), "error"),
    ("usage count NaN", Canned([data(choice({}, "stop")), b'data: {"choices": [], "usage": {"prompt_tokens": NaN}}\n\n',
                                DONE]), "error"),
    ("choices an object", stream({"choices": {"0": {"delta": {"content": "x"}}}}), "error"),
    ("choices of numbers", stream({"choices": [1, 2]}), "error"),
    ("choice index a string", stream({"choices": [{"index": "0", "delta": {"content": "x"}}]}), "error"),
    ("choice index a bool", stream({"choices": [{"index": False, "delta": {"content": "x"}}]}), "error"),
    ("delta a list", stream({"choices": [{"delta": ["content", "x"]}]}), "error"),
    ("delta a string", stream({"choices": [{"delta": "x"}]}), "error"),
    ("content a number", stream(choice({"content": 42})), "error"),
    ("content a list", stream(choice({"content": [{"type": "text", "text": "x"}]})), "error"),
    ("reasoning a dict", stream(choice({"reasoning_content": {"a": 1}})), "error"),
    ("content a lone surrogate", Canned([b'data: {"choices": [{"delta": {"content": "a\\ud800b"}}]}\n\n', DONE]),
     "error"),
    ("tool_calls an object", stream(choice({"tool_calls": {"index": 0}})), "error"),
    ("tool_calls of nulls", stream(choice({"tool_calls": [None]})), "error"),
    ("tool call index mixed types", stream(
        choice({"tool_calls": [{"index": 0, "function": {"name": "read_file", "arguments": ""}}]}),
        choice({"tool_calls": [{"index": "0", "function": {"arguments": "{}"}}]}), choice({}, "tool_calls")), "error"),
    ("tool call index a float", stream(choice({"tool_calls": [{"index": 0.0, "function": {"name": "f"}}]})), "error"),
    ("tool call index negative", stream(choice({"tool_calls": [{"index": -3, "function": {"name": "f"}}]})), "error"),
    ("tool call id a number", stream(choice({"tool_calls": [{"id": 7, "function": {"name": "f"}}]})), "error"),
    ("tool call function a string", stream(choice({"tool_calls": [{"index": 0, "function": "read_file"}]})), "error"),
    ("tool call name a number", stream(choice({"tool_calls": [{"index": 0, "function": {"name": 3}}]})), "error"),
    ("tool call arguments a list", stream(choice({"tool_calls": [{"function": {"name": "f", "arguments": [1]}}]})),
     "error"),
    ("tool call arguments a number", stream(choice({"tool_calls": [{"function": {"name": "f", "arguments": 1}}]})),
     "error"),
    ("tool calls whole and valid", stream(choice({"tool_calls": [{"index": 0, "id": "c", "type": "function",
                                                                  "function": {"name": "read_file",
                                                                               "arguments": {"path": "a"}}}]},
                                                 "tool_calls")), "ok"),
    ("finish_reason a number", stream(choice({}, 1)), "error"),
    ("finish_reason an object", stream(choice({}, {"type": "stop"})), "error"),
    ("finish_reason huge", stream(choice({}, "stop" * 10_000)), "error"),
    ("data not JSON", Canned([b"data: hello there\n\n", DONE]), "error"),
    ("data a JSON list", stream([1, 2, 3]), "error"),
    ("data a JSON number", stream(42), "error"),
    ("data a JSON string", stream("chunk"), "error"),
    ("data null", stream(None), "error"),
    ("nesting bomb", Canned([b"data: " + b"[" * 100_000 + b"\n\n", DONE]), "error"),
    ("non-UTF-8 bytes in a chunk", Canned([b'data: {"choices": [{"delta": {"content": "caf\xe9"}}]}\n\n', DONE]), "error"),
    ("error event", Canned([data(choice()), b"event: error\n" + data({"error": {"message": "overloaded"}})]), "error"),
    ("error a bare string", stream({"error": "nope"}), "error"),
    ("stream with no data", Canned([b": keepalive\n\n"]), "error"),
    ("stream cut mid-line", Canned([b'data: {"choices": [{"delta": {"content": "he']), "error"),
    ("endless trickle", Canned([b": keepalive\n\n"] * 200, pause_s=0.02), "error"),
    ("one gigantic line", Canned([b"data: " + b"x" * 3_000_000]), "error"),
    ("whole body valid", body(whole(usage={"prompt_tokens": 7, "completion_tokens": 2})), "ok"),
    ("whole body a list", body([whole()]), "error"),
    ("whole body a number", body(3.5), "error"),
    ("whole body an empty object", body({}), "error"),
    ("whole body message content a number", body(whole({"content": 5})), "error"),
    ("whole body usage a string", body(whole(usage="lots")), "error"),
    ("whole body not UTF-8", body(b'{"choices": [{"message": {"content": "\xff\xfe"}}]}'), "error"),
    ("whole body empty", body(b""), "error"),
    ("whole body HTML", body(b"<html>oops</html>", ctype="text/html"), "error"),
    ("whole body gigantic", body(b'{"choices": [{"message": {"content": "' + b"y" * 3_000_000 + b'"}}]}'), "error"),
    ("redirect", body({"moved": True}, status=302), "error"),
    ("teapot", body(b"\xff" * 100_000, status=418), "error"),
]


def spec_for(srv: FaultServer, **options):
    entry = {"backend": "openai", "base_url": srv.base_url, "model": "fake-model", "backoff_s": 0.01,
             "timeout_s": 2, "reply_timeout_s": 0.5, "max_output_bytes": 100_000, "max_retries": 0, **options}
    return spec_from_entry("hostile", entry, "[models.hostile]")


def test_a_hostile_server_never_crashes_a_run_and_each_case_is_an_answer_or_a_backend_error(tmp_path):
    # each shape after a plain answer (None): the runner stops a run after a streak of backend errors
    script = [reply for _, shape, _ in SHAPES for reply in (None, shape)]
    samples = -(-len(script) // len(SUITE.cases))
    with FaultServer(script=script) as srv:  # past the script, plain answers
        outcome = runner.run(SUITE, spec_for(srv, concurrency=4, temperature=0.5), tmp_path / "run", samples=samples,
                             progress=False)
    records = {r.key: r for r in read_records(tmp_path / "run")}
    assert outcome.generated == len(records) == len(SUITE.cases) * samples
    assert outcome.status == "partial"  # finished, with the backend errors not judged
    request_of = {(json.dumps(wire_messages(c.messages), sort_keys=True), case_seed(0, c.id, n)): (c.id, n)
                  for c in SUITE.cases for n in range(samples)}
    sent = [records[request_of[json.dumps(b["messages"], sort_keys=True), b["seed"]]] for b in srv.bodies]
    for (name, _, expected), r in zip(SHAPES, sent[1::2]):  # the server saw requests in script order
        if expected == "ok":
            assert r.error is None and r.reason != "backend_error", (name, r.error)
        else:
            assert r.reason == "backend_error" and r.output == "", (name, r.output[:100])
            assert "unexpected failure" not in r.error, (name, r.error)  # a check foresaw it, no catch-all
            assert len(r.error) < 300 + 250, (name, len(r.error))  # an excerpt, never the whole reply
            assert r.passed is False and r.level is None
    assert all(r.error is None for r in sent[0::2])  # the plain answers between them


def test_a_real_harness_run_against_a_hostile_server_ends_normally(tmp_path):
    picked = [shape for name, shape, expected in SHAPES if expected == "error"][::6]
    script = [reply for shape in picked for reply in (None, shape)]
    with FaultServer(script=script) as srv:
        models = tmp_path / "models.toml"
        models.write_text(f'[models.hostile]\nbackend = "openai"\nbase_url = "{srv.base_url}"\nmodel = "m"\n'
                          f'max_retries = 0\nreply_timeout_s = 0.5\nmax_output_bytes = 100000\n')
        r = run_cli("run", str(REFERENCE_SUITE), "--model", "hostile", "--models", str(models),
                    "--run-dir", str(tmp_path / "run"))
    assert r.returncode in (0, 1) and "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    records = read_records(tmp_path / "run")
    assert len(records) == len(SUITE.cases) and sum(rec.reason == "backend_error" for rec in records) == len(picked)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


def mostly(valid):
    """`valid` 29 times in 30, else any JSON value: streams that are mostly right, wrong in one place."""
    return st.integers(0, 29).flatmap(lambda n: JSON if n == 29 else valid)  # shrinks towards valid


def fields(**strategies):
    return st.fixed_dictionaries({k: mostly(v) for k, v in strategies.items()})


TEXT = st.text(max_size=10) | st.none()
FUNCTION = fields(name=st.sampled_from(["read_file", "run_tests", ""]) | st.none(),
                  arguments=TEXT | st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
TOOL_CALL = fields(index=st.integers(0, 2) | st.none(), id=TEXT, type=st.just("function"), function=FUNCTION)
DELTA = fields(role=st.just("assistant"), content=TEXT, reasoning_content=TEXT, reasoning=TEXT,
               tool_calls=st.lists(mostly(TOOL_CALL), max_size=2) | st.none())
CHOICE = fields(index=st.sampled_from([0, 0, 0, 1]) | st.none(), delta=DELTA, message=DELTA,
                finish_reason=st.sampled_from(["stop", "tool_calls", "length"]) | st.none())
CHUNK = mostly(fields(choices=st.lists(mostly(CHOICE), max_size=2) | st.none(),
                      usage=fields(prompt_tokens=st.integers(0, 10 ** 6), completion_tokens=st.integers(0, 10 ** 6)) | st.none(),
                      error=st.none()))


def assert_well_formed(reply: Reply) -> None:
    assert isinstance(reply.output(), str)
    for call in reply.tool_calls() or []:
        assert isinstance(call["function"]["name"], str)
        assert isinstance(call["function"]["arguments"], (str, dict))
    for n in (reply.prompt_tokens, reply.completion_tokens):
        assert n is None or type(n) is int and n >= 0
    assert reply.finish_reason is None or isinstance(reply.finish_reason, str)


@settings(max_examples=80, deadline=None)
@given(st.lists(CHUNK, max_size=6), st.booleans())
def test_any_stream_of_json_chunks_is_a_reply_or_a_bad_response(chunks, done):
    lines = [f"data: {json.dumps(c)}".encode() for c in chunks] + ([b"data: [DONE]"] if done else [])
    try:
        reply = read_stream(iter(lines), time.perf_counter(), limit=1000)
    except BadResponse as e:
        assert len(str(e)) < 300 + 250
        return
    assert_well_formed(reply)


@settings(max_examples=80, deadline=None)
@given(st.one_of(CHUNK.map(json.dumps), st.text(max_size=60)))
def test_any_whole_body_is_a_reply_or_a_bad_response(text):
    try:
        assert_well_formed(read_json(text, limit=1000))
    except BadResponse:
        pass


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=40) | st.sampled_from([b"\n", b"\r\n", b"data: x"]), max_size=8), st.data())
def test_line_splitting_does_not_depend_on_where_the_chunks_break(pieces, data):
    raw = b"".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=6)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)])]

    def lines(chunks):
        return list(sse_lines(iter(chunks), max_line=10_000))

    parts = raw.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    assert lines(chunks) == lines([raw]) == [p.removesuffix(b"\r") for p in parts]
