"""Settings declared once, checked once: each key of a models.toml entry (common or a backend's own) has a
type and a range, and a command-line flag that overrides it goes through the same check."""
import math
from dataclasses import dataclass
from typing import Any

from harness.errors import InputError


@dataclass(frozen=True)
class Option:
    """One setting's type and allowed values, checked once for files and flags alike."""
    type: type | tuple  # str, int, bool, dict, list, or (int, float) for a number
    help: str = ""
    min: float | None = None
    max: float | None = None
    exclusive_min: bool = False  # min itself is out of range (top_p > 0)
    choices: tuple | None = None
    required: bool = False


TYPE_NAMES = {str: "a string", int: "an integer", (int, float): "a number", bool: "true or false", dict: "a table",
              list: "a list"}


def check(key: str, value: Any, option: Option, where: str) -> Any:
    """`value` if it fits `option`, else an InputError naming the key, what it must be and what it got."""
    wrong = problem(value, option)
    if wrong:
        raise InputError(f"{where}: '{key}' {wrong}")
    return value


def problem(value: Any, option: Option) -> str | None:
    """What is wrong with `value` for `option`, as the end of a sentence; None when it fits."""
    if (isinstance(value, bool) and option.type is not bool) or not isinstance(value, option.type):
        return f"must be {TYPE_NAMES.get(option.type, option.type)}, got {value!r}"
    if option.choices is not None and value not in option.choices:
        return f"must be one of {', '.join(map(str, option.choices))}, got {value!r}"
    is_number = option.type in (int, (int, float))
    if is_number and not math.isfinite(value):  # nan passes every comparison; inf is no setting
        return f"must be a finite number, got {value!r}"
    if is_number and (too_low(value, option) or (option.max is not None and value > option.max)):
        return f"must be {range_text(option)}, got {value!r}"
    return None


def too_low(value: float, option: Option) -> bool:
    if option.min is None:
        return False
    return value <= option.min if option.exclusive_min else value < option.min


def range_text(option: Option) -> str:
    low = None if option.min is None else f"{'>' if option.exclusive_min else '>='} {option.min:g}"
    high = None if option.max is None else f"<= {option.max:g}"
    return " and ".join(x for x in (low, high) if x)


def check_entry(entry: dict, declared: dict[str, Option], where: str, what: str) -> None:
    """Unknown keys, missing required keys, then each value."""
    for key in entry:
        if key not in declared:
            raise InputError(f"{where}: unknown key '{key}' for {what}; allowed: {', '.join(declared)}")
    for key, option in declared.items():
        if option.required and key not in entry:
            raise InputError(f"{where}: missing key '{key}', which {what} needs")
        if key in entry:
            check(key, entry[key], option, where)


def flag_type(option: Option):
    """An argparse `type=` that applies the same check to a command-line value."""
    import argparse

    def parse(text: str):
        try:
            value = option.type(text) if option.type in (int, str) else float(text)
        except ValueError:
            value = text
        wrong = problem(value, option)
        if wrong:
            raise argparse.ArgumentTypeError(wrong)
        return value
    return parse
