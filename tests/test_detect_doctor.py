"""doctor's data checks read detection results: training data whose calls are in the template's
format with a large share in another format warns with the counts; reasoning pairs come from detect."""
import pytest

from harness import doctor
from harness.detect import REASONING_PAIRS, detect

HERMES = '<tool_call>\n{"name": "lookup", "arguments": {"q": "a"}}\n</tool_call>'
QWEN = "<tool_call>\n<function=lookup>\n<parameter=q>\na\n</parameter>\n</function>\n</tool_call>"


def probe(call_format: str) -> doctor.Probe:
    return doctor.Probe(tools_prompt="", generation_tail="", call_segment=HERMES, call_format=call_format,
                        call_markers=[], result_markers=[], end_of_turn=None)


def examples(outputs: list[str]) -> list[doctor.Example]:
    out = []
    for line, text in enumerate(outputs, 1):
        ex = doctor.Example(line=line, messages=[{"role": "assistant", "content": text}], tools=[])
        found = detect(text)
        if found.outcome != "none":
            ex.formats.extend([found.format] * len(found.calls))
        out.append(ex)
    return out


@pytest.mark.parametrize("hermes, qwen, status", [
    (10, 0, "pass"), (9, 1, "pass"), (6, 4, "warn"), (5, 5, "warn"), (4, 6, "fail"), (0, 3, "fail")])
def test_share_in_another_format(hermes, qwen, status):
    data = examples([HERMES] * hermes + [QWEN] * qwen + ["Just an answer."])
    check = doctor.check_data_format_match(probe("hermes_json"), data)
    assert check.status == status, check
    if status == "warn":
        assert f"{qwen} of {hermes + qwen} calling examples" in check.finding
        assert f"qwen3_coder_xml in {qwen}" in check.finding and f"{qwen / (hermes + qwen):.0%}" in check.finding
        assert check.fix


def test_doctor_reads_the_reasoning_pairs_of_detect():
    assert ("<think>", "</think>") in REASONING_PAIRS and ("[THINK]", "[/THINK]") in REASONING_PAIRS
    assert not any(isinstance(v, tuple) and ("<think>", "</think>") in v for v in vars(doctor).values()
                   if v is not REASONING_PAIRS)  # no second copy
