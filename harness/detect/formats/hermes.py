"""Hermes / Qwen2.5 / Qwen3 JSON in `<tool_call>` tags; the fallback owner of `<tool_call>` once the
XML, GLM and array payloads have been ruled out."""
from harness.detect.json_calls import tagged_json

FORMAT = tagged_json("hermes_json", "<tool_call>", starts="{", fallback=True)
