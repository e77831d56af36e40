"""DeepSeek: V3/R1 `<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME⏎```json⏎{…}⏎```<｜tool▁call▁end｜>`,
V3.1 `<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{…}<｜tool▁call▁end｜>`, and V3.2/V4 DSML `<｜DSML｜invoke>` markup."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at
from harness.detect.spec import Format, result, skip_ws
from harness.detect.xml_calls import invoke_dialect, xml_format

# Distills mangle the tokens: `▁` becomes `_` or a space, or the tokens lose a word.
_CALL = re.compile(r"<｜tool[▁_ ]call[▁_ ]begin｜>")
_SEP = re.compile(r"<｜tool[▁_ ]sep｜>")
_FENCE = re.compile(r"(?:```(?:json)?)?\s*")
_MARKERS = ("<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜tool_calls_begin｜>", "<｜tool_call_begin｜>",
            "<｜tool calls begin｜>", "<｜tool▁calls｜>")


def _parse(text, i, schema):
    calls, bad, label = [], False, None
    m = _CALL.search(text, i)
    if m is None:
        return result("deepseek_v3", [], True)  # the section opened and was cut off
    while m:
        sep = _SEP.search(text, m.end())
        if sep is None:  # the name may be cut off
            bad = True
            break
        head = text[m.end():sep.start()].strip()
        if text.startswith("<steptml:", sep.end()):
            return None  # Step-3 uses the same outer tokens
        if head == "function":  # V3: the name runs to the newline, then a ```json fence
            newline = text.find("\n", sep.end())
            if newline < 0:
                bad = True
                break
            name, p = text[sep.end():newline].strip(), _FENCE.match(text, skip_ws(text, newline)).end()
            label = label or "deepseek_v3"
        else:
            name, p = head, skip_ws(text, sep.end())
            label = label or "deepseek_v31"
        args, end = arguments_at(text, p)
        calls.append(ToolCall(name, args))
        bad = bad or args is None
        m = _CALL.search(text, end)
    return result(label or "deepseek_v3", calls, bad)


V3 = Format("deepseek_v3", _MARKERS, _parse)
DSML = xml_format("deepseek_dsml", ("<｜DSML｜function_calls>", "<｜DSML｜tool_calls>", "<｜DSML｜invoke"),
                  invoke_dialect("｜DSML｜"))
