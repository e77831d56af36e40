"""`harness doctor`: catch setup flaws in a model folder, its training data and its adapter before
anyone trains or evaluates.

    harness doctor MODEL [--data TRAIN.jsonl] [--base MODEL --adapter DIR] [--format table|json]

Each check has a fixed id, a status (pass | warn | fail), a one-line finding and a concrete fix.
The template is probed with a made-up tool: rendering a call, a result and a plain answer, and
diffing each against the render without it, shows which markers the template writes. Exit 0 when
no check fails, 1 when one does, 2 on bad input. All mlx work goes through backends/mlx_inspect.py.
"""
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harness.backends import mlx_inspect
from harness.detect import REASONING_PAIRS, detect
from harness.errors import InputError
from harness.jsonl import json_lines
from harness.models import ModelSpec

PASS, WARN, FAIL = "pass", "warn", "fail"
THINKING_MIN_TOKENS = 512
# Marker-like text a template writes: <tag>, </tag>, <|tag|>, <｜tag｜>, [TAG], [/TAG].
TAG = re.compile(r"<[^<>\s\"']{1,64}>|\[/?[A-Z_]{3,}\]")
OTHER_FORMAT_SHARE = 0.3  # of calling examples in another format: data_format_match warns (data_mixed_formats names lines)

# The probe: names no real template or corpus contains, so finding them in a render is unambiguous.
PROBE_NAME, PROBE_PARAM = "probe_lookup", "probe_query"
PROBE_TOOL = {"type": "function", "function": {
    "name": PROBE_NAME, "description": "Look up a probe value.",
    "parameters": {"type": "object", "properties": {PROBE_PARAM: {"type": "string", "description": "What to look up."}},
                   "required": [PROBE_PARAM]}}}
PROBE_CHAT = [{"role": "system", "content": "You are a careful assistant."},
              {"role": "user", "content": "Look up the probe value, please."}]
PROBE_ANSWER = {"role": "assistant", "content": "The probe value is 42."}
PROBE_CALL = {"role": "assistant", "content": "", "tool_calls": [{
    "id": "call12345", "type": "function", "function": {"name": PROBE_NAME, "arguments": {PROBE_PARAM: "alpha"}}}]}
PROBE_RESULT = {"role": "tool", "tool_call_id": "call12345", "name": PROBE_NAME, "content": "probe-result-42"}


@dataclass
class Check:
    """One doctor finding: its status and, when it is not a pass, the fix."""
    id: str
    status: str  # pass | warn | fail
    finding: str
    fix: str = ""


@dataclass
class Probe:
    """What the template writes for the probe conversations."""
    tools_prompt: str  # system + user + generation prompt, rendered with the probe tool
    generation_tail: str  # what the generation prompt adds after the user turn
    call_segment: str | None  # the assistant tool-call turn as rendered (None: the template failed)
    call_format: str | None
    call_markers: list[str]
    result_markers: list[str]
    end_of_turn: str | None  # the marker right after an assistant message
    problems: list[str] = field(default_factory=list)


@dataclass
class Example:
    """One training conversation and the calls its assistant turns make."""
    line: int
    messages: list[dict]
    tools: list[dict]
    formats: list[str] = field(default_factory=list)  # one per call found
    called: set[str] = field(default_factory=set)


def _added(before: str, after: str) -> str:
    """What `after` adds to `before` (after their common prefix: some templates rewrite earlier turns)."""
    n = 0
    for a, b in zip(before, after):
        if a != b:
            break
        n += 1
    return after[n:]


def _stem(tag: str) -> str:
    m = re.match(r"[<\[/|｜]*([A-Za-z_]+)", tag)
    return m.group(1) if m else tag


def _call_markers(segment: str, turn_markers: set[str]) -> list[str]:
    """Tags that frame a call: not turn markers, and not tags that carry the tool or parameter name
    (`<function=NAME>`, `<invoke name="NAME">`) nor their closers, which cannot be single tokens."""
    named = {_stem(t) for t in re.findall(r"<[^<>]{1,200}>", segment) if PROBE_NAME in t or PROBE_PARAM in t}
    tags = dict.fromkeys(t for t in TAG.findall(segment) if t not in turn_markers)
    return [t for t in tags if PROBE_NAME not in t and PROBE_PARAM not in t and _stem(t) not in named]


