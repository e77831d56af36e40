"""Granite: 3.0 `<|tool_call|>[...]`, 3.1/3.2 `<tool_call>[...]` (no closing tag), and
granite-20b-functioncalling `<function_call> {json}` repeated per call. Granite 4 is Hermes."""
from harness.detect.json_calls import tagged_json

GRANITE3 = tagged_json("granite", "<|tool_call|>")
GRANITE31 = tagged_json("granite", "<tool_call>", starts="[")
GRANITE_20B = tagged_json("granite", "<function_call>")
