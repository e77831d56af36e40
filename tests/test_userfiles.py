"""The one reader: exact positions of bad bytes, bounded streaming, depth limits, output paths, and run
folders whose damaged records are named or skipped and counted."""
import io
import json

import pytest

from harness import jsonl
from harness.errors import InputError
from harness.jsonl import json_lines
from harness.results import read_manifest
from harness.runfiles import numbered_records, record_lines
from harness.userfiles import MAX_DEPTH, check_depth, check_output_path, read_text, read_toml
from replay_runs import make_run


def test_non_utf8_names_line_byte_offset_and_column(tmp_path):
    path = tmp_path / "x.toml"
    path.write_bytes(b'a = "ok"\nb = "caf\xe9"\n')
    with pytest.raises(InputError) as err:
        read_text(path, "suite file")
    assert str(err.value).startswith(f"{path}:2: not UTF-8 (byte 0xe9 at byte offset 17, column 9);")
    path.write_bytes(b"\xef\xbb\xbfa\xe9")  # after a byte-order mark the offset still counts from the file's start
    with pytest.raises(InputError, match=r"x\.toml:1: not UTF-8 \(byte 0xe9 at byte offset 4, column 2\)"):
        read_text(path, "suite file")


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_bytes(b"\xef\xbb\xbf[overall]\nmin_accuracy = 0.5\n")
    assert read_toml(path, "gate rules file") == {"overall": {"min_accuracy": 0.5}}
    lines = tmp_path / "r.jsonl"
    lines.write_bytes(b'\xef\xbb\xbf{"id": "a"}\n')
    assert list(json_lines(lines, str(lines), "hint")) == [(1, {"id": "a"})]


def test_depth_limit_is_exact_and_iterative():
    def nest(n):
        value = []
        for _ in range(n - 1):
            value = [value]
        return value

    assert check_depth(nest(MAX_DEPTH), "x") is not None
    with pytest.raises(InputError, match=f"nested more than {MAX_DEPTH} levels"):
        check_depth(nest(MAX_DEPTH + 1), "x")
    with pytest.raises(InputError):  # far beyond the interpreter's recursion limit, still a clear error
        check_depth(nest(100_000), "x")


class CountingFile:
    """A binary file that counts how many lines were asked of it."""

    def __init__(self, lines: list[bytes]):
        self.lines, self.reads = lines, 0

    def readline(self, limit: int) -> bytes:
        self.reads += 1
        return self.lines.pop(0)[:limit] if self.lines else b""


def test_json_lines_streams_one_line_at_a_time():
    source = CountingFile([b'{"n": %d}\n' % i for i in range(1000)])
    stream = json_lines(source, "big.jsonl", "hint")
    assert next(stream) == (1, {"n": 0})
    assert source.reads == 1  # nothing beyond the first line has been read
    assert sum(1 for _ in stream) == 999


def test_an_endless_line_is_refused_without_reading_it_whole(monkeypatch):
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 100)
    source = CountingFile([b'{"output": "' + b"x" * 1000 + b'"}\n'])
    with pytest.raises(InputError, match=r"big\.jsonl:1: line longer than 100 B"):
        list(json_lines(source, "big.jsonl", "hint"))


@pytest.mark.parametrize("block", [1, 5, 64, 1 << 18])
def test_binary_streams_are_read_in_blocks_cut_into_whole_lines(monkeypatch, block):
    monkeypatch.setattr(jsonl, "READ_BYTES", block)
    data = "".join(json.dumps({"n": i, "pad": "é" * i}) + "\n" for i in range(30)) + '{"n": 30}'  # no final newline
    assert [r["n"] for _, r in json_lines(io.BytesIO(data.encode()), "f.jsonl", "hint")] == list(range(31))


class EndlessStream:
    """A binary stream whose second line does not end for a megabyte (a pipe from a runaway producer)."""

    def __init__(self):
        self.sent = 0

    def read1(self, n: int) -> bytes:
        if self.sent > 1 << 20:
            return b""
        self.sent += n
        return b'{"a": 1}\n{"a": "' if self.sent == n else b"x" * n


def test_an_endless_line_in_blocks_is_refused_within_the_bound(monkeypatch):
    monkeypatch.setattr(jsonl, "READ_BYTES", 16)
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 100)
    stream = EndlessStream()
    with pytest.raises(InputError, match=r"f\.jsonl:2: line longer than 100 B"):
        list(json_lines(stream, "f.jsonl", "hint"))
    assert stream.sent <= 100 + 2 * 16  # stopped within a block of the bound


@pytest.mark.parametrize("line, kind", [("[1]", "an array"), ("3", "a number"), ('"s"', "a string"),
                                        ("null", "null"), ("true", "true/false")])
def test_json_lines_need_objects(line, kind):
    with pytest.raises(InputError, match=f"f.jsonl:2: {kind}, not a JSON object; give objects"):
        list(json_lines(["{}\n", line + "\n"], "f.jsonl", "give objects"))