def probe_template(tok, kwargs: dict) -> Probe:
    tools = [PROBE_TOOL]

    def render(messages, generation=False):
        return mlx_inspect.render(tok, messages, tools, generation, **kwargs)

    try:
        head, prompt = render(PROBE_CHAT), render(PROBE_CHAT, True)
        answer = _added(head, render(PROBE_CHAT + [PROBE_ANSWER]))
    except Exception as e:  # jinja errors come in many types; any of them makes the model unusable here
        raise InputError(f"the chat template cannot render a system + user + assistant chat: "
                         f"{type(e).__name__}: {e}; fix the template") from None
    turn = set(TAG.findall(answer))
    tail = answer[answer.find(PROBE_ANSWER["content"]) + len(PROBE_ANSWER["content"]):].lstrip()
    eot = TAG.match(tail)
    probe = Probe(tools_prompt=prompt, generation_tail=_added(head, prompt), call_segment=None, call_format=None,
                  call_markers=[], result_markers=[], end_of_turn=eot.group(0) if eot else None)
    try:
        with_call = render(PROBE_CHAT + [PROBE_CALL])
    except Exception as e:
        probe.problems.append(f"the template cannot render an assistant tool call ({type(e).__name__}: {e})")
        return probe
    probe.call_segment = _added(head, with_call)
    probe.call_format = detect(probe.call_segment, tools).format
    probe.call_markers = _call_markers(probe.call_segment, turn)
    try:
        result = _added(with_call, render(PROBE_CHAT + [PROBE_CALL, PROBE_RESULT]))
        probe.result_markers = _call_markers(result, turn)
    except Exception as e:
        probe.problems.append(f"the template cannot render a tool result ({type(e).__name__}: {e})")
    return probe


def check_tool_tokens(tok, probe: Probe) -> Check:
    markers = probe.call_markers + probe.result_markers
    split = {m: mlx_inspect.pieces(tok, m) for m in markers if mlx_inspect.token_id(tok, m) is None}
    if split:
        said = "; ".join(f"{m} splits into {' '.join(repr(p) for p in parts)}" for m, parts in split.items())
        return Check("tool_tokens", FAIL, f"{len(split)} of {len(markers)} tool markers are not single tokens: {said}",
                     "add them to the vocabulary as tokens (tokenizer.add_tokens, then resize the embeddings) "
                     "before training, or start from a base model whose vocabulary has them")
    if probe.problems or probe.call_format is None:
        seen = (probe.call_segment or "")[:80]
        said = "; ".join(probe.problems) or f"the harness recognises no tool call in what it writes: {seen!r}"
        return Check("tool_tokens", WARN, said, "use a chat template that renders assistant `tool_calls` and "
                     "`tool` messages in the model's call format")
    listed = f"{', '.join(markers)} are single tokens" if markers else "it uses no marker tags"
    return Check("tool_tokens", PASS, f"the template writes {probe.call_format} calls; {listed}")


