"""pytest plugin: a suite file is a test module, each case (x sample) a test, each gate rule a test.

`pytest suites/coding_tools.toml --harness-model demo [--harness-gate gate.toml]` runs the model
once per suite file, lazily, on the first item that needs it, batched through `harness.runner.run`
into a normal run folder; items then read their verdict from it. Only the cases of the items left
after -k/-m/--lf are generated. Suites are collected only when --harness-model or --harness-replay
is given, so a plain pytest run never touches them. Registered through the `pytest11` entry point.
"""
import json
import tomllib
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.text import excerpt

SUFFIXES = (".toml", ".jsonl")
RUNS = pytest.StashKey[list]()  # the SuiteFile collectors of this session
MARKERS = pytest.StashKey[set]()  # case tags and categories registered as markers


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "toolcall-harness: suite files as tests")
    group.addoption("--harness-model", metavar="NAME|PATH",
                    help="collect suite files (.toml, .jsonl) and run them on this model: a models.toml name, "
                         "'demo', or a model folder")
    group.addoption("--harness-models", metavar="FILE", default="models.toml",
                    help="models file (default ./models.toml)")
    group.addoption("--harness-replay", metavar="FILE",
                    help="collect suite files and score recorded outputs (JSONL of {id, output} or a results.jsonl)")
    group.addoption("--harness-gate", metavar="FILE", help="gate rules (TOML): each rule becomes a test item")
    group.addoption("--harness-baseline", metavar="RUN", help="baseline run folder for the gate's [baseline] rules")
    group.addoption("--harness-run-dir", metavar="DIR",
                    help="run folder (resumed when it exists); with several suite files, one subfolder each. "
                         "Default: a new folder under reports/")
    group.addoption("--harness-samples", metavar="N", type=int, default=1, help="generations per case (default 1)")


def _active(config: pytest.Config) -> bool:
    return bool(config.getoption("harness_model") or config.getoption("harness_replay"))


def pytest_configure(config: pytest.Config) -> None:
    if _active(config):
        config.addinivalue_line("markers", "harness_case: a case of a toolcall-harness suite")
        config.addinivalue_line("markers", "harness_gate: a gate rule of --harness-gate")
        config.stash[RUNS], config.stash[MARKERS] = [], set()


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    config = parent.config
    if not _active(config) or file_path.suffix not in SUFFIXES:
        return None
    # a file named on the command line is a suite (and an error if it is not one); a file found by
    # walking a folder is one only if it looks like one, so models.toml or replay files are left alone
    here = config.invocation_params.dir
    named = {(here / str(a).split("::")[0]).resolve() for a in config.args}
    if file_path.resolve() in named or _looks_like_suite(file_path):
        return SuiteFile.from_parent(parent, path=file_path)
    return None


def _looks_like_suite(path: Path) -> bool:
    try:
        if path.suffix == ".toml":
            return isinstance(tomllib.loads(path.read_text(encoding="utf-8")).get("cases"), list)
        with path.open(encoding="utf-8") as f:
            first = json.loads(f.readline() or "null")
        return isinstance(first, dict) and "expect" in first
    except (OSError, UnicodeDecodeError, ValueError):
        return False


def pytest_collection_finish(session: pytest.Session) -> None:
    # -k, -m and --lf have deselected by now: generate only what is left
    for item in session.items:
        if isinstance(item, (CaseItem, RuleItem)):
            item.parent.selected.append(item)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    if not _active(config):
        return
    for run in config.stash[RUNS]:
        if run.outcome is not None:
            o = run.outcome
            terminalreporter.write_line(f"harness: {run.path} -> run folder {o.run_dir} "
                                        f"({o.generated} generated, {o.resumed} already there)")


class CaseFailed(Exception):
    """A case's verdict or a gate rule failed: the message is the whole report."""