def test_text_lines_from_stdin_like_text_files_work_too():
    assert list(json_lines(iter(['{"a": 1}\n', "\n", '{"a": 2}']), "<stdin>", "h")) == [(1, {"a": 1}), (3, {"a": 2})]


def test_output_paths(tmp_path):
    check_output_path(tmp_path / "report.md", "-o")  # a new file in an existing folder is fine
    check_output_path(None, "-o")
    with pytest.raises(InputError, match="does not exist; create it"):
        check_output_path(tmp_path / "missing" / "report.md", "-o")
    with pytest.raises(InputError, match="-o names a folder"):
        check_output_path(tmp_path, "-o")
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_output_path(tmp_path / "file" / "report.md", "--junit")


def _damage(run_dir, edits: dict, torn: str | None = None):
    """Replace lines (1-based) of a run's results.jsonl with raw bytes; optionally add a torn last line."""
    path = run_dir / "results.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    for number, raw in edits.items():
        lines[number - 1] = raw + b"\n"
    path.write_bytes(b"".join(lines) + (torn.encode() if torn else b""))
    return path


@pytest.fixture
def run_dir(tmp_path):
    return make_run(tmp_path / "run")


def test_damaged_records_are_skipped_and_counted(run_dir):
    first = json.loads((run_dir / "results.jsonl").read_text().splitlines()[0])
    path = _damage(run_dir, {
        2: b"[1, 2]",
        4: json.dumps({k: v for k, v in first.items() if k != "category"}).encode(),
        6: json.dumps({**first, "sample": "1"}).encode(),
        8: b'{"id": "caf\xe9"}',
        10: json.dumps({**first, "detection": {"outcome": 3}}).encode(),
        12: json.dumps({**first, "latency_s": [1]}).encode(),
    }, torn='{"id": "cut off mid-wr')
    records, damaged = record_lines(path, skip_damaged=True)
    assert damaged == 6 and len(records) == 20  # the torn last line is a crash, redone on resume: not damage
    assert all(isinstance(r.sample, int) for r in records)
    numbers = [n for n, _ in numbered_records(path, skip_damaged=True)[0]]
    assert 2 not in numbers and 3 in numbers


@pytest.mark.parametrize("line, raw, problem", [
    (2, b"[1, 2]", "an array, not a JSON object"),
    (3, b'{"id": "a"}', "no 'category' field"),
    (5, b"{oops", "not valid JSON"),
    (7, b'{"id": "caf\xe9"}', "not UTF-8 (byte 0xe9"),
])
def test_a_damaged_record_names_its_line_and_the_recovery(run_dir, line, raw, problem):
    path = _damage(run_dir, {line: raw})
    with pytest.raises(InputError) as err:
        record_lines(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: ") and problem in message
    assert f"--run-dir {run_dir}" in message and "--skip-damaged" in message


def test_sample_must_be_a_whole_number(run_dir):
    first = json.loads((run_dir / "results.jsonl").read_text().splitlines()[0])
    for bad in ("0", 1.0, True, -1, None):
        path = _damage(run_dir, {1: json.dumps({**first, "sample": bad}).encode()})
        with pytest.raises(InputError, match=r"results\.jsonl:1: field 'sample' must be"):
            record_lines(path)


@pytest.mark.parametrize("text, problem", [
    ('{"status": "complete", "suite": {"na', "Unterminated string"),
    ("[1, 2]", "must be a JSON object, got list"),
    ('{"model": []}', "field 'model'"),
    ('{"warnings": "none"}', "field 'warnings'"),
])
def test_a_damaged_manifest_says_how_to_recover(run_dir, text, problem):
    (run_dir / "manifest.json").write_text(text)
    with pytest.raises(InputError) as err:
        read_manifest(run_dir)
    assert str(err.value).startswith(f"{run_dir / 'manifest.json'}: ") and problem in str(err.value)
    assert "delete it" in str(err.value)


def test_sound_run_folder_reads_whole(run_dir):
    records, damaged = record_lines(run_dir / "results.jsonl")
    assert damaged == 0 and len(records) == 26 and all(r.case_sha256 for r in records)
    assert read_manifest(run_dir).suite["name"] == "coding-tools"
    assert read_manifest(run_dir / "absent") is None


def test_training_data_goes_through_the_reader(tmp_path):
    from harness.doctor import read_examples

    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [{"role": "user", '
                     b'"content": "h\xe9"}]}\n')
    with pytest.raises(InputError, match=r"train\.jsonl:2: not UTF-8"):
        read_examples(path)
    path.write_text("[]\n")
    with pytest.raises(InputError, match=r"train\.jsonl:1: an array, not a JSON object"):
        read_examples(path)
    with pytest.raises(InputError, match="cannot read the training data: it is a folder"):
        read_examples(tmp_path)