def _eos_sources(tok, model_dir: Path) -> dict[str, list[int]]:
    """Eos ids each file declares (tokenizer_config.json declares a token text)."""
    found = {}
    for name in ("config.json", "generation_config.json"):
        ids = _read_json(model_dir / name).get("eos_token_id")
        if ids is not None:
            found[f"{name} eos_token_id"] = ids if isinstance(ids, list) else [ids]
    token = _read_json(model_dir / "tokenizer_config.json").get("eos_token")
    token = token.get("content") if isinstance(token, dict) else token
    if isinstance(token, str):
        found[f"tokenizer_config.json eos_token {token!r}"] = [mlx_inspect.token_id(tok, token)]
    return found


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def check_eos_tokens(tok, probe: Probe, model_dir: Path) -> Check:
    marker = probe.end_of_turn
    if marker is None:
        return Check("eos_tokens", WARN, "the template writes no end-of-turn marker after an assistant message, "
                     "so nothing tells generation where a turn ends", "use a template that closes each turn "
                     "with the model's end-of-turn token")
    eot = mlx_inspect.token_id(tok, marker)
    if eot is None:
        parts = " ".join(repr(p) for p in mlx_inspect.pieces(tok, marker))
        return Check("eos_tokens", FAIL, f"the end-of-turn marker {marker} is not one token (splits into {parts}), "
                     "so generation cannot stop on it", f"add {marker} to the vocabulary as a special token")
    stops = mlx_inspect.stop_ids(tok)
    sources = _eos_sources(tok, model_dir)
    listed = ", ".join(f"{where} {ids}" for where, ids in sources.items()) or "no file declares eos ids"
    stop_text = ", ".join(f"{i} ({mlx_inspect.token_text(tok, i)})" for i in sorted(stops)) or "nothing"
    said = f"assistant turns end with {marker} (id {eot}); generation stops on {stop_text}; {listed}"
    fix_ids = (f"put {eot} ({marker}) in eos_token_id of generation_config.json and config.json, or add "
               f'extra_eos_tokens = ["{marker}"] to the models.toml entry')
    if eot not in stops:
        return Check("eos_tokens", FAIL, f"generation never stops at the end of a turn: {said}", fix_ids)
    generation = sources.get("generation_config.json eos_token_id")
    if generation is not None and eot not in generation:
        return Check("eos_tokens", WARN, f"generation_config.json, which transformers and vLLM stop on, lacks the "
                     f"end-of-turn id: {said}", fix_ids)
    return Check("eos_tokens", PASS, said)


def check_tool_instructions(probe: Probe, examples: list[Example] | None = None) -> Check:
    checks = []
    missing = [text for text in (PROBE_NAME, PROBE_PARAM) if text not in probe.tools_prompt]
    if PROBE_NAME in missing:
        checks.append(Check("tool_instructions", FAIL, "rendering with tools= puts no tool definition in the "
                            "prompt, so the model never sees which tools exist",
                            "use a chat template that lists each tool (name, description, parameters) when "
                            "`tools` is given"))
    elif missing:
        checks.append(Check("tool_instructions", FAIL, "the prompt names each tool but not its parameters",
                            "use a chat template that renders each tool's parameter schema"))
    else:
        checks.append(Check("tool_instructions", PASS, "rendering with tools= puts each tool's name and "
                            "parameters into the prompt"))
    if examples is not None:
        bare = [ex.line for ex in examples if ex.called and not ex.tools and not _tools_in_system(ex)]
        with_calls = sum(1 for ex in examples if ex.called)
        if bare:
            checks.append(Check("tool_instructions", FAIL, f"{len(bare)} of {with_calls} training examples with "
                                f"a call define no tools ({_lines(bare)}): the model learns to call tools it was "
                                "never shown", 'give each such example a "tools" list (or define the tools in '
                                "its system message)"))
        else:
            checks.append(Check("tool_instructions", PASS, f"every training example with a call "
                                f"({_n(with_calls, 'example')}) defines its tools"))
    failed = [c for c in checks if c.status != PASS]
    if not failed:
        return Check("tool_instructions", PASS, "; ".join(c.finding for c in checks))
    return Check("tool_instructions", FAIL, "; ".join(c.finding for c in failed), "; ".join(c.fix for c in failed))


def _tools_in_system(ex: Example) -> bool:
    system = " ".join(m.get("content") or "" for m in ex.messages
                      if m.get("role") == "system" and isinstance(m.get("content"), str))
    return all(name in system for name in ex.called)


def check_thinking(tok, probe: Probe, kwargs: dict, max_tokens: int) -> Check:
    tail = probe.generation_tail
    why = None
    for opener, closer in REASONING_PAIRS:
        at = tail.rfind(opener)
        if at >= 0 and closer not in tail[at:]:
            why = f"the generation prompt pre-fills {opener}"
        if at >= 0 and closer in tail[at:]:
            return Check("thinking", PASS, "the generation prompt closes reasoning ahead of the answer")
    if why is None and mlx_inspect.reasons_by_default(tok, kwargs):
        why = "the vocabulary has think tokens and the template reads enable_thinking, which mlx-lm sets to true"
    if why is None:
        return Check("thinking", PASS, "the template does not reason by default")
    if max_tokens < THINKING_MIN_TOKENS:
        return Check("thinking", WARN, f"the model reasons by default ({why}) and max_tokens is {max_tokens}: "
                     "reasoning can use the whole budget before any call", f"raise max_tokens to "
                     f"{2 * THINKING_MIN_TOKENS} or more (models.toml or --max-tokens), or set enable_thinking = false")
    return Check("thinking", PASS, f"the model reasons by default ({why}); max_tokens {max_tokens} leaves room")


