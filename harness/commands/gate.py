"""`harness gate RUN --rules gate.toml [--baseline RUN] [--junit FILE [--junit-cases]] [--summary FILE]`: a CI verdict."""
import argparse

from harness.errors import InputError

QUICK_EXIT = True  # nothing is left open or running when main returns (harness.cli.entry)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="run folder to judge")
    parser.add_argument("--rules", required=True, help="gate rules file (TOML; see examples/gate.toml)")
    parser.add_argument("--baseline", help="run folder to compare with, for the [baseline] rules")
    parser.add_argument("--junit", metavar="FILE", help="write JUnit XML: a test per rule, failed when the rule fails")
    parser.add_argument("--junit-cases", action="store_true",
                        help="also a test per case in the JUnit; a failed case is reported skipped with its reason, "
                             "never a failure: the rules decide the build")
    parser.add_argument("--summary", metavar="FILE", help="append a Markdown summary to FILE (e.g. $GITHUB_STEP_SUMMARY)")
    parser.add_argument("--allow-partial", action="store_true",
                        help="gate a partial, interrupted or failed run instead of failing it")
    parser.add_argument("--skip-damaged", action="store_true", help="skip damaged results.jsonl lines (counted)")


def main(args) -> int:
    from harness.reporting import diff
    from harness.reporting.gate import evaluate, junit_xml, load_rules, summary_md
    from harness.reporting.summary import summarize_run
    from harness.results import load_run
    from harness.userfiles import check_output_path

    if args.junit_cases and not args.junit:
        raise InputError("--junit-cases adds cases to the JUnit file: give --junit FILE too")
    check_output_path(args.junit, "--junit")
    check_output_path(args.summary, "--summary")
    rules_spec = load_rules(args.rules)
    # each folder is read once for summary, comparison and JUnit; full records when the JUnit shows outputs
    run = load_run(args.run, args.skip_damaged, views=not args.junit_cases)
    summary = summarize_run(run)
    comparison = diff.compare([load_run(args.baseline, args.skip_damaged), run], cases=False) if args.baseline else None
    rules = evaluate(rules_spec, summary, comparison, args.rules, allow_partial=args.allow_partial)
    for rule in rules:
        print(rule.line())
    if comparison:
        print(f"{diff.pair_headline(comparison['pairs'][0])} (A: baseline, B: this run)")
    failed = sum(1 for r in rules if not r.passed)
    print(f"gate {'FAILED' if failed else 'passed'}: {len(rules) - failed} of {len(rules)} rules passed")
    if args.junit:
        with open(args.junit, "w", encoding="utf-8") as f:
            f.write(junit_xml(run.records, summary, rules, cases=args.junit_cases))
    if args.summary:
        with open(args.summary, "a", encoding="utf-8") as f:  # appends: $GITHUB_STEP_SUMMARY is shared by steps
            f.write(summary_md(summary, rules, comparison, args.baseline))
    return 1 if failed else 0
