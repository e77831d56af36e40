"""DeepSeek: V3/R1 `<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME⏎```json⏎{…}⏎```<｜tool▁call▁end｜>`,
V3.1 `<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{…}<｜tool▁call▁end｜>`, and V3.2/V4 DSML `<｜DSML｜invoke>` markup."""
import re

from harness.detect.base import ToolCall
from harness.detect.json_calls import arguments_at
from harness.detect.spec import Format, marker_at, result, skip_ws
from harness.detect.xml_calls import invoke_dialect, xml_format

# R1 distills mangle the tokens: `▁` becomes `_`, `\_` or a space, the section token loses a
# word (`<｜tool▁calls｜>`), and the call-begin token may be left out before `function<｜tool▁sep｜>`.
_G = r"(?:[▁ ]|\\?_)"
_BEGIN = re.compile(rf"<｜tool{_G}call{_G}begin｜>")
_HEAD = re.compile(rf"([^<>\n]*?)\s*<｜tool{_G}sep｜>")
_CALL_END = re.compile(rf"\s*(?:```)?\s*(?:<｜tool{_G}call{_G}end｜>)?")
_FENCE = re.compile(r"(?:```(?:json)?)?\s*")
_SECTIONS = ("<｜tool▁calls▁begin｜>", "<｜tool_calls_begin｜>", "<｜tool calls begin｜>", "<｜tool\\_calls\\_begin｜>",
             "<｜tool▁calls｜>")
_MARKERS = _SECTIONS + ("<｜tool▁call▁begin｜>", "<｜tool_call_begin｜>")
_STEP3 = "<steptml:"  # Step-3 uses the same outer tokens around its own markup


def _parse(text, i, schema):
    marker = marker_at(text, i, _MARKERS)
    p, calls, label = i + len(marker) if marker in _SECTIONS else i, [], None
    while True:
        q = skip_ws(text, p)
        begin = _BEGIN.match(text, q)
        r = skip_ws(text, begin.end()) if begin else q
        head = _HEAD.match(text, r)
        if text.startswith(_STEP3, r) or (head and text.startswith(_STEP3, head.end())):
            return None if not calls else result(label, calls, False, q)
        if not head:  # a call begun and cut off (or garbled), or the end of the calls
            started = bool(begin) or not calls
            return result(label or "deepseek_v3", calls, started, len(text) if started else q)
        if head.group(1).strip() == "function":  # V3: the name runs to the newline, then a ```json fence
            newline = text.find("\n", head.end())
            if newline < 0:
                return result(label or "deepseek_v3", calls, True, len(text))
            name, p = text[head.end():newline].strip(), _FENCE.match(text, skip_ws(text, newline)).end()
            label = label or "deepseek_v3"
        else:
            name, p = head.group(1).strip(), skip_ws(text, head.end())
            label = label or "deepseek_v31"
        args, end = arguments_at(text, p)
        calls.append(ToolCall(name, args))
        if args is None:
            return result(label, calls, True, len(text))
        p = _CALL_END.match(text, end).end()


V3 = Format("deepseek_v3", _MARKERS, _parse)
DSML = xml_format("deepseek_dsml", ("<｜DSML｜function_calls>", "<｜DSML｜tool_calls>", "<｜DSML｜invoke"),
                  invoke_dialect("｜DSML｜"))
