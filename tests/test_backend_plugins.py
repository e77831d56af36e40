"""A backend installed as a plugin (an entry point in the `harness.backends` group) is found by name
and runs a suite through the real CLI, as docs/backends.md describes."""
import json
import textwrap

from conftest import REFERENCE_SUITE, run_cli
from harness.results import read_records

PLUGIN = '''
import json

from harness.backends.base import Backend, Generation, LoadInfo


class EchoBackend(Backend):
    """Calls the first tool of every case, with the case's prompt as the argument named in options."""
    name = "echo"
    option_keys = ("argument",)
    required_keys = ("argument",)

    def load(self):
        return LoadInfo(details={"plugin": "echo"})

    def generate(self, requests):
        for r in requests:
            call = {"name": r.case.tools[0]["name"], "arguments": {self.spec.options["argument"]: r.case.messages[-1]["content"]}}
            yield Generation(case_id=r.case.id, sample=r.sample, output=f"<tool_call>{json.dumps(call)}</tool_call>")
'''


def install_plugin(site) -> None:
    """What `pip install` of a plugin leaves on sys.path: a module and a dist-info with an entry point."""
    (site / "echo_backend.py").write_text(PLUGIN)
    dist = site / "harness_echo-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: harness-echo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[harness.backends]\necho = echo_backend:EchoBackend\n")


def test_entry_point_backend_runs_a_suite_through_the_cli(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site)
    monkeypatch.setenv("PYTHONPATH", str(site))
    models = tmp_path / "models.toml"
    models.write_text(textwrap.dedent('''
        [models.echo-model]
        backend = "echo"
        argument = "code"
    '''))
    r = run_cli("run", str(REFERENCE_SUITE), "--model", "echo-model", "--models", str(models),
                "--run-dir", str(tmp_path / "run"), "--quiet")
    assert r.returncode == 0, r.stderr
    records = read_records(tmp_path / "run")
    assert len(records) == 33 and all(r.detection.format == "hermes_json" for r in records)
    # the first tool is execute_code with a `code` argument: every typecheck case passes the tool level
    assert all(r.tool for r in records if r.category == "typecheck")
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["backend"] == "echo" and manifest["model"]["plugin"] == "echo"

    # a key the plugin does not declare is refused with the plugin's allowed keys
    models.write_text('[models.echo-model]\nbackend = "echo"\nargument = "code"\ncolour = "red"\n')
    r = run_cli("run", str(REFERENCE_SUITE), "--model", "echo-model", "--models", str(models), "--quiet")
    assert r.returncode == 2 and "unknown key 'colour'" in r.stderr and "argument" in r.stderr
