"""The types detectors produce, for the modules of this package (they live in harness.calls)."""
from harness.calls import Detection, Outcome, ToolCall

__all__ = ["Detection", "Outcome", "ToolCall"]
