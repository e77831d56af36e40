"""`harness doctor` on tiny models built offline, each with one flaw: every check passes on the sound
setup and exactly the flawed check fails on each flawed one. `harness run` reports the same flaws."""
import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import REFERENCE_SUITE, ROOT
from harness.demo.build import DEMO_TEMPLATE, TOOL_TOKENS, TinySpec, build_tiny_model
from harness.cli import main as cli

DATA = ROOT / "tests" / "data" / "doctor"
SMALL = {"hidden": 64, "layers": 1, "intermediate": 128}


def _template_without_tools(path: Path) -> Path:
    """The demo template with its tool-listing block cut out: it still renders calls and results."""
    text = DEMO_TEMPLATE.read_text()
    cut, n = re.subn(r"\{%- if tools %\}.*?\{%- endif %\}\n", "", text, count=1, flags=re.S)
    assert n == 1
    path.write_text(cut)
    return path


def _hand_made_adapter(base: Path, out: Path) -> Path:
    """A random LoRA adapter on q_proj and v_proj: no training needed to change the outputs."""
    import mlx.core as mx

    cfg = json.loads((base / "config.json").read_text())
    hidden, layers, rank = cfg["hidden_size"], cfg["num_hidden_layers"], 4
    kv = cfg["num_key_value_heads"] * hidden // cfg["num_attention_heads"]
    mx.random.seed(1)
    weights = {}
    for i in range(layers):
        for name, width in (("self_attn.q_proj", hidden), ("self_attn.v_proj", kv)):
            weights[f"model.layers.{i}.{name}.lora_a"] = mx.random.normal((hidden, rank)) * 0.1
            weights[f"model.layers.{i}.{name}.lora_b"] = mx.random.normal((rank, width)) * 0.1
    out.mkdir(parents=True)
    mx.save_safetensors(str(out / "adapters.safetensors"), weights)
    (out / "adapter_config.json").write_text(json.dumps({"fine_tune_type": "lora", "num_layers": layers,
        "lora_parameters": {"rank": rank, "scale": 2.0, "dropout": 0.0, "keys": ["self_attn.q_proj", "self_attn.v_proj"]}}))
    return out


def _fuse(base: Path, adapter: Path, out: Path) -> Path:
    """What `mlx_lm fuse` does, in process."""
    from mlx.utils import tree_unflatten
    from mlx_lm import load
    from mlx_lm.utils import save

    model, tok, config = load(str(base), adapter_path=str(adapter), return_config=True)
    model.update_modules(tree_unflatten([(n, m.fuse()) for n, m in model.named_modules() if hasattr(m, "fuse")]))
    save(out, base, model, tok, config, donate_model=False)
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("doctor")
    specs = {
        "sound": TinySpec(**SMALL),
        "no_tool_response": TinySpec(**SMALL, added_tokens=["<tool_call>", "</tool_call>"]),
        "eos_mismatch": TinySpec(**SMALL, eos_token="<|endoftext|>"),
        "no_tool_instructions": TinySpec(**SMALL, template=str(_template_without_tools(root / "no_tools.jinja"))),
        "thinking": TinySpec(**SMALL, template="qwen3_xml_thinking.jinja", added_tokens=TOOL_TOKENS + ["<think>", "</think>"]),
    }
    built = {name: build_tiny_model(root / name, spec) for name, spec in specs.items()}
    built["adapter"] = _hand_made_adapter(built["sound"], root / "adapter")
    built["fused"] = _fuse(built["sound"], built["adapter"], root / "fused")
    built["unfused_copy"] = Path(shutil.copytree(built["sound"], root / "unfused_copy"))
    return built


