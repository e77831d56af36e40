"""The one exception type for bad user input; the CLI prints it on one line and exits 2."""


class InputError(Exception):
    """A file, field or argument a user gave is wrong; the message names where and how to fix it."""
