"""The pure side of decision probes: the call marker read off a template's rendered probe call, AUC,
boundary cases, checkpoint discovery, and the p_call label of run reports."""
import json

import pytest

from harness.doctor import PROBE_NAME, Probe
from harness.errors import InputError
from harness.probe import ProbeRecord, auc, call_marker, checkpoints, summarize
from harness.text import failure_label, p_text


def _probe(tail: str, segment: str | None, markers=("<tool_call>", "</tool_call>")) -> Probe:
    return Probe(tools_prompt="", generation_tail=tail, call_segment=segment, call_format="hermes",
                 call_markers=list(markers), result_markers=[], end_of_turn="<|im_end|>")


CALL = f'{{"name": "{PROBE_NAME}", "arguments": {{}}}}'


@pytest.mark.parametrize("tail, segment, markers, given, marker", [
    # Qwen2.5 / Hermes: the generation prompt ends in a newline, the call turn continues with the tag
    ("<|im_start|>assistant\n", f"<|im_start|>assistant\n<tool_call>\n{CALL}\n</tool_call>", None, "", "<tool_call>"),
    # a template whose call turn starts without the newline the generation prompt ends with
    ("<|im_start|>assistant\n", f"<|im_start|>assistant<tool_call>{CALL}</tool_call>", None, "", "<tool_call>"),
    # Mistral-style tag with no newline; the marker is whatever precedes the first tag
    ("[/INST]", f"[/INST] [TOOL_CALLS][{CALL}]", ["[TOOL_CALLS]"], "", " [TOOL_CALLS]"),
    # Qwen3 renders an empty reasoning block before a call: prefilled, not scored
    ("<|im_start|>assistant\n", f"<|im_start|>assistant\n<think>\n\n</think>\n\n<tool_call>\n{CALL}\n</tool_call>",
     None, "<think>\n\n</think>\n\n", "<tool_call>"),
    # untagged JSON calls: the marker is the text before the tool name
    ("<|start_header_id|>assistant<|end_header_id|>\n\n", f"<|start_header_id|>assistant<|end_header_id|>\n\n{CALL}",
     [], "", '{"name": "'),
])
def test_call_marker_is_the_text_that_opens_a_call(tail, segment, markers, given, marker):
    found = call_marker(_probe(tail, segment, markers if markers is not None else ("<tool_call>", "</tool_call>")), False)
    assert (found.na, found.given, found.marker) == (None, given, marker)


def test_call_marker_is_na_with_a_reason():
    assert "reasoning" in call_marker(_probe("<|im_start|>assistant\n<think>\n", "x"), False).na
    assert "enable_thinking" in call_marker(_probe("<|im_start|>assistant\n", f"<|im_start|>assistant\n{CALL}"), True).na
    pythonic = call_marker(_probe("A:", f"A:[{PROBE_NAME}(probe_query='alpha')]", []), False)
    assert pythonic.na is None and pythonic.marker == "["
    bare = call_marker(_probe("A:", f"A:{PROBE_NAME}(probe_query='alpha')", []), False)
    assert "no marker" in bare.na
    broken = _probe("A:", None)
    broken.problems.append("the template cannot render an assistant tool call (TypeError: x)")
    assert "TypeError" in call_marker(broken, False).na


def test_auc_counts_pairs_and_ties():
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5, 0.9], [0.5]) == 0.75  # one tie (half) and one win
    assert auc([], [0.1]) is None


def test_summary_and_boundary():
    forced = {"passed": True, "reason": None, "tool": True, "call": True, "output": "", "detail": ""}
    cases = [ProbeRecord(f"t{i}", "a", True, p, forced=dict(forced, call=i != 1)) for i, p in enumerate([0.9, 0.45, 0.99])]
    cases += [ProbeRecord("d", "b", False, 0.6), ProbeRecord("n", "b", False, None, na="why")]
    s = summarize(cases)
    assert s["overall"]["auc"] == pytest.approx(2 / 3)
    assert s["categories"]["a"]["tool"]["median"] == 0.9 and s["categories"]["b"]["direct"]["n"] == 1
    assert s["boundary"][:2] == ["t1", "d"]
    assert s["na"] == ["why"]
    assert s["overall"]["forced"] == {"n": 3, "tool": 1.0, "call": pytest.approx(2 / 3)}


def test_probe_records_read_back_typed():
    record = ProbeRecord("t", "a", True, 0.25, top_tokens=[["<tool_call>", 0.25]])
    assert ProbeRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    assert ProbeRecord.from_json({**record.to_json(), "p_call": "high"}) is None  # damaged: probed again
    assert ProbeRecord.from_json({"id": "t"}) is None and ProbeRecord.from_json([1]) is None


def test_checkpoints_sorted_by_iteration_with_the_final_one_last(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"iters": 300}))
    for name in ("0000200_adapters.safetensors", "0000100_adapters.safetensors", "adapters.safetensors", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [(i, p.name) for i, p in checkpoints(tmp_path)] == [
        (100, "0000100_adapters.safetensors"), (200, "0000200_adapters.safetensors"), (300, "adapters.safetensors")]
    (tmp_path / "0000300_adapters.safetensors").write_bytes(b"")  # the final file repeats the last checkpoint
    assert [i for i, _ in checkpoints(tmp_path)] == [100, 200, 300]
    with pytest.raises(InputError, match="adapter_config.json"):
        checkpoints(tmp_path / "nowhere")


def test_p_call_label_beside_a_failure():
    assert p_text(0.3137) == "0.31" and p_text(2.2e-7) == "2e-7" and p_text(None) == "n/a"
    assert failure_label("no_call", 0.31) == "no_call (p_call 0.31)"
    assert failure_label("no_call", 2e-7) == "no_call (p_call 2e-7)"
    assert failure_label("no_call", None) == "no_call"