def doctor(capsys, *args: str) -> tuple[int, dict]:
    code = cli(["doctor", *args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def not_passing(report: dict) -> set[str]:
    return {c["id"] for c in report["checks"] if c["status"] != "pass"}


def test_sound_setup_passes_every_check(models, capsys):
    code, report = doctor(capsys, str(models["sound"]), "--data", str(DATA / "good.jsonl"),
                          "--base", str(models["sound"]), "--adapter", str(models["adapter"]))
    ids = [c["id"] for c in report["checks"]]
    assert ids == ["tool_tokens", "eos_tokens", "tool_instructions", "thinking", "data_format_match",
                   "data_mixed_formats", "adapter_parity"]
    # the sound model is the base, so parity fails here; every other check passes
    assert not_passing(report) == {"adapter_parity"} and code == 1
    code, report = doctor(capsys, str(models["fused"]), "--data", str(DATA / "good.jsonl"),
                          "--base", str(models["sound"]), "--adapter", str(models["adapter"]))
    assert code == 0 and not_passing(report) == set(), report
    assert all(c["finding"] and "\n" not in c["finding"] for c in report["checks"])


@pytest.mark.parametrize("model, data, flawed, words", [
    ("no_tool_response", None, "tool_tokens", ["<tool_response> splits into", "</tool_response> splits into"]),
    ("eos_mismatch", None, "eos_tokens", ["<|im_end|>", "config.json eos_token_id", "generation_config.json"]),
    ("no_tool_instructions", None, "tool_instructions", ["no tool definition"]),
    ("thinking", None, "thinking", ["pre-fills <think>", "max_tokens is 256"]),
    ("sound", "xml_calls.jsonl", "data_format_match", ["qwen3_coder_xml (2 of 3 examples)", "template writes hermes_json"]),
    ("sound", "mixed.jsonl", "data_mixed_formats", ["hermes_json: 3 examples (lines 1, 2, 3)", "qwen3_coder_xml: 1 example (line 4)"]),
    ("sound", "missing_tools.jsonl", "tool_instructions", ["1 of 2 training examples", "(line 3)"]),
])
def test_each_flaw_fails_exactly_its_check(models, capsys, model, data, flawed, words):
    args = [str(models[model])] + (["--data", str(DATA / data)] if data else [])
    code, report = doctor(capsys, *args)
    assert not_passing(report) == {flawed}, report
    check = next(c for c in report["checks"] if c["id"] == flawed)
    assert all(w in check["finding"] for w in words), check["finding"]
    assert check["fix"]
    assert code == (0 if check["status"] == "warn" else 1)


def test_thinking_template_with_room_passes_and_xml_markers_are_found(models, capsys):
    code, report = doctor(capsys, str(models["thinking"]), "--max-tokens", "2048")
    assert code == 0 and not_passing(report) == set()
    tokens = report["checks"][0]["finding"]
    assert "qwen3_coder_xml" in tokens and "<tool_call>, </tool_call>, <tool_response>, </tool_response>" in tokens


def test_unfused_copy_fails_adapter_parity_with_distances(models, capsys):
    code, report = doctor(capsys, str(models["unfused_copy"]), "--base", str(models["sound"]),
                          "--adapter", str(models["adapter"]))
    assert code == 1 and not_passing(report) == {"adapter_parity"}
    finding = report["checks"][-1]["finding"]
    assert "behaves like the base" in finding and "model vs base 0," in finding
    assert re.search(r"model vs base\+adapter [1-9]", finding)


def test_bad_input_exits_2_naming_file_and_line(models, capsys, tmp_path):
    assert cli(["doctor", str(models["sound"]), "--data", str(DATA / "bad_json.jsonl")]) == 2
    assert "bad_json.jsonl:2: not valid JSON" in capsys.readouterr().err
    assert cli(["doctor", str(models["sound"]), "--base", str(models["sound"]), "--adapter", str(tmp_path)]) == 2
    assert f"with adapter '{tmp_path}'" in capsys.readouterr().err
    assert cli(["doctor", str(models["sound"]), "--base", str(models["sound"])]) == 2
    assert "--base and --adapter go together" in capsys.readouterr().err
    assert cli(["doctor", "no-such-model"]) == 2


def test_table_output_names_the_fix(models, capsys):
    assert cli(["doctor", str(models["eos_mismatch"])]) == 1
    out = capsys.readouterr().out
    assert "FAIL  eos_tokens" in out and 'fix: put 2 (<|im_end|>) in eos_token_id' in out
    assert out.rstrip().endswith("1 failed, 0 warned, 3 passed")


def test_run_reports_setup_flaws_as_warnings(models, capsys, tmp_path):
    code = cli(["run", str(REFERENCE_SUITE), "--model", str(models["eos_mismatch"]), "--max-tokens", "4",
                "--run-dir", str(tmp_path / "run"), "--quiet"])
    assert code == 0
    out = capsys.readouterr().out
    assert re.search(r"warning\s+doctor eos_tokens fail: generation never stops", out), out
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert [w.split(":")[0] for w in manifest["warnings"]] == ["doctor eos_tokens fail"]


def test_run_with_adapter_path_matches_the_fused_model(models, tmp_path):
    """The mlx backend applies an adapter_path from models.toml: same outputs as the real fuse."""
    from harness.results import read_manifest, read_records

    models_file = tmp_path / "models.toml"
    models_file.write_text(f'[models.with-adapter]\nbackend = "mlx"\npath = "{models["sound"]}"\n'
                           f'adapter_path = "{models["adapter"]}"\nmax_tokens = 12\n'
                           f'[models.fused]\nbackend = "mlx"\npath = "{models["fused"]}"\nmax_tokens = 12\n')
    outputs = {}
    for name in ("with-adapter", "fused"):
        run_dir = tmp_path / name
        assert cli(["run", str(REFERENCE_SUITE), "--model", name, "--models", str(models_file),
                    "--run-dir", str(run_dir), "--quiet"]) == 0
        outputs[name] = {r.id: r.output for r in read_records(run_dir)}
    assert outputs["with-adapter"] == outputs["fused"]
    manifest = read_manifest(tmp_path / "with-adapter").to_json()
    adapter_bytes = (models["adapter"] / "adapters.safetensors").stat().st_size
    assert manifest["model"]["adapter_path"] == str(models["adapter"])
    assert manifest["model"]["size_bytes"] == read_manifest(tmp_path / "fused").model["size_bytes"] + adapter_bytes
