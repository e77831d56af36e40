"""What the detectors find in a model output: its calls and their format. Kept outside harness.detect (stdlib
only) so run records and reports load without the detectors and their patterns."""
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["call", "malformed", "none"]


@dataclass(slots=True)  # slots: made for every output, and faster to make and read
class ToolCall:
    """One call a model made: the tool's name and its arguments."""
    name: str
    arguments: dict | None  # None when the call was cut off before its arguments were complete


@dataclass(slots=True)
class Detection:
    """What one model output holds: its calls, their format, the outcome, and any near miss."""
    calls: list[ToolCall] = field(default_factory=list)
    format: str | None = None  # stable label such as "hermes_json", "qwen3_coder_xml"
    outcome: Outcome = "none"
    near_miss: str | None = None  # what looked like a call but is not one

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "format": self.format,
            "calls": [{"name": c.name, "arguments": c.arguments} for c in self.calls],
            "near_miss": self.near_miss,
        }
