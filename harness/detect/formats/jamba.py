"""Jamba and Apriel-1.5: `<tool_calls>[{...}]</tool_calls>` (a JSON array)."""
from harness.detect.json_calls import tagged_json

FORMAT = tagged_json("jamba", "<tool_calls>", starts="[")
