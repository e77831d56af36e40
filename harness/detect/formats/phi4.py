"""Phi-4-mini / FireFunction-v2 `functools[{...}, ...]`."""
from harness.detect.json_calls import tagged_json

FORMAT = tagged_json("phi4_functools", "functools", starts="[")
