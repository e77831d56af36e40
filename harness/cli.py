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


class Formatter(argparse.HelpFormatter):
    """argparse's help layout, told the terminal's width: left to find it, argparse imports shutil
    (2 ms of every start, since each add_argument makes a formatter)."""

    def __init__(self, prog: str, **options):
        options.setdefault("width", _columns() - 2)  # argparse's margin
        super().__init__(prog, **options)


def _columns() -> int:
    """The terminal's width as shutil.get_terminal_size gives it: $COLUMNS if positive, the terminal's, else 80."""
    try:
        if (columns := int(os.environ["COLUMNS"])) > 0:
            return columns
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class Parser(argparse.ArgumentParser):
    """Usage errors on one line, exit 2, like every other bad input."""

    def __init__(self, *args, **options):
        options.setdefault("formatter_class", Formatter)
        super().__init__(*args, **options)

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


def entry() -> None:
    """The `harness` script: main(), then, when the command's module sets QUICK_EXIT (nothing of it is left
    open or running once main returns: no file but the standard streams, no thread, no temporary
    folder), an exit without the interpreter's teardown of every module (8 ms of a 60 ms command)."""
    code = main()
    module = sys.modules.get(COMMANDS.get(_command(sys.argv[1:]), ("",))[0])
    if getattr(module, "QUICK_EXIT", False):
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # the ordinary exit reports it
        else:
            os._exit(code)
    sys.exit(code)


def _command(argv: list[str]) -> str | None:
    """The command named in argv (its first word that is not an option)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command(argv)
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
    entry()
