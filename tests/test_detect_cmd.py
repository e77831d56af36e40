"""`harness detect`: JSONL in, one JSON line per record out; --text prints one detection readably."""
import argparse
import io
import json
import tracemalloc

import pytest

from harness import jsonl
from harness.commands import detect as detect_cmd
from harness.errors import InputError

HERMES = '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>'


def parse(argv):
    parser = argparse.ArgumentParser()
    detect_cmd.add_arguments(parser)
    return parser.parse_args(argv)


def test_jsonl_file(tmp_path, capsys):
    src = tmp_path / "outputs.jsonl"
    records = [{"id": "a", "output": HERMES}, {"output": "Just prose."},
               {"id": 3, "output": "<tool_call>\n<function=f>\n<parameter=n>\n7\n</parameter>\n</function>",
                "tools": [{"name": "f", "parameters": {"properties": {"n": {"type": "string"}}}}]}]
    src.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    assert detect_cmd.main(parse([str(src)])) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"id": "a", "outcome": "call", "format": "hermes_json",
                        "calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}], "near_miss": None}
    assert list(lines[0]) == ["id", "outcome", "format", "calls", "near_miss"]
    assert lines[1]["id"] is None and lines[1]["outcome"] == "none"
    assert lines[2]["calls"] == [{"name": "f", "arguments": {"n": "7"}}]  # typed by the record's tools


def stdin(data: bytes, tty: bool = False):
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    stream.isatty = lambda: tty
    return stream