def read_examples(path: Path) -> list[Example]:
    """mlx-lm chat JSONL: one {"messages": [...], "tools": [...]} per line."""
    hint = 'each line must be one JSON object like {"messages": [...], "tools": [...]}'
    examples = []
    for number, record in json_lines(path, str(path), hint, what="training data"):
        messages = record.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            raise InputError(f'{path}:{number}: no "messages" list of objects; {hint}')
        tools = record.get("tools") or []
        if not isinstance(tools, list):
            raise InputError(f'{path}:{number}: "tools" must be a list of tool definitions')
        examples.append(Example(line=number, messages=messages, tools=tools))
    return examples


def find_calls(tok, examples: list[Example], kwargs: dict, path: Path) -> None:
    """Fill each example's call formats: raw text is detected as written, structured `tool_calls`
    as the template renders them for training."""
    for ex in examples:
        for i, message in enumerate(ex.messages):
            if message.get("role") != "assistant":
                continue
            if message.get("tool_calls"):
                try:
                    before = mlx_inspect.render(tok, ex.messages[:i], ex.tools or None, False, **kwargs) if i else ""
                    text = _added(before, mlx_inspect.render(tok, ex.messages[:i + 1], ex.tools or None, False,
                                                             **kwargs))
                except Exception as e:  # training would fail on it the same way
                    raise InputError(f"{path}:{ex.line}: the chat template cannot render this example "
                                     f"({type(e).__name__}: {e}); fix its tool_calls") from None
            elif isinstance(message.get("content"), str):
                text = message["content"]
            else:
                continue
            found = detect(text, ex.tools)
            if found.outcome != "none":
                ex.formats.extend([found.format] * max(1, len(found.calls)))
                ex.called.update(c.name for c in found.calls)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _lines(numbers: list[int], limit: int = 5) -> str:
    shown = ", ".join(str(n) for n in numbers[:limit])
    more = f" and {len(numbers) - limit} more" if len(numbers) > limit else ""
    return f"line{'s' if len(numbers) > 1 else ''} {shown}{more}"


def _format_counts(examples: list[Example]) -> Counter:
    return Counter(f for ex in examples for f in set(ex.formats))


def check_data_format_match(probe: Probe, examples: list[Example]) -> Check:
    counts = _format_counts(examples)
    if not counts:
        return Check("data_format_match", PASS, f"none of the {len(examples)} training examples makes a tool call")
    main, n = counts.most_common(1)[0]
    template = probe.call_format or "no format the harness recognises"
    said = f"the training data writes calls as {main} ({n} of {len(examples)} examples); the template writes {template}"
    fix = ("store calls as structured tool_calls (the template renders them in its own format) or "
           f"rewrite them as {template}")
    if main != probe.call_format:
        return Check("data_format_match", FAIL, said + ": the model would learn a format its prompt never shows", fix)
    calling, others = sum(1 for ex in examples if ex.formats), sum(1 for ex in examples if set(ex.formats) - {main})
    if others >= OTHER_FORMAT_SHARE * calling:
        per = ", ".join(f"{fmt} in {k}" for fmt, k in counts.most_common() if fmt != main)
        return Check("data_format_match", WARN, f"{said}, but {others} of {calling} calling examples "
                     f"({others / calling:.0%}) write calls in another format ({per})", fix)
    return Check("data_format_match", PASS, said)


def check_data_mixed_formats(examples: list[Example]) -> Check:
    counts = _format_counts(examples)
    if len(counts) <= 1:
        return Check("data_mixed_formats", PASS, f"the training data uses one call format ({next(iter(counts), 'none')})")
    per = "; ".join(f"{fmt}: {_n(n, 'example')} ({_lines([ex.line for ex in examples if fmt in ex.formats])})"
                    for fmt, n in counts.most_common())
    return Check("data_mixed_formats", FAIL, f"the training data mixes {len(counts)} call formats: {per}",
                 "write every call in the template's format, or use structured tool_calls throughout")


