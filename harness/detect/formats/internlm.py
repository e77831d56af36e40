"""InternLM2/2.5 `<|action_start|><|plugin|>{"name": ..., "parameters": {...}}<|action_end|>`."""
from harness.detect.json_calls import tagged_json

FORMAT = tagged_json("internlm", "<|action_start|><|plugin|>", starts="{")
