"""GLM-4.5/4.6 `<tool_call>name⏎<arg_key>k</arg_key>⏎<arg_value>v</arg_value></tool_call>` and
GLM-4.7 (no newlines); Hunyuan HY-v3 (`name<tool_sep>`) and LongCat share the key/value markup."""
import re
from dataclasses import replace
from string import ascii_letters

from harness.detect.xml_calls import key_value_dialect, xml_format

_GLM = key_value_dialect("tool_call", "arg_key", "arg_value")
_NAME = r"<tool_call>\s*[A-Za-z_][\w.\-]*"
_NAME_START = ascii_letters + "_"  # what follows the tag (and whitespace) in every claim below

GLM45 = xml_format("glm45", ("<tool_call>",), replace(
    _GLM, claim=re.compile(_NAME + r"[ \t]*\n\s*(?:<arg_key>|</tool_call>|\Z)")), _NAME_START)
# A name cut off by the end of the text follows the tag directly and does not end a sentence
# (`Wrap calls in <tool_call> tags.` is prose).
GLM47 = xml_format("glm47", ("<tool_call>",), replace(
    _GLM, claim=re.compile(_NAME + r"(?:<arg_key>|</tool_call>)|<tool_call>[A-Za-z_](?:[\w.\-]*[\w\-])?\Z")),
    _NAME_START)
HUNYUAN = xml_format("hunyuan", ("<tool_calls>", "<tool_call>"), key_value_dialect(
    "tool_call", "arg_key", "arg_value", after_name=r"\s*<tool_sep>"), _NAME_START)
# The LongCat tag is unambiguous, so a cut-off name is still this format (malformed).
LONGCAT = xml_format("longcat", ("<longcat_tool_call>",), replace(key_value_dialect(
    "longcat_tool_call", "longcat_arg_key", "longcat_arg_value"), claim=re.compile("<longcat_tool_call>")))
