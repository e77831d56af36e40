"""Errors the CLI turns into exit codes, each printed on one line: bad input (2), a backend that is
gone (3). Anything else that escapes a command is an internal error (4, traceback behind --debug)."""


class InputError(Exception):
    """A file, field or argument a user gave is wrong; the message names where and how to fix it."""


class BackendUnavailable(Exception):
    """The backend keeps failing (server down, model gone): the run stopped early and can be resumed."""


EXIT_OK, EXIT_GATE_FAILED, EXIT_INPUT, EXIT_BACKEND, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_PIPE_CLOSED = 141  # as a tool the shell saw end by SIGPIPE: the reader of stdout left (`| head`)
