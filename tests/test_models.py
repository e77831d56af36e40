"""models.toml: named entries, model folders by path, and clear errors for mistakes."""
import pytest

from conftest import run_cli
from harness.errors import InputError
from harness.models import resolve_model


def test_named_entry_and_template_options(tmp_path):
    f = tmp_path / "models.toml"
    f.write_text('[models.fused]\nbackend = "mlx"\npath = "/m/fused"\nadapter_path = "/a"\nmax_tokens = 99\n'
                 'enable_thinking = false\nextra_eos_tokens = ["<|eot_id|>"]\ntemperature = 0.7\n')
    spec = resolve_model("fused", f)
    assert spec.backend == "mlx" and spec.options == {"path": "/m/fused", "adapter_path": "/a"}
    assert spec.max_tokens == 99 and spec.temperature == 0.7
    assert spec.chat_template_kwargs == {"enable_thinking": False}
    assert spec.extra_eos_tokens == ["<|eot_id|>"]


def test_model_folder_without_entry(tmp_path):
    folder = tmp_path / "my_fused_model"
    folder.mkdir()
    spec = resolve_model(str(folder), tmp_path / "absent.toml")
    assert spec.backend == "mlx" and spec.options["path"] == str(folder.resolve())
    assert spec.name == "my_fused_model"


@pytest.mark.parametrize("body, needle", [
    ('[models.x]\nbackend = "mlx"\npath = "p"\nmax_token = 5\n', "unknown key 'max_token'"),
    ('[models.x]\nbackend = "mlx"\n', "missing key 'path'"),
    ('[models.x]\nbackend = "nope"\npath = "p"\n', "unknown backend 'nope'"),
    ('[models.x]\nbackend = "mlx"\npath = "p"\nmax_tokens = "many"\n', "'max_tokens' must be an integer"),
    ('[models.x\n', "not valid TOML"),
    *((f'[models.x]\npath = "p"\n{body}\n', f"[models.x]: {needle}") for body, needle in [
        ("max_tokens = 0", "'max_tokens' must be >= 1, got 0"),
        ("max_tokens = 2.0", "'max_tokens' must be an integer"),
        ("temperature = -0.1", "'temperature' must be >= 0"),
        ("temperature = inf", "'temperature' must be a finite number"),
        ("temperature = true", "'temperature'"),
        ("top_p = 1.0001", "'top_p' must be > 0 and <= 1"),
        ("top_p = -1", "'top_p'"),
        ('seed = "7"', "'seed' must be an integer"),
        ("batch_size = 0", "'batch_size' must be >= 1"),
        ("extra_eos_tokens = [2]", "'extra_eos_tokens' must list token texts"),
        ("chat_template_kwargs = {tokenize = false}", "'chat_template_kwargs' sets tokenize, which the harness"),
        ("chat_template_kwargs = {tools = [], add_generation_prompt = false}",
         "'chat_template_kwargs' sets add_generation_prompt, tools, which"),
    ]),
])
def test_bad_entries_name_the_key(tmp_path, body, needle):
    f = tmp_path / "models.toml"
    f.write_text(body)
    with pytest.raises(InputError, match="models.toml") as err:
        resolve_model("x", f)
    assert needle in str(err.value)


def test_unknown_model_lists_known_names(tmp_path):
    f = tmp_path / "models.toml"
    f.write_text('[models.a]\npath = "p"\n')
    with pytest.raises(InputError, match=r"unknown model 'zz'.*known: a, demo"):
        resolve_model("zz", f)


@pytest.mark.parametrize("args, flag", [
    (["run", "suites/coding_tools.toml", "--model", "zz"], "--model"),
    (["probe", "suites/coding_tools.toml", "--model", "zz"], "--model"),
    (["sweep", "suites/coding_tools.toml", "--base", "zz", "--adapters", "."], "--base"),
    (["doctor", "zz"], "MODEL"),
])
def test_an_unknown_model_error_names_the_option_that_gave_it(args, flag):
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    assert f"unknown model 'zz'" in r.stderr and f"give {flag} a NAME from models.toml" in r.stderr
    assert "Traceback" not in r.stderr


def test_an_unknown_judge_is_named_as_the_judge(tmp_path):
    with pytest.raises(InputError, match="give --judge a NAME"):
        resolve_model("zz", tmp_path / "models.toml", "--judge")


def test_models_command_lists_entries():
    r = run_cli("models")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("demo\tmlx")
    assert "my-fused\tmlx" in r.stdout


@pytest.mark.parametrize("body", ["temperature = 0", "temperature = 1.5", "top_p = 1", "top_p = 0.01", "max_tokens = 1",
                                  "seed = 0"])
def test_sampler_values_at_their_limits_are_accepted(tmp_path, body):
    f = tmp_path / "models.toml"
    f.write_text(f'[models.x]\npath = "p"\n{body}\n')
    key, value = body.split(" = ")
    assert getattr(resolve_model("x", f), key) == float(value)
