#!/usr/bin/env bash
# The steps of examples/github-actions.yml. The workflow calls this script one step at a time, so
# running it here runs exactly what CI runs, in the same order:
#   bash scripts/run_example_workflow.sh              # every step
#   bash scripts/run_example_workflow.sh pytest gate  # some steps, in the order given
# Outside GitHub, $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY go to files under $REPORTS.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=(setup recipe demo pytest gate reports)
REPORTS=${REPORTS:-reports}
RUN=${RUN:-$REPORTS/ci}                     # the run folder both gate forms judge
BASELINE=${BASELINE:-reports/baseline-demo} # committed; refresh it as reports/README.md says
mkdir -p "$REPORTS"
GITHUB_OUTPUT=${GITHUB_OUTPUT:-$REPORTS/github-output.txt}
GITHUB_STEP_SUMMARY=${GITHUB_STEP_SUMMARY:-$REPORTS/step-summary.md}
PY=.venv/bin/python

step_setup() {    # the venv (restored from cache when pyproject.toml is unchanged) and OpenBLAS
  bash scripts/setup.sh
}

step_recipe() {   # the demo model's cache key: a hash of everything that decides the build
  echo "hash=$($PY -c 'from harness.demo.build import demo_recipe_hash; print(demo_recipe_hash())')" >> "$GITHUB_OUTPUT"
}

step_demo() {     # builds the demo model on a cache miss, with progress; instant on a hit
  $PY -c 'from harness.demo.build import demo_model_path; print(demo_model_path())'
}

step_pytest() {   # the pytest form: the suite runs once, batched; the gate rules are the test items
  # -m harness_gate: every case still runs and lands in $RUN, but only the rules decide the job
  # (drop -m locally to see each case as a test, or mark known failures `xfail = true` in the suite)
  $PY -m pytest suites/coding_tools.toml --harness-model demo --harness-gate=examples/gate.toml \
    --harness-run-dir "$RUN" -m harness_gate -p no:cacheprovider --junitxml "$REPORTS/pytest-junit.xml"
}

step_gate() {     # the gate form, on the same run folder (resumed: nothing is generated again)
  .venv/bin/harness run suites/coding_tools.toml --model demo --run-dir "$RUN" --quiet
  .venv/bin/harness gate "$RUN" --rules examples/gate.toml --junit "$REPORTS/junit.xml" --junit-cases \
    --summary "$GITHUB_STEP_SUMMARY"
  .venv/bin/harness gate "$RUN" --rules examples/gate-baseline.toml --baseline "$BASELINE" \
    --junit "$REPORTS/junit-baseline.xml" --summary "$GITHUB_STEP_SUMMARY"
}

step_reports() {  # HTML for the artifact; the diff against the baseline also goes to the job summary
  .venv/bin/harness report "$RUN" --format html -o "$REPORTS/report.html"
  .venv/bin/harness diff "$BASELINE" "$RUN" --format html -o "$REPORTS/diff.html"
  .venv/bin/harness diff "$BASELINE" "$RUN" --format md >> "$GITHUB_STEP_SUMMARY"
}

[ $# -gt 0 ] || set -- "${STEPS[@]}"
for step in "$@"; do
  if [[ " ${STEPS[*]} " != *" $step "* ]]; then
    echo "error: unknown step '$step'; steps, in workflow order: ${STEPS[*]}" >&2
    exit 2
  fi
  echo "== $step" >&2
  "step_$step"
done
