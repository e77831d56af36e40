"""Detection speed on one core. Two workloads: the project's mixed benchmark (short outputs in
many formats, prose answers, reasoning, fenced examples, long code arguments), printed overall and
per format; and the realistic mix of benchmarks/detect_mix.py (40% prose of 200-2,000 characters,
calls in 16 formats, 5% outputs of 20 KB), through detect() in this process and through
`harness detect -` in a child process pinned to one core (taskset -c 0 where available), the fastest
of --repeat runs, whose figure includes its start-up (also printed alone, as the CPU time of a run on
empty input). Every figure is outputs per CPU second.

    .venv/bin/python benchmarks/detect_speed.py [--seconds 0.2] [--outputs 20000] [--repeat 5]
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import detect_mix  # noqa: E402

from harness.detect import detect  # noqa: E402

CODE = "def parse(s):\n    if '</tool_call>' in s:\n        return {\"a\": [1, 2]}\n    return s.strip()\n" * 8
PROSE = ("The capital of Norway is Oslo. It lies at the head of the Oslofjord and has about "
         "700,000 inhabitants; the weather in spring is mild, with frequent rain. ") * 3
ARGS = {"city": "Oslo", "days": 3}
GOAL = 50_000  # outputs per CPU second through the CLI (issue 19)


def _j(obj) -> str:
    return json.dumps(obj)


SAMPLES: dict[str, list[str]] = {
    "prose": [PROSE, "Sure! Here is a short poem:\n\nRoses are red,\nviolets are blue.", "42"],
    "reasoning": ["<think>The user wants weather. I could call get_weather.</think>\n\nIt is sunny in Oslo.",
                  "Let me think about it...</think>The answer is 4."],
    "fenced": ["Example:\n```json\n" + _j({"name": "get_weather", "arguments": ARGS}) + "\n```\nThat's the shape."],
    "hermes_json": ["<tool_call>\n" + _j({"name": "get_weather", "arguments": ARGS}) + "\n</tool_call>",
                    "<think>need to write</think>\n<tool_call>\n"
                    + _j({"name": "write_file", "arguments": {"path": "p.py", "content": CODE}}) + "\n</tool_call>"],
    "qwen3_coder_xml": ["<tool_call>\n<function=write_file>\n<parameter=path>\np.py\n</parameter>\n<parameter=content>\n"
                        + CODE + "\n</parameter>\n</function>\n</tool_call>",
                        "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>\n</tool_call>"],
    "llama3_json": [_j({"name": "get_weather", "parameters": ARGS}),
                    "<|python_tag|>" + _j({"name": "get_weather", "parameters": ARGS}) + "<|eom_id|>"],
    "pythonic": ['[get_weather(city="Oslo", days=3), get_time(tz="UTC")]'],
    "mistral_v11": ["[TOOL_CALLS]get_weather[ARGS]" + _j(ARGS)],
    "mistral_v0": ["[TOOL_CALLS] [" + _j({"name": "get_weather", "arguments": ARGS}) + "]"],
    "gemma4": ['<|tool_call>call:get_weather{city:<|"|>Oslo<|"|>,days:3}<tool_call|>'],
    "deepseek_v3": ["<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
                    + _j(ARGS) + "\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>"],
    "kimi_k2": ["<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>"
                + _j(ARGS) + "<|tool_call_end|><|tool_calls_section_end|>"],
    "glm47": ["<tool_call>get_weather<arg_key>city</arg_key><arg_value>Oslo</arg_value></tool_call>"],
    "minimax_m2": ['<minimax:tool_call>\n<invoke name="get_weather">\n<parameter name="city">Oslo</parameter>\n'
                   '</invoke>\n</minimax:tool_call>'],
    "harmony": ["<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant<|channel|>commentary "
                "to=functions.get_weather <|constrain|>json<|message|>" + _j(ARGS) + "<|call|>"],
    "anthropic_xml": ['<function_calls>\n<invoke name="get_weather">\n<parameter name="city">Oslo</parameter>\n'
                      '</invoke>\n</function_calls>'],
    "openai_native": [_j({"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": _j(ARGS)}}]})],
    "command_r_action": ["Action: ```json\n" + _j([{"tool_name": "get_weather", "parameters": ARGS}]) + "\n```"],
}


def rate(texts: list[str], seconds: float) -> float:
    """Detections per CPU second over texts, repeated for about `seconds` of this process's CPU time
    (CPU time, not wall time, so that other load on the machine does not skew the figure)."""
    count, start = 0, time.process_time()
    while True:
        for text in texts:
            detect(text)
        count += len(texts)
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            return count / elapsed


def cli_seconds(texts: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `harness detect -` reading texts as JSONL on stdin."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for k, text in enumerate(texts):
            f.write(json.dumps({"id": k, "output": text}) + "\n")
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    try:
        with open(f.name, "rb") as stdin:
            before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
            subprocess.run(pin + [sys.executable, "-m", "harness.cli", "detect", "-"], stdin=stdin,
                           stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
            wall, after = time.perf_counter() - wall, resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        os.unlink(f.name)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.2, help="time per measurement")
    parser.add_argument("--outputs", type=int, default=20_000, help="outputs in the realistic mix")
    parser.add_argument("--repeat", type=int, default=5,
                        help="CLI runs, and runs on empty input for start-up; the fastest of each counts")
    args = parser.parse_args()
    realistic = [text for _, text in detect_mix.mix(args.outputs)]
    rate(realistic[:500], 0.05)  # warm-up
    in_process = rate(realistic, args.seconds * 5)
    cli_cpu, cli_wall = min(cli_seconds(realistic) for _ in range(args.repeat))
    start_up = min(cli_seconds([])[0] for _ in range(args.repeat))
    n, mean = len(realistic), sum(map(len, realistic)) / len(realistic)
    with_start, steady = n / cli_cpu, n / max(cli_cpu - start_up, 1e-9)
    print(f"realistic mix ({n:,} outputs, mean {mean:,.0f} chars): detect() {in_process:,.0f}/s; "
          f"harness detect - {with_start:,.0f}/s CPU ({n / cli_wall:,.0f}/s wall), start-up included "
          f"(start-up {start_up * 1000:,.0f} ms CPU; {steady:,.0f}/s after it)")
    verdict = {True: "met", False: "NOT met"}
    print(f"goal: harness detect - >= {GOAL:,} outputs/s: after start-up {verdict[steady >= GOAL]}; "
          f"with start-up on {n:,} outputs {verdict[with_start >= GOAL]}")
    project = [t for texts in SAMPLES.values() for t in texts]
    rate(project, 0.05)  # warm-up
    overall = rate(project, args.seconds * 5)
    per_format = {name: rate(texts, args.seconds) for name, texts in SAMPLES.items()}
    print(f"project mixed benchmark: {overall:,.0f} detections/s over {len(project)} outputs")
    for name, value in sorted(per_format.items(), key=lambda kv: kv[1]):
        print(f"  {name:18} {value:>10,.0f}/s")
    slowest = min(per_format, key=per_format.get)
    print(f"slowest: {slowest} at {per_format[slowest]:,.0f} detections/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
