"""`harness validate SUITE...`: check suite files without running anything."""
import argparse

QUICK_EXIT = True  # nothing is left open or running when main returns (harness.cli.entry)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("suites", nargs="+", help="suite files")


def main(args) -> int:
    from harness.suite import load_suite

    for path in args.suites:
        suite = load_suite(path)
        print(f"{path}: ok ({len(suite.cases)} cases, suite '{suite.name}')")
    return 0
