"""Nemotron-Nano-v2 `<TOOLCALL>[{...}]</TOOLCALL>` (Nemotron-3-Nano uses Qwen3-Coder XML instead)."""
from harness.detect.json_calls import tagged_json

FORMAT = tagged_json("nemotron_toolcall", "<TOOLCALL>")
