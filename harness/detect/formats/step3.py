"""Step-3 `<steptml:invoke name="f"><steptml:parameter name="k">v</steptml:parameter></steptml:invoke>`
inside `<｜tool_calls_begin｜>…` tokens (ASCII underscores, unlike DeepSeek)."""
from harness.detect.xml_calls import invoke_dialect, xml_format

FORMAT = xml_format("step3", ("<steptml:invoke",), invoke_dialect("steptml:"))
