"""MiniMax: M1 `<tool_calls>` with one JSON object per line; M2 `<minimax:tool_call>` wrapping
Anthropic-style `<invoke>` markup."""
from harness.detect.json_calls import tagged_json
from harness.detect.xml_calls import invoke_dialect, xml_format

M1 = tagged_json("minimax_m1", "<tool_calls>", starts="{", per_line=True)  # a broken line costs only itself
M2 = xml_format("minimax_m2", ("<minimax:tool_call>",), invoke_dialect())
