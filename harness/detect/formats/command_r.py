"""Cohere: Command-R/R+ prompted ``Action: ```json [{"tool_name", "parameters"}] ``` `` and
Command R7B / Command A `<|START_ACTION|>[...]<|END_ACTION|>`. Command-R's pseudo-tool
`directly_answer` means "no tool", so it is not a call."""
import re

from harness.detect.json_calls import json_calls, tagged_json
from harness.detect.spec import Format, nothing, result

_ACTION = re.compile(r"Action:[ \t]*```(?:json)?\s*")


def _action(text, i, schema):
    m = _ACTION.match(text, i)
    if not m:
        return None  # a ReAct `Action: name` line
    calls, bad, end = json_calls(text, m.end())
    real = [c for c in calls if c.name != "directly_answer"]
    if calls and not real and not bad:
        return nothing(end)
    return result("command_r_action", real, bad, end)


ACTION = Format("command_r_action", ("Action:",), _action)
R7B = tagged_json("command_r7b", "<|START_ACTION|>")
