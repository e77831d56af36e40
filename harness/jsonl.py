"""Read JSON Lines that people or other tools wrote, naming the line of any bad JSON."""
import json
from typing import Any, Iterable, Iterator

from harness.errors import InputError


def json_lines(lines: Iterable[str], where: str, hint: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line; bad JSON is an InputError at `where:LINE` with the fix."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}:{number}: not valid JSON ({e.msg} at column {e.colno}); {hint}") from None
        yield number, value
