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
        ("max_tokens = 0", "key 'max_tokens' must be an integer 1 or more, got 0"),
        ("max_tokens = 2.0", "key 'max_tokens' must be an integer 1 or more"),
        ("temperature = -0.1", "key 'temperature' must be a number 0 or more"),
        ("temperature = inf", "key 'temperature'"),
        ("temperature = true", "key 'temperature'"),
        ("top_p = 1.0001", "key 'top_p' must be a number above 0 and at most 1"),
        ("top_p = -1", "key 'top_p'"),
        ('seed = "7"', "key 'seed' must be an integer"),
        ("batch_size = 0", "key 'batch_size' must be an integer 1 or more"),
        ("extra_eos_tokens = [2]", "key 'extra_eos_tokens' must list token texts"),
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


def test_models_command_lists_entries():
    r = run_cli("models")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("demo\tmlx")
    assert "my-fused\tmlx" in r.stdout


@pytest.mark.parametrize("body", ["temperature = 0", "temperature = 1.5", "top_p = 1", "top_p = 0.01", "max_tokens = 1",
                                  "seed = -4"])
def test_sampler_values_at_their_limits_are_accepted(tmp_path, body):
    f = tmp_path / "models.toml"
    f.write_text(f'[models.x]\npath = "p"\n{body}\n')
    key, value = body.split(" = ")
    assert getattr(resolve_model("x", f), key) == float(value)


def test_run_flags_are_range_checked():
    import argparse

    from harness.models import check_run_options

    ok = argparse.Namespace(samples=1, max_tokens=1, batch_size=None, concurrency=None)
    check_run_options(ok)
    for key, flag in (("samples", "--samples"), ("max_tokens", "--max-tokens"), ("batch_size", "--batch-size"),
                      ("concurrency", "--concurrency")):
        for bad in (0, -1):
            with pytest.raises(InputError, match=f"^{flag} must be an integer 1 or more, got {bad}$"):
                check_run_options(argparse.Namespace(**{**vars(ok), key: bad}))