def test_stdin(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", stdin((json.dumps({"id": 1, "output": HERMES}) + "\n").encode()))
    assert detect_cmd.main(parse([])) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "hermes_json"


class CountingOut(io.StringIO):
    def __init__(self):
        super().__init__()
        self.writes = self.flushes = 0

    def write(self, s):
        self.writes += 1
        return super().write(s)

    def flush(self):
        self.flushes += 1


@pytest.mark.parametrize("tty", [False, True])
def test_flushes_per_line_only_for_a_terminal(monkeypatch, tty):
    lines = 50
    data = "".join(json.dumps({"id": k, "output": HERMES if k % 2 else "prose"}) + "\n" for k in range(lines)).encode()
    out = CountingOut()
    monkeypatch.setattr("sys.stdin", stdin(data, tty))
    monkeypatch.setattr("sys.stdout", out)
    assert detect_cmd.main(parse(["-"])) == 0
    assert [json.loads(x)["id"] for x in out.getvalue().splitlines()] == list(range(lines))
    if tty:
        assert out.flushes >= lines
    else:
        assert out.writes <= 2 and out.flushes == 1


def test_non_utf8_line_is_named(tmp_path, capsys):
    src = tmp_path / "latin.jsonl"
    src.write_bytes(json.dumps({"output": "ok"}).encode() + b"\n" + b'{"output": "caf\xe9"}\n')
    with pytest.raises(InputError, match=r"latin\.jsonl:2: not UTF-8 \(byte 0xe9 at byte offset 32, column 16\)"):
        detect_cmd.main(parse([str(src)]))
    assert json.loads(capsys.readouterr().out)["outcome"] == "none"  # the line before it is written


def test_a_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        detect_cmd.main(parse([str(tmp_path)]))


def test_streams_a_large_file_in_bounded_memory(tmp_path, monkeypatch):
    """JSONL files of 12 and 24 MB are read in bounded pieces: the peak of Python allocations (a read
    block, a batch of records, an output block) stays a small fraction of the file, and the same for both."""
    unit = "The forecast for Bergen is rain, then sun. " * 100  # ~4.3 KB
    peaks, sizes = [], []
    for lines in (2800, 5600):
        src = tmp_path / f"big{lines}.jsonl"
        with open(src, "w", encoding="utf-8") as f:
            for k in range(lines):
                f.write(json.dumps({"id": k, "output": unit if k % 50 else HERMES}) + "\n")
        sizes.append(src.stat().st_size)
        with open(tmp_path / "out.jsonl", "w") as sink:
            monkeypatch.setattr("sys.stdout", sink)
            tracemalloc.start()
            try:
                assert detect_cmd.main(parse([str(src)])) == 0
                peaks.append(tracemalloc.get_traced_memory()[1])
            finally:
                tracemalloc.stop()
        assert sum(1 for _ in open(tmp_path / "out.jsonl")) == lines
    assert sizes[1] > 20_000_000 and peaks[1] < sizes[1] / 16, (peaks, sizes)
    assert peaks[1] < peaks[0] * 1.2, peaks  # twice the file, not more memory


def test_bad_json_line_names_file_and_line(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text(json.dumps({"output": "x"}) + "\n{oops\n")
    with pytest.raises(InputError, match=r"bad\.jsonl:2: not valid JSON \(.*\); each line must be a JSON object "
                                         r'with an "output" field'):
        detect_cmd.main(parse([str(src)]))


@pytest.mark.parametrize("line", ['{"id": 1}', "[1, 2]", '{"output": 5}', '{"output": "x", "tools": "no"}'])
def test_records_without_a_usable_output(tmp_path, line):
    src = tmp_path / "r.jsonl"
    src.write_text(line + "\n")
    with pytest.raises(InputError, match=r"r\.jsonl:1: "):
        detect_cmd.main(parse([str(src)]))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        detect_cmd.main(parse([str(tmp_path / "nope.jsonl")]))


def test_text_is_printed_readably(capsys):
    assert detect_cmd.main(parse(["--text", HERMES])) == 0
    out = capsys.readouterr().out
    assert "format:    hermes_json" in out and "outcome:   call" in out
    assert 'call 1:    get_weather {"city": "Oslo"}' in out and "near miss: -" in out


def test_text_cut_off_call(capsys):
    detect_cmd.main(parse(["--text", '<tool_call>{"name": "f", "arguments": {"a": ']))
    out = capsys.readouterr().out
    assert "outcome:   malformed" in out and "call 1:    f (cut off: arguments unknown)" in out


def test_namespace_without_text_attribute(tmp_path, capsys):
    src = tmp_path / "one.jsonl"
    src.write_text(json.dumps({"output": HERMES}) + "\n")
    assert detect_cmd.main(argparse.Namespace(file=str(src))) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "call"


ODD_OUTPUTS = [
    '<tool_call>{"name": "f", "arguments": {"x": NaN, "y": [1e999, -Infinity], "z": null}}</tool_call>',
    '<tool_call>{"name": "f", "arguments": {"x": null, "nullable": "null"}}</tool_call>',
    '<tool_call>{"name": "café", "arguments": {"s": "naïve \\u00e9 \\ud83d\\ude00 \x7f end"}}</tool_call>',
    '<tool_call>{"name": "f", "arguments": {"s": "lone \\ud800 surrogate"}}</tool_call>',
    "Prose with ünïcode and a DEL \x7f character.",
    '[get_weather(city="Zürich", days=float("nan"))]',
    '<tool_call>{"name": "f", "arguments": {"code": "' + "x = 1\\n" * 600 + '", "ratio": Infinity}}</tool_call>',  # long
]


@pytest.mark.parametrize("binary", [False, True])
def test_lines_are_what_the_json_module_writes(monkeypatch, binary):
    """Fast encoding (msgspec, bytes written straight to stdout) gives the json module's lines: NaN and
    Infinity as such (msgspec would write null), non-ASCII and DEL as \\u escapes, lone surrogates kept."""
    from harness.detect import detect

    records = [{"id": k if k % 2 else {"nested": [k, None]}, "output": text} for k, text in enumerate(ODD_OUTPUTS)]
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8") if binary else io.StringIO()
    monkeypatch.setattr("sys.stdin", stdin(data))
    monkeypatch.setattr("sys.stdout", out)
    assert detect_cmd.main(parse(["-"])) == 0
    written = raw.getvalue().decode() if binary else out.getvalue()
    expected = [json.dumps({"id": r["id"], **detect(r["output"]).to_dict()}, separators=(",", ":"))
                for r in records]
    assert written.splitlines() == expected
    assert "NaN" in written and "Infinity" in written and "\\u00e9" in written and "\\ud800" in written


@pytest.mark.parametrize("batch", [None, (7, 300)])
def test_records_detected_in_batches_come_out_in_input_order_as_detected_alone(monkeypatch, batch):
    """Records are detected in batches, in an order where outputs that start alike follow each other; each
    line still comes out in input order, as detect() reads that record alone (its tools too), across batch
    ends set by count or by bytes."""
    import random

    from harness.detect import detect

    if batch:
        monkeypatch.setattr(detect_cmd, "_BATCH", batch[0])
        monkeypatch.setattr(detect_cmd, "_BATCH_BYTES", batch[1])
    typed = [{"name": "f", "parameters": {"properties": {"n": {"type": "string"}}}}]
    qwen = "<tool_call>\n<function=f>\n<parameter=n>\n7\n</parameter>\n</function>"
    rng = random.Random(5)
    records = [{"id": k, "output": rng.choice(ODD_OUTPUTS + [HERMES, qwen, "Prose.", "<think>a</think>" + HERMES])}
               for k in range(2 * detect_cmd._BATCH + 9)]
    for record in records[::3]:
        record["tools"] = typed
    out = io.StringIO()
    monkeypatch.setattr("sys.stdin", stdin("".join(json.dumps(r) + "\n" for r in records).encode()))
    monkeypatch.setattr("sys.stdout", out)
    assert detect_cmd.main(parse(["-"])) == 0
    assert out.getvalue().splitlines() == [
        json.dumps({"id": r["id"], **detect(r["output"], r.get("tools")).to_dict()}, separators=(",", ":"))
        for r in records]


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    """`harness detect - | head -1`: once the reader has gone, the command stops with the shell's SIGPIPE
    status and no "internal error"."""
    import subprocess
    import sys

    src = tmp_path / "many.jsonl"
    src.write_text("".join(json.dumps({"id": k, "output": HERMES}) + "\n" for k in range(60_000)))
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "detect", str(src)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert json.loads(proc.stdout.readline())["format"] == "hermes_json"
    proc.stdout.close()  # as head does after its first line
    assert proc.wait(timeout=60) == 141
    assert proc.stderr.read() == b""


@pytest.mark.skipif(not __import__("os").path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_named_not_called_a_bug(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "some.jsonl"
    src.write_text("".join(json.dumps({"id": k, "output": HERMES}) + "\n" for k in range(5_000)))
    with open("/dev/full", "wb") as full:
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "detect", str(src)], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 4
    assert proc.stderr.strip().splitlines() == ["error: a write failed: No space left on device; free space, or write "
                                                "elsewhere, and run again"]


def test_a_byte_order_mark_opening_the_input_is_dropped(monkeypatch, capsys):
    data = "\ufeff".encode() + (json.dumps({"id": 1, "output": HERMES}) + "\n").encode()
    monkeypatch.setattr("sys.stdin", stdin(data))
    assert detect_cmd.main(parse(["-"])) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "hermes_json"


def test_a_line_longer_than_any_record_is_named_not_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1000)
    src = tmp_path / "long.jsonl"
    src.write_text(json.dumps({"output": "ok"}) + "\n" + json.dumps({"output": "x" * 5000}) + "\n")
    with pytest.raises(InputError, match=r"long\.jsonl:2: line longer than 1.0 KB; each line must be one record"):
        detect_cmd.main(parse([str(src)]))


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 18])
def test_lines_cut_across_read_blocks_read_as_whole_lines(tmp_path, monkeypatch, capsys, block):
    monkeypatch.setattr(jsonl, "READ_BYTES", block)
    records = [{"id": k, "output": HERMES if k % 3 else f"answer {k} " * k} for k in range(40)]
    src = tmp_path / "cut.jsonl"
    src.write_bytes("\ufeff".encode() + "\n".join(json.dumps(r) for r in records).encode())  # no final newline
    assert detect_cmd.main(parse([str(src)])) == 0
    assert [json.loads(x)["id"] for x in capsys.readouterr().out.splitlines()] == list(range(40))


def test_a_line_that_never_ends_is_stopped_within_the_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonl, "READ_BYTES", 64)
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1000)
    src = tmp_path / "endless.jsonl"
    src.write_text('{"output": "ok"}\n{"output": "' + "x" * 100_000)
    with pytest.raises(InputError, match=r"endless\.jsonl:2: line longer than 1.0 KB"):
        detect_cmd.main(parse([str(src)]))
