"""A realistic mix of model outputs for the detection benchmarks: 40% prose answers of 200-2,000
characters (some with reasoning, fenced examples or a mentioned marker), calls in 16 formats (some
after reasoning, some parallel), and 5% outputs of about 20 KB (calls writing a file, long answers).
Deterministic for a given seed and count."""
import json
import random

WORDS = ("the of and to in is that for it as with was on be by this are or from at which an have not "
         "weather forecast rain city station river mountain train ticket schedule budget report figure "
         "Oslo Bergen Lyon Kyoto harbour museum bridge winter spring").split()
CODE_LINE = ("    if '<tool_call>' in line and not line.startswith('#'):\n"
             "        out.append({\"k\": [1, 2], 'v': line.strip()})  # keep </parameter> literal\n")


def _j(obj) -> str:
    return json.dumps(obj)


def prose(rng: random.Random, size: int) -> str:
    words, length = [], 0
    while length < size:
        words.append(rng.choice(WORDS))
        length += len(words[-1]) + 1
    text = " ".join(words).capitalize() + "."
    kind = rng.random()
    if kind < 0.15:
        return "<think>" + prose(rng, 120) + "</think>\n\n" + text
    if kind < 0.22:
        return text + "\n\nFor example:\n```json\n" + _j({"name": "get_weather", "arguments": {"city": "Oslo"}}) + "\n```"
    if kind < 0.26:
        return text + " Wrap calls in <tool_call> tags."
    return text


def code(size: int) -> str:
    return "def run(lines):\n    out = []\n    for line in lines:\n" + CODE_LINE * (size // len(CODE_LINE)) + "    return out\n"


def _args(rng: random.Random, big: int = 0) -> dict:
    if big:
        return {"path": "src/run.py", "content": code(big)}
    return rng.choice([{"city": rng.choice(WORDS), "days": rng.randint(1, 9)}, {"query": " ".join(rng.sample(WORDS, 5))},
                       {"tz": "UTC"}, {"filter": {"and": [{"f": "age", "gt": 3}], "tags": ["a", "b"]}, "limit": None}])


def _xml_value(value) -> str:
    return value if isinstance(value, str) else _j(value)


CALLS = {
    "hermes_json": lambda n, a: f"<tool_call>\n{_j({'name': n, 'arguments': a})}\n</tool_call>",
    "qwen3_coder_xml": lambda n, a: "<tool_call>\n<function=" + n + ">\n" + "".join(
        f"<parameter={k}>\n{_xml_value(v)}\n</parameter>\n" for k, v in a.items()) + "</function>\n</tool_call>",
    "llama3_json": lambda n, a: _j({"name": n, "parameters": a}),
    "pythonic": lambda n, a: "[" + n + "(" + ", ".join(f"{k}={v!r}" for k, v in a.items()) + ")]",
    "mistral_v11": lambda n, a: f"[TOOL_CALLS]{n}[ARGS]{_j(a)}",
    "mistral_v0": lambda n, a: f"[TOOL_CALLS] [{_j({'name': n, 'arguments': a})}]",
    "gemma4": lambda n, a: "<|tool_call>call:" + n + "{" + ",".join(
        f'{k}:<|"|>{v}<|"|>' if isinstance(v, str) else f"{k}:{_j(v)}" for k, v in a.items()) + "}<tool_call|>",
    "deepseek_v3": lambda n, a: "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>" + n + "\n```json\n"
    + _j(a) + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
    "kimi_k2": lambda n, a: "<|tool_calls_section_begin|><|tool_call_begin|>functions." + n + ":0<|tool_call_argument_begin|>"
    + _j(a) + "<|tool_call_end|><|tool_calls_section_end|>",
    "glm47": lambda n, a: f"<tool_call>{n}" + "".join(
        f"<arg_key>{k}</arg_key><arg_value>{_xml_value(v)}</arg_value>" for k, v in a.items()) + "</tool_call>",
    "glm45": lambda n, a: f"<tool_call>{n}\n" + "".join(
        f"<arg_key>{k}</arg_key>\n<arg_value>{_xml_value(v)}</arg_value>\n" for k, v in a.items()) + "</tool_call>",
    "minimax_m2": lambda n, a: f'<minimax:tool_call>\n<invoke name="{n}">\n' + "".join(
        f'<parameter name="{k}">{_xml_value(v)}</parameter>\n' for k, v in a.items()) + "</invoke>\n</minimax:tool_call>",
    "harmony": lambda n, a: "<|channel|>analysis<|message|>Need a tool.<|end|><|start|>assistant<|channel|>commentary "
    f"to=functions.{n} <|constrain|>json<|message|>{_j(a)}<|call|>",
    "anthropic_xml": lambda n, a: f'<function_calls>\n<invoke name="{n}">\n' + "".join(
        f'<parameter name="{k}">{_xml_value(v)}</parameter>\n' for k, v in a.items()) + "</invoke>\n</function_calls>",
    "openai_native": lambda n, a: _j({"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": n, "arguments": _j(a)}}]}),
    "command_r_action": lambda n, a: "Action: ```json\n" + _j([{"tool_name": n, "parameters": a}]) + "\n```",
}
NAMES = ["get_weather", "search_docs", "get_time", "write_file", "book_ticket"]


def call(rng: random.Random, label: str, big: int = 0) -> str:
    make = CALLS[label]
    text = make(rng.choice(NAMES), _args(rng, big))
    if label in ("hermes_json", "qwen3_coder_xml", "mistral_v11") and not big and rng.random() < 0.3:
        text += "\n" + make(rng.choice(NAMES), _args(rng))  # parallel calls
    if label not in ("harmony", "openai_native", "llama3_json", "pythonic") and rng.random() < 0.3:
        text = "<think>" + prose(rng, 300) + "</think>\n" + text
    return text


def mix(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(kind, output) pairs: kind is "prose", "large" or the format label."""
    rng, labels, out = random.Random(seed), sorted(CALLS), []
    for k in range(count):
        roll = rng.random()
        if roll < 0.05:
            if k % 2:
                out.append(("large", call(rng, labels[k % len(labels)], big=20_000)))
            else:
                out.append(("large", prose(rng, 20_000)))
        elif roll < 0.45:
            out.append(("prose", prose(rng, rng.randint(200, 2000))))
        else:
            label = labels[k % len(labels)]
            out.append((label, call(rng, label)))
    return out