class NotMeasured(Exception):
    """A case has no verdict (backend error, or the run stopped): an ERROR in pytest, never a model failure."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    # our failures are verdicts, not bugs in test code: show the message, not a traceback into the plugin
    if isinstance(item, (CaseItem, RuleItem)) and call.excinfo and call.excinfo.errisinstance((CaseFailed, NotMeasured)):
        report.longrepr = str(call.excinfo.value)
    return report


class SuiteFile(pytest.File):
    def collect(self):
        from harness.models import replay_spec, resolve_model
        from harness.reporting.gate import load_rules, rule_keys
        from harness.suite import load_suite

        config = self.config
        try:
            suite = load_suite(self.path)
            replay = config.getoption("harness_replay")
            spec = replay_spec(replay) if replay else resolve_model(config.getoption("harness_model"),
                                                                    config.getoption("harness_models"),
                                                                    "--harness-model")
            gate = config.getoption("harness_gate")
            rules = load_rules(gate) if gate else {}
            if rules.get("baseline") and not config.getoption("harness_baseline"):
                raise InputError(f"{gate}: [baseline] rules need a baseline run: give --harness-baseline RUN")
        except InputError as e:
            raise self.CollectError(f"error: {e}") from None
        samples = config.getoption("harness_samples")
        if samples < 1:
            raise self.CollectError("error: --harness-samples must be 1 or more")
        self.suite, self.spec, self.rules, self.samples = suite, spec, rules, samples
        self.selected: list[pytest.Item] = []
        self.outcome = self.loaded = None  # the RunOutcome and the LoadedRun, once generated
        self._records: dict | None = None
        self._gate: dict | None = None
        config.stash[RUNS].append(self)
        for case in suite.cases:
            for sample in range(samples):
                name = case.id if samples == 1 else f"{case.id}[{sample}]"
                item = CaseItem.from_parent(self, name=name, case=case, sample=sample)
                # tags and the category are markers, so -m selects on them
                item.add_marker("harness_case")
                for marker in (*case.tags, case.category):
                    if marker not in config.stash[MARKERS]:  # registered, so --strict-markers accepts it
                        config.stash[MARKERS].add(marker)
                        config.addinivalue_line("markers", f"{marker}: harness case tag or category")
                    item.add_marker(marker)
                if case.xfail:
                    reason = case.xfail if isinstance(case.xfail, str) else "marked xfail in the suite"
                    item.add_marker(pytest.mark.xfail(reason=reason, strict=False))
                yield item
        for key in rule_keys(rules) if gate else []:  # without rules, no built-in rules either
            # "[categories.lint] min_tool" -> "gate[categories.lint.min_tool]"
            rule = RuleItem.from_parent(self, name=f"gate{key.replace('] ', '.')}]", key=key)
            rule.add_marker("harness_gate")
            yield rule

    def run_dir(self) -> Path:
        from harness import runner

        given = self.config.getoption("harness_run_dir")
        if not given:
            return runner.default_run_dir("reports", self.suite, self.spec)
        several = len(self.config.stash[RUNS]) > 1
        return Path(given) / self.path.stem if several else Path(given)

    def records(self) -> dict:
        """Generate the selected cases once (the first item that asks), then serve their records by key."""
        if self._records is None:
            from dataclasses import replace

            from harness import runner
            from harness.errors import BackendUnavailable
            from harness.results import load_run

            wanted = {item.case.id for item in self.selected if isinstance(item, CaseItem)}
            # gate rules alone judge the whole suite; with cases selected they judge those
            cases = [c for c in self.suite.cases if c.id in wanted] if wanted else self.suite.cases
            self._records = {}  # set first: a failed generation is reported once, not retried per item
            try:
                self.outcome = runner.run(replace(self.suite, cases=cases), self.spec, self.run_dir(),
                                          samples=self.samples, progress=False)
                # full records, not report views: a failure shows the expectation and more of the output
                self.loaded = load_run(self.outcome.run_dir, views=False)
            except InputError as e:  # a bad models entry or run folder: bad input, exit 2 like the CLI
                pytest.exit(f"error: {e}", returncode=2)
            except BackendUnavailable as e:  # the server or model is gone: exit 3 like the CLI
                pytest.exit(f"error: {e}", returncode=3)
            self._records = {r.key: r for r in self.loaded.records}
        return self._records

    def gate(self) -> dict:
        """Every rule measured on the run folder, by key (or the one-line reason they cannot be)."""
        if self._gate is None:
            from harness.reporting import diff
            from harness.reporting.gate import evaluate
            from harness.reporting.summary import summarize_run

            self.records()
            try:
                baseline = self.config.getoption("harness_baseline")
                comparison = diff.compare([baseline, self.loaded]) if baseline else None
                self._gate = {r.key: r for r in evaluate(self.rules, summarize_run(self.loaded), comparison,
                                                         self.config.getoption("harness_gate"))}
            except InputError as e:
                self._gate = {"error": str(e)}
        return self._gate


class CaseItem(pytest.Item):
    def __init__(self, *, case, sample: int, **kwargs):
        super().__init__(**kwargs)
        self.case, self.sample = case, sample

    def setup(self) -> None:
        record = self.parent.records().get((self.case.id, self.sample))
        if record is None:
            raise NotMeasured(f"{self.case.id}: no result in {self.parent.outcome.run_dir}; the run stopped early")
        if record.not_judged:  # not a model failure: reported as an error, like a broken fixture
            raise NotMeasured(f"{self.case.id}: {record.reason}: {excerpt(record.error or record.detail, 500)}")
        self.record = record

    def runtest(self) -> None:
        if not self.record.passed:
            raise CaseFailed(failure_message(self.record))

    def reportinfo(self):
        return self.path, None, f"case {self.name}"


def failure_message(record) -> str:
    """A failed Record as pytest shows it: the verdict, what was expected, what was detected, the output."""
    # model text is untrusted: excerpt() escapes control characters (no terminal escapes get through)
    detected = "\n".join(f"  {excerpt(json.dumps({'name': c.name, 'arguments': c.arguments}, ensure_ascii=False), 300)}"
                          for c in record.detection.calls) or "  (none)"
    return (f"{record.id}: {record.reason} at level {record.level}: {excerpt(record.detail, 500)}\n"
            f"expected: {json.dumps(record.expect, ensure_ascii=False)}\n"
            f"detected calls ({record.detection.format or 'no format'}):\n{detected}\n"
            f"output: {excerpt(record.output, 600)}")


class RuleItem(pytest.Item):
    def __init__(self, *, key: str, **kwargs):
        super().__init__(**kwargs)
        self.key = key

    def runtest(self) -> None:
        measured = self.parent.gate()
        if "error" in measured:
            raise CaseFailed(f"error: {measured['error']}")
        rule = measured[self.key]
        if not rule.passed:
            raise CaseFailed(rule.line())

    def reportinfo(self):
        return self.path, None, f"gate rule {self.key}"

