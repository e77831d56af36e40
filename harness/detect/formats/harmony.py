"""GPT-OSS harmony: messages `<|channel|>CH [to=RECIPIENT] [<|constrain|>json]<|message|>BODY<|end|>`;
a message with a recipient is a call (`to=functions.NAME`, or a built-in such as `to=python`).
Analysis messages without a recipient were already removed as reasoning; a message from a tool
back to the assistant (`<|start|>functions.X to=assistant`) is a tool result, not a call."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import as_arguments
from harness.detect.lenient import loads
from harness.detect.spec import Format, nothing, result

_MESSAGE = "<|message|>"
_RECIPIENT = re.compile(r"to=([^\s<]+)(?=\s|<)")
_END = re.compile(r"<\|(?:end|call|return|start)\|>")
_ROLES = ("assistant", "user", "system", "developer")  # recipients that are not tools


def _call(recipient: str, body: str, closed: bool) -> ToolCall:
    name = recipient.removeprefix("functions.")
    if not body.strip():
        return ToolCall(name, {} if closed else None)
    try:
        args = as_arguments(loads(body))
    except ValueError:
        args = None
    if args is None and not recipient.startswith("functions.") and closed:
        args = {"code": body}  # built-ins such as `to=python` take raw code
    return ToolCall(name, args)


def _parse(text, i, schema):
    calls, bad, seen, pos = [], False, False, i
    while pos < len(text):
        m = text.find(_MESSAGE, pos)
        header = text[pos:m if m >= 0 else len(text)]
        # up to and including the `<` of <|message|>, which ends a recipient name
        recipient = _RECIPIENT.search(text, pos, m + 1 if m >= 0 else len(text))
        if recipient and recipient.group(1) in _ROLES:
            recipient = None
        if m < 0:  # a header cut off before its body
            if recipient or ("to=" in header and not _RECIPIENT.search(header)):
                seen, bad = True, True
                if recipient:
                    calls.append(ToolCall(recipient.group(1).removeprefix("functions."), None))
            break
        end = _END.search(text, m + len(_MESSAGE))
        body = text[m + len(_MESSAGE):end.start() if end else len(text)]
        if recipient:
            seen = True
            call = _call(recipient.group(1), body, end is not None)
            calls.append(call)
            bad = bad or call.arguments is None
        pos = end.end() if end else len(text)
    if not seen:
        return nothing(len(text))  # harmony without a recipient: an answer, no call
    return result("harmony", calls, bad, len(text))


FORMAT = Format("harmony", ("<|channel|>", "<|start|>", _MESSAGE), _parse)
