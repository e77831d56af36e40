"""The scorer's conventions: reasoning removal, fences, bare JSON only as the whole answer,
mentions, which marker owns an output."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.detect import Detection, ToolCall, detect

W = {"city": "Oslo"}
HERMES = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
QWEN = "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>\n</tool_call>"
BARE = '{"name": "get_weather", "arguments": {"city": "Oslo"}}'
CALL = ("call", [ToolCall("get_weather", W)])


def outcome(text, tools=None):
    found = detect(text, tools)
    return found.outcome, found.calls, found.near_miss


REASONING = [
    ("closed_think_then_call", f"<think>Weather needed.</think>\n{HERMES}", "call", None),
    ("orphan_close_then_call", f"Weather is needed, so I call it.\n</think>\n\n{QWEN}", "call", None),
    ("draft_inside_closed_think_not_duplicated", f"<think>Draft: {HERMES}</think>{HERMES}", "call", None),
    ("call_only_inside_closed_think", f"<think>I could do {HERMES}</think>I can't help with that.", "none",
     "call inside reasoning"),
    ("call_before_orphan_close", f"{HERMES}\n</think>\nThe answer is 4.", "none", "call inside reasoning"),
    ("unclosed_think_with_call", f"<think>Let me call it.\n{QWEN}", "none", "call inside unfinished reasoning"),
    ("unclosed_think_without_call", "<think>Hmm, the user wants", "none", None),
    ("seed_think", f"<seed:think>Plan.</seed:think>{HERMES}", "call", None),
    ("magistral_think", f"[THINK]Plan. {HERMES}[/THINK]Here you go: {HERMES}", "call", None),
    ("magistral_unclosed", f"[THINK]Plan. {HERMES}", "none", "call inside unfinished reasoning"),
    ("cohere_thinking", f"<|START_THINKING|>{HERMES}<|END_THINKING|><|START_RESPONSE|>No.<|END_RESPONSE|>", "none",
     "call inside reasoning"),
    ("apertus_inner", f"<|inner_prefix|>{HERMES}<|inner_suffix|>Done.", "none", "call inside reasoning"),
    ("apriel_thinking", f"<thinking>{HERMES}</thinking>Answer.", "none", "call inside reasoning"),
    ("gemma4_channel", f"<|channel>thought\n{HERMES}<channel|>Answer.", "none", "call inside reasoning"),
    ("harmony_analysis_draft", "<|channel|>analysis<|message|>" + HERMES + "<|end|><|start|>assistant<|channel|>final"
     "<|message|>Sunny.<|return|>", "none", "call inside reasoning"),
    ("harmony_unfinished_analysis", "<|channel|>analysis<|message|>Calling <tool_call>{\"name\": \"a\", \"arguments\": {}}",
     "none", "call inside unfinished reasoning"),
]


@pytest.mark.parametrize("text,expected,near", [c[1:] for c in REASONING], ids=[c[0] for c in REASONING])
def test_reasoning_is_never_a_call(text, expected, near):
    got, calls, near_miss = outcome(text)
    assert (got, near_miss) == (expected, near)
    assert calls == (CALL[1] if expected == "call" else [])


PROSE = [
    ("plain_answer", "The weather in Oslo is usually mild in spring.", None),
    ("empty", "", None),
    ("whitespace", "  \n\t ", None),
    ("fenced_json_call", f"For example:\n```json\n{BARE}\n```", "fenced call"),
    ("fenced_whole_answer", f"```json\n{BARE}\n```", "fenced call"),
    ("fenced_hermes", f"The format is:\n```\n{HERMES}\n```\nThat's all.", "fenced call"),
    ("fenced_unclosed", f"```json\n{BARE}", "fenced call"),
    ("json_in_prose", f"I would send {BARE} to the API.", "call-shaped JSON in prose"),
    ("json_after_prose", f"Here is the call:\n{BARE}", "call-shaped JSON in prose"),
    ("lone_name_is_data", '[{"name": "Alice", "age": 30}, {"name": "Bob", "age": 25}]', None),
    ("lone_name_object", '{"name": "get_weather"}', None),
    ("json_data_answer", '{"temperature": 12, "unit": "C"}', None),
    ("marker_mentioned_in_backticks", "Wrap the JSON in `<tool_call>` tags.", "call marker mentioned in prose"),
    ("marker_mentioned_in_prose", "The <tool_call> tag holds one JSON object.", "call marker mentioned in prose"),
    ("mistral_token_mentioned", "Mistral models emit the [TOOL_CALLS] token first.", "call marker mentioned in prose"),
    ("python_repl_prompt", ">>> print(1)\n1", None),
    ("import_functools", "import functools\nfunctools.reduce(f, xs)", None),
    ("fenced_python_mention", "Use:\n```python\nget_weather(city='Oslo')\n```", None),
]


@pytest.mark.parametrize("text,near", [c[1:] for c in PROSE], ids=[c[0] for c in PROSE])
def test_prose_and_illustrations_are_not_calls(text, near):
    assert outcome(text) == ("none", [], near)


def test_real_call_after_fenced_example_counts():
    text = f"The shape is:\n```json\n{BARE}\n```\nNow for real:\n{HERMES}"
    assert outcome(text)[:2] == CALL


def test_fenced_code_inside_xml_argument_is_kept():
    content = "# Title\n\n```bash\nls -la\n```\n"
    text = ("<tool_call>\n<function=write_file>\n<parameter=path>\nREADME.md\n</parameter>\n<parameter=content>\n"
            + content + "\n</parameter>\n</function>\n</tool_call>")
    assert detect(text).calls == [ToolCall("write_file", {"path": "README.md", "content": content})]


def test_marker_mentioned_then_real_call():
    assert outcome(f"I'll use the `<tool_call>` tag now.\n{HERMES}")[:2] == CALL


def test_earliest_marker_owns_the_output():
    """A marker quoted inside another format's argument does not hijack the call."""
    args = {"content": 'emit("[TOOL_CALLS]x[ARGS]{}") and "<|tool_call>call:y{}"'}
    text = f"<tool_call>{json.dumps({'name': 'write', 'arguments': args})}</tool_call>"
    assert detect(text).calls == [ToolCall("write", args)]
    xml = ("<tool_call>\n<function=write>\n<parameter=content>\n<minimax:tool_call><invoke name=\"z\">"
           "\n</parameter>\n</function>\n</tool_call>")
    assert detect(xml).format == "qwen3_coder_xml"


