"""`harness` command line: only dispatch. Each subcommand lives in harness/commands/<name>.py with
add_arguments(parser) and main(args) -> int, and only the module of the command that runs is imported,
so --help starts fast. Exit codes: 0 ok, 1 gate failed, 2 bad input, 3 backend unavailable, 4 internal
error (one line; the traceback with --debug), 130 interrupted, 141 stdout's reader went away."""
import argparse
import errno
import importlib
import os
import select
import sys

from harness.errors import EXIT_BACKEND, EXIT_INPUT, EXIT_INTERNAL, EXIT_PIPE_CLOSED, BackendUnavailable, InputError

_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # a write failed for want of room: not a bug of ours
# name -> (module, one-line help). A new command is a module in harness/commands/ and a line here.
COMMANDS = {
    "run": ("harness.commands.run", "run a suite against a model and report"),
    "report": ("harness.commands.report", "report a finished run"),
    "rescore": ("harness.commands.rescore", "re-detect and re-score a run's recorded outputs into a new run folder"),
    "diff": ("harness.commands.diff", "compare runs side by side: accuracy, cost, flipped cases, McNemar"),
    "gate": ("harness.commands.gate", "pass or fail a run against rules (CI): exit 0 pass, 1 fail"),
    "doctor": ("harness.commands.doctor", "check a model, its training data and adapter for setup flaws"),
    "validate": ("harness.commands.validate", "check suite files without running anything"),
    "models": ("harness.commands.models", "list the models of models.toml"),
    "detect": ("harness.commands.detect", "find tool calls in model outputs (JSONL or --text)"),
    "import": ("harness.commands.import_suite", "import a public benchmark (BFCL) as a suite"),
    "init": ("harness.commands.init", "write a starter suite and models.toml entry from your tool definitions"),
    "probe": ("harness.commands.probe", "p_call: how likely the model is to start a call, from its own probabilities"),
    "sweep": ("harness.commands.sweep", "probe every adapter checkpoint of a LoRA run: p_call against iteration"),
}


class Parser(argparse.ArgumentParser):
    """Usage errors on one line, exit 2, like every other bad input."""

    def error(self, message: str):
        self.exit(EXIT_INPUT, f"error: {self.prog}: {message}; see {self.prog} --help\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command is listed; only `command`'s module is imported to add its arguments."""
    parser = Parser(prog="harness", description="Evaluate LLM tool calling: does the model call "
                                     "tools when it should, answer directly when it should, and at what cost?")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if name == command:
            importlib.import_module(module).add_arguments(p)
    return parser


def redact(text: str) -> str:
    """No key a backend holds reaches the terminal, whatever a server echoed into an error."""
    from harness.secrets import redact as redact_secrets

    return redact_secrets(text)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return importlib.import_module(COMMANDS[args.command][0]).main(args)
    except InputError as e:
        print(f"error: {redact(str(e))}", file=sys.stderr)
        return EXIT_INPUT
    except BackendUnavailable as e:
        print(f"error: {redact(str(e))}", file=sys.stderr)
        return EXIT_BACKEND
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as e:
        if not _stdout_closed():
            return _internal_error(e, args.debug)
        return EXIT_PIPE_CLOSED  # `harness report RUN | head`: the reader has what it wanted; nothing failed
    except OSError as e:
        if e.errno not in _FULL or args.debug:
            return _internal_error(e, args.debug)
        where = f" ({e.filename})" if e.filename else ""
        print(f"error: a write failed: {e.strerror}{where}; free space, or write elsewhere, and run again",
              file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as e:
        return _internal_error(e, args.debug)


def _internal_error(e: Exception, debug: bool) -> int:
    if debug:
        raise e
    message = redact(str(e)).splitlines()[0][:300] if str(e) else ""
    print(f"internal error: {type(e).__name__}: {message} (a bug in harness; rerun with --debug for the traceback)",
          file=sys.stderr)
    return EXIT_INTERNAL


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (poll reports an error on its write end); if so,
    stdout now points at /dev/null, so that the interpreter's last flush does not fail again."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        if not any(event & select.POLLERR for _, event in poller.poll(0)):
            return False
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    except (AttributeError, OSError, ValueError):  # no poll (Windows), or not a file descriptor (a test's capture)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
