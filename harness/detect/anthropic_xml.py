"""Anthropic-style `<function_calls><invoke name="f"><parameter name="k">v</parameter></invoke>`;
a bare `<invoke>` without the wrapper counts too."""
from harness.detect.xml_calls import invoke_dialect, xml_format

FORMAT = xml_format("anthropic_xml", ("<function_calls>", "<invoke"), invoke_dialect())