def test_hermes_json_holding_qwen_xml_text():
    args = {"content": "<function=x>\n<parameter=y>\n1\n</parameter>\n</function>"}
    text = f"<tool_call>{json.dumps({'name': 'write', 'arguments': args})}</tool_call>"
    found = detect(text)
    assert (found.format, found.calls) == ("hermes_json", [ToolCall("write", args)])


def test_python_tag_bare_json():
    assert outcome(f"<|python_tag|>{BARE}")[:2] == CALL


@pytest.mark.parametrize("junk", ["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "</s>", "<|im_end|>\n<|endoftext|>"])
def test_stray_end_tokens(junk):
    assert outcome(BARE + junk)[:2] == CALL
    assert outcome(HERMES + junk)[:2] == CALL


def test_non_string_input_is_tolerated():
    assert detect(None) == Detection()
    assert detect(b"bytes").outcome == "none"


def test_to_dict_shape():
    assert detect(HERMES).to_dict() == {"outcome": "call", "format": "hermes_json",
                                        "calls": [{"name": "get_weather", "arguments": W}], "near_miss": None}


def test_import_is_stdlib_only():
    code = ("import sys, harness.detect, harness.commands.detect; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('mlx', 'mlx_lm', 'transformers', 'pandas', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_benchmark_samples_are_detected_as_labelled():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "detect_speed.py"
    spec = importlib.util.spec_from_file_location("detect_speed", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for label, texts in bench.SAMPLES.items():
        for text in texts:
            found = detect(text)
            if label in ("prose", "reasoning", "fenced"):
                assert found.outcome == "none", (label, found)
            else:
                assert (found.outcome, found.format) == ("call", label), found


def test_realistic_benchmark_mix_is_detected_as_labelled():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from detect_mix import mix
    for kind, text in mix(300, seed=11):
        found = detect(text)
        if kind == "prose":
            assert found.outcome == "none", (kind, found)
        elif kind != "large":
            assert (found.outcome, found.format) == ("call", kind), (kind, found)


@pytest.mark.parametrize("content", ["use <think> tags", "ends with </think> here", "<think>x</think> kept",
                                     "[THINK] and <|channel|>analysis too"])
def test_reasoning_tags_inside_arguments_are_payload(content):
    hermes = f"<tool_call>{json.dumps({'name': 'write', 'arguments': {'content': content}})}</tool_call>"
    assert detect(hermes).calls == [ToolCall("write", {"content": content})]
    qwen = f"<tool_call>\n<function=write>\n<parameter=content>\n{content}\n</parameter>\n</function>\n</tool_call>"
    assert detect(qwen).calls == [ToolCall("write", {"content": content})]
    thought = f"<think>Write the file.</think>\n{qwen}"
    assert detect(thought).calls == [ToolCall("write", {"content": content})]


def test_no_token_starts_inside_another():
    """The regex of the tokens sharing a first character restarts at any position (tokens.py), and
    a text may be cut where a tag starts (_first_marker): both hold while no marker or tag can start
    inside another's occurrence. (A token searched by itself, `>>>`, steps past its last occurrence.)"""
    from harness.detect.cascade import OWNERS
    from harness.detect.reasoning import REASONING_PAIRS

    tokens = set(OWNERS) | {tag for pair in REASONING_PAIRS for tag in pair} | {"<|channel|>analysis"}
    for token in tokens:
        for q in range(1, len(token)):
            rest = token[q:]
            if rest[0] in "<[":
                assert not [t for t in tokens if t.startswith(rest) or rest.startswith(t)], (token, q)


@pytest.mark.parametrize("text", ["<tool_call><tool_call>x [TOOL_CALLS]<function=f>", ">>>>f\n{}>>>>>>g", "Action:Action:",
                                  "a<|channel|>analysis<|channel|>b", "functoolsfunctools[x]"])
def test_token_search_from_any_position_finds_what_one_pass_finds(text):
    from harness.detect.cascade import MARKERS

    one_pass = MARKERS.find(text)
    for skip in range(len(text) + 1):
        search = MARKERS.search(text)
        hit = search and search.next(skip)
        assert hit == next((h for h in one_pass if h[0] >= skip), None), (text, skip)



def _reasoning_pieces() -> list[str]:
    """Every reasoning tag, whole and cut in two, what harmony's analysis reads, and what calls are made of."""
    from harness.detect.reasoning import _ANALYSIS, REASONING_PAIRS

    tags = [tag for pair in REASONING_PAIRS for tag in pair] + [_ANALYSIS]
    return tags + [t[:k] for t in tags for k in (1, len(t) // 2)] + [t[k:] for t in tags for k in (1, len(t) // 2)] + [
        "x", "\n", " to=f", "<|message|>", "<|end|>", "<|start|>", "<tool_call>", '{"name": "f", "arguments": {"c": "',
        '"}}', "</tool_call>", "<function=f>", "<parameter=c>", "</parameter>"]


_SPANS = ["", "<think>", "</think>", "<think>a</think>", "<think><tool_call>a</think>", "[THINK]a[/THINK]",
          "<|channel>a<channel|>", "<seed:think>a</seed:think>", "<thinking>a</thinking>"]
_CALL_HOLDING_A_TAG = st.sampled_from(["<think>", "</think>", "[/THINK]", "<|channel|>analysis"]).map(
    lambda tag: '<tool_call>{"name": "f", "arguments": {"c": "' + tag + '"}}</tool_call>')


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(["", "x", " \n"]), st.sampled_from(_SPANS),
       st.lists(st.sampled_from(_reasoning_pieces()) | _CALL_HOLDING_A_TAG, max_size=8))
def test_reasoning_read_from_where_the_tags_are_splits_as_cutting_each_pair_does(lead, span, pieces):
    """split_reasoning reads the commonest shapes (one span opening the text, one closer) from the tags'
    positions, and detect() looks for no tag inside a call in a text a span opens; cutting out each pair
    in turn, and looking, give the same split and the same detection."""
    import harness.detect
    from harness.detect import reasoning

    text = lead + span + "".join(pieces)
    tags = reasoning.TAGS.find(text)
    assert reasoning.split_reasoning(text) == reasoning._split_pairs(text, {tag for _, tag in tags}), text
    found = detect(text)
    opening_span, harness.detect.opening_span = harness.detect.opening_span, lambda tags: False
    try:
        assert detect(text) == found, text
    finally:
        harness.detect.opening_span = opening_span


SOUP = ["<tool_call>", "</tool_call>", "<function=", "[TOOL_CALLS]", ">", ">>", ">>>", ">>>>", "Action:", "Action",
        "```tool_code", "``", "functools", "functools[", "[", "<", "<think>", "</think>", "[THINK]",
        "<|channel|>", "analysis", "<|channel|>analysis", "x", " ", "\n"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(SOUP), max_size=80), st.lists(st.integers(0, 80), min_size=1, max_size=3),
       st.lists(st.tuples(st.integers(0, 200), st.integers(-4, 4)), max_size=12))
def test_long_text_search_finds_what_the_short_one_finds(pieces, fillers, offsets):
    """A text of LONG characters or more is searched in windows (tokens.LongSearch); asked for the same
    positions in the same order, it answers as the one-pass search does, also where `>>>` overlaps itself."""
    from harness.detect import tokens
    from harness.detect.cascade import MARKERS
    from harness.detect.reasoning import TAGS

    for k in sorted(fillers, reverse=True):
        pieces[k:k] = ["y" * (tokens.LONG // len(fillers))]
    text = "".join(pieces)
    for searched in (MARKERS, TAGS):
        long_limit, tokens.LONG = tokens.LONG, len(text) + 1
        try:
            one_pass = searched.find(text)  # the short form's answer
        finally:
            tokens.LONG = long_limit
        assert isinstance(searched.search(text), tokens.LongSearch) or not one_pass
        # positions near occurrences, in order: near a few (the search jumps) or around each (it steps)
        sparse = sorted({max(0, one_pass[k % len(one_pass)][0] + d) for k, d in offsets}) if one_pass else []
        dense = sorted({max(0, h + d) for h, _ in one_pass for d in (-1, 0, 1, 2)})
        for near in (sparse, dense):
            search = searched.search(text)
            for pos in near + [len(text)]:
                hit = search and search.next(pos)
                assert hit == next((h for h in one_pass if h[0] >= pos), None), (pos, text[max(0, pos - 20):pos + 20])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SOUP + ["Hello", " world", "{", "}", '"name"', "```", "`", ":", ".", "(", ")", "a\\n",
                                        "get_weather", "[", "]", "=", "'", "[get_weather(city='Oslo')]",
                                        "```tool_code\nget_weather(city='Oslo')\n```", ">>>get_weather\n",
                                        '{"name": "f", "arguments": {}}']), max_size=12))
def test_texts_passed_over_as_plain_prose_hold_nothing_a_full_scan_finds(pieces):
    """scan() returns at once for a text holding none of the characters any reading needs (cascade._ANY_OF);
    the full scan of the same text finds the same, whatever the text holds."""
    from harness.detect import cascade

    text = "".join(pieces)
    quick = cascade.scan(text, cascade.Schema())
    any_of, cascade._ANY_OF = cascade._ANY_OF, None
    try:
        assert cascade.scan(text, cascade.Schema()) == quick
    finally:
        cascade._ANY_OF = any_of


AFTER_MARKERS = ["<tool_call>", "<tool_calls>", "[TOOL_CALLS]", " ", "\n", "\t", "\u3000", "```json\n", "<function=f>",
                 "<parameter=a>", "1", "</parameter>", "</function>", "</tool_call>", "get_weather", "<arg_key>",
                 "a</arg_key>", "<arg_value>", "</arg_value>", "<tool_sep>", "_private", "\n<arg_key>",
                 '{"name": "f", "arguments": {}}',
                 '[{"name": "f", "arguments": {}}]', "[ARGS]", "{}", "[", "{", "]", "}", "x", "\\", '"',
                 # whole calls of each format sharing `<tool_call>`, with names a letter-only rule would miss
                 "<tool_call>_get\n<arg_key>a</arg_key>\n<arg_value>1</arg_value>\n</tool_call>",
                 "<tool_call>_get<arg_key>a</arg_key><arg_value>1</arg_value></tool_call>",
                 "<tool_call>_get<tool_sep><arg_key>a</arg_key><arg_value>1</arg_value></tool_call>",
                 "<tool_call> ```json\n[{\"name\": \"f\", \"arguments\": {}}]\n```</tool_call>",
                 "<tool_call>\n<function=_f>\n<parameter=a>\n1\n</parameter>\n</function>\n</tool_call>"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(AFTER_MARKERS), max_size=14))
def test_formats_skipped_by_what_follows_their_marker_would_have_declined(pieces):
    """A shared marker's formats are offered only the texts whose next character they can read (Format.follows,
    cascade._BY_NEXT); offering every text to every format finds the same."""
    from harness.detect import cascade

    text = "".join(pieces)
    dispatched = detect(text)
    by_next, cascade._BY_NEXT = cascade._BY_NEXT, {}
    try:
        assert detect(text) == dispatched, text
    finally:
        cascade._BY_NEXT = by_next