def check_adapter_parity(tok, model_dir: Path, base: Path, adapter: Path, kwargs: dict) -> Check:
    """MODEL (said to be base + adapter fused) should behave like base + adapter, not like the base."""
    chats = [PROBE_CHAT, [{"role": "user", "content": "What is the capital of France?"}],
             PROBE_CHAT + [PROBE_CALL, PROBE_RESULT]]
    prompts = [mlx_inspect.render(tok, chat, [PROBE_TOOL], True, **kwargs) for chat in chats]
    base_logits, base_greedy = mlx_inspect.next_token_behaviour(base, prompts)
    tuned_logits, tuned_greedy = mlx_inspect.next_token_behaviour(base, prompts, adapter)
    model_logits, model_greedy = mlx_inspect.next_token_behaviour(model_dir, prompts)
    vs_base = mlx_inspect.max_abs_diff(model_logits, base_logits)
    vs_tuned = mlx_inspect.max_abs_diff(model_logits, tuned_logits)
    effect = mlx_inspect.max_abs_diff(tuned_logits, base_logits)
    same = sum(m == t for m, t in zip(model_greedy, tuned_greedy))
    said = (f"max |Δlogit| model vs base {vs_base:.3g}, model vs base+adapter {vs_tuned:.3g}, adapter effect "
            f"{effect:.3g}; greedy output same as base+adapter on {same}/{len(prompts)} prompts")
    fuse_again = f"fuse again: mlx_lm fuse --model {base} --adapter-path {adapter} --save-path {model_dir}"
    if effect <= 1e-4:
        return Check("adapter_parity", WARN, f"the adapter does not change the base's outputs, so parity says "
                     f"nothing: {said}", "check that the adapter was trained and saved (adapters.safetensors)")
    if vs_tuned <= max(1e-3, 0.1 * effect):
        return Check("adapter_parity", PASS, f"the model behaves like base+adapter: {said}")
    if vs_base <= vs_tuned:
        return Check("adapter_parity", FAIL, f"the model behaves like the base, not base+adapter (the adapter was "
                     f"not fused): {said}", fuse_again)
    return Check("adapter_parity", WARN, f"the model is nearer base+adapter than the base but differs from it "
                 f"(quantized or partial fuse?): {said}", fuse_again + " (without quantizing, to compare)")


def model_checks(tok, model_dir: Path, spec: ModelSpec, examples: list[Example] | None = None,
                 probe: Probe | None = None) -> list[Check]:
    """The fast checks on tokenizer and template (no generation); `harness run` runs these too."""
    kwargs = dict(spec.chat_template_kwargs)
    probe = probe or probe_template(tok, kwargs)
    return [check_tool_tokens(tok, probe), check_eos_tokens(tok, probe, model_dir),
            check_tool_instructions(probe, examples), check_thinking(tok, probe, kwargs, spec.max_tokens)]


def setup_warnings(checks: list[Check]) -> list[str]:
    """One report line per check that did not pass."""
    return [f"doctor {c.id} {c.status}: {c.finding}; fix: {c.fix}" for c in checks if c.status != PASS]


def run_checks(spec: ModelSpec, data: Path | None = None, base: Path | None = None,
               adapter: Path | None = None) -> list[Check]:

    examples = read_examples(data) if data else None
    model_dir = mlx_inspect.model_folder(spec, progress=lambda m: print(m, file=sys.stderr, flush=True))
    tok = mlx_inspect.load_tokenizer(model_dir, spec.extra_eos_tokens)
    kwargs = dict(spec.chat_template_kwargs)
    probe = probe_template(tok, kwargs)
    if examples is not None:
        find_calls(tok, examples, kwargs, data)
    checks = model_checks(tok, model_dir, spec, examples, probe)
    if examples is not None:
        checks += [check_data_format_match(probe, examples), check_data_mixed_formats(examples)]
    if adapter:
        checks.append(check_adapter_parity(tok, model_dir, base, adapter, kwargs))
    return checks


