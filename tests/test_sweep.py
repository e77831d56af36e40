"""`harness sweep` over the checkpoints of a real LoRA fine-tune: a tiny base that always answers in prose is
built in the test (a short full fine-tune of a random model, so its states tell prompt from answer),
then taught to call with mlx-lm's own LoRA training (its `lora` entry point, offline, tiny data); every
checkpoint is probed with the base loaded once and only the adapter weights swapped."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mlx_lm")

ROOT = Path(__file__).resolve().parent.parent
PING = {"name": "ping", "description": "Check whether a host answers.",
        "parameters": {"type": "object", "properties": {"host": {"type": "string", "description": "Host name."}},
                       "required": ["host"]}}
HOSTS = ["alpha", "bravo", "delta", "echo", "golf", "hotel", "india", "kilo", "lima", "mike", "oscar", "papa",
         "romeo", "sierra", "tango", "victor"]
ITERS, SAVE_EVERY = 40, 10
# mlx-lm's LoRA CLI, with the system OpenBLAS the harness uses (about 10x faster than mlx's bundled BLAS)
LORA = ("from harness.backends.mlx_env import ensure_fast_blas; ensure_fast_blas()\n"
        "import sys; from mlx_lm import lora; sys.argv = ['mlx_lm.lora'] + sys.argv[1:]; lora.main()")


def _conversation(host: str, call: bool) -> dict:
    ask = {"role": "user", "content": f"Is {host} up? Ping it."}
    if not call:
        return {"messages": [ask, {"role": "assistant", "content": "I cannot reach hosts from here."}], "tools": [PING]}
    made = {"type": "function", "function": {"name": "ping", "arguments": {"host": host}}}
    return {"messages": [ask, {"role": "assistant", "content": "", "tool_calls": [made]}], "tools": [PING]}


def _suite(path: Path) -> Path:
    cases = [f'[[cases]]\nid = "ping-{h}"\ncategory = "ping"\nprompt = "Is {h} up? Ping it."\n'
             f'expect = {{ call = "ping", arguments = {{ host = "{h}" }} }}\n' for h in ("zulu", "yankee", "quebec")]
    cases += [f'[[cases]]\nid = "chat-{i}"\ncategory = "chat"\nprompt = "{q}"\nexpect = "direct"\n'
              for i, q in enumerate(["Say hello.", "What is a host name?"])]
    path.write_text('name = "ping"\n\n[[tools]]\nname = "ping"\ndescription = "Check whether a host answers."\n'
                    'parameters = { type = "object", properties = { host = { type = "string", description = '
                    '"Host name." } }, required = ["host"] }\n\n' + "\n".join(cases))
    return path


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory) -> dict:
    from harness.demo.build import TinySpec, build_tiny_model, fine_tune

    root = tmp_path_factory.mktemp("lora")
    train = [_conversation(h, call=True) for h in HOSTS]
    prose = [_conversation(h, call=False) for h in HOSTS]
    base = build_tiny_model(root / "base", TinySpec(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=128,
                                                    vocab=400), train + prose)
    fine_tune(base, prose, steps=40, batch_size=8, learning_rate=3e-3)
    data = root / "data"
    data.mkdir()
    (data / "train.jsonl").write_text("".join(json.dumps(c) + "\n" for c in train))
    (data / "valid.jsonl").write_text("".join(json.dumps(c) + "\n" for c in train[:4]))
    (root / "lora.yaml").write_text("lora_parameters:\n  rank: 16\n  dropout: 0.0\n  scale: 20.0\n")
    adapters = root / "adapters"
    proc = subprocess.run([sys.executable, "-c", LORA, "--model", str(base), "--train", "--data", str(data),
                           "--iters", str(ITERS), "--save-every", str(SAVE_EVERY), "--batch-size", "4",
                           "--learning-rate", "3e-3", "--num-layers", "-1", "--mask-prompt", "--steps-per-eval", "1000",
                           "--val-batches", "1", "--adapter-path", str(adapters), "-c", str(root / "lora.yaml")],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {"base": base, "adapters": adapters, "suite": _suite(root / "ping.toml")}


@pytest.mark.slow
def test_sweep_p_call_rises_with_iterations_and_the_base_loads_once(lora_run, monkeypatch):
    import mlx_lm

    from harness.commands.sweep import sweep
    from harness.models import resolve_model
    from harness.suite import load_suite

    loads = []
    real_load = mlx_lm.load
    monkeypatch.setattr(mlx_lm, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    report = sweep(load_suite(lora_run["suite"]), resolve_model(str(lora_run["base"])), lora_run["adapters"], False)
    assert len(loads) == 1  # the base model once; checkpoints are swapped into it
    points = report["points"]
    assert [p["iteration"] for p in points] == [0] + list(range(SAVE_EVERY, ITERS + 1, SAVE_EVERY))
    tool = [p["tool"]["mean"] for p in points]
    print("sweep: mean p_call on tool cases by iteration", {p["iteration"]: round(v, 4) for p, v in zip(points, tool)})
    assert len(points) >= 5  # the base and at least 4 checkpoints
    assert all(v > 100 * tool[0] for v in tool[1:])  # every checkpoint far above the prose-only base
    assert tool[-1] > tool[1]
    assert sum(b >= a for a, b in zip(tool, tool[1:])) >= len(tool) - 2  # rising, at most one step down


@pytest.mark.slow
def test_sweep_cli_table_json_and_html(lora_run, tmp_path):
    from conftest import run_cli

    args = ["sweep", str(lora_run["suite"]), "--base", str(lora_run["base"]), "--adapters", str(lora_run["adapters"])]
    as_json = run_cli(*args, "--format", "json", "--generate", "--max-tokens", "24")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert all(0 <= p["accuracy"] <= 1 for p in report["points"])
    page = tmp_path / "sweep.html"
    html = run_cli(*args, "--format", "html", "-o", str(page))
    text = page.read_text()
    assert html.returncode == 0 and "<svg" in text and "<polyline" in text and "<script" not in text
    assert "0000040_adapters.safetensors" in text
    table = run_cli(*args)
    assert "iteration" in table.stdout and "0000010_adapters.safetensors" in table.stdout
