"""Qwen3-Coder / Qwen3.5 XML `<tool_call><function=f><parameter=k>v</parameter></function></tool_call>`
(the wrapper is optional) and Seed-OSS, which wraps the same markup in `<seed:tool_call>`."""
import re

from harness.detect.xml_calls import Dialect, xml_format

QWEN_XML = Dialect(
    call_prefix="<function=",
    # A JSON body counts inside the wrapper; a bare `<function=f>{json}` is the Llama/Functionary
    # form, which the registry offers that format first.
    claim=re.compile(r"<function=[^>\n]*(?:>\s*(?:<parameter=|</function>|\{|<[\w=/]*\Z|\Z)|\Z)"),
    call_open=re.compile(r"<function=([^>\n]+)>"),
    call_close="</function>",
    param_prefix="<parameter=",
    param_open=re.compile(r"<parameter=([^>\n]+)>"),
    param_close="</parameter>",
    param_restart="\n<parameter=",  # values are raw multi-line text: a parameter left open ends at a new line's header
)

FORMAT = xml_format("qwen3_coder_xml", ("<tool_call>", "<function="), QWEN_XML)
SEED_OSS = xml_format("seed_oss", ("<seed:tool_call>",), QWEN_XML)
