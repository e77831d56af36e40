"""Lenient decoding of model-written values: the C JSON decoder first, then a forgiving parser for
what models really write (Python literals, single quotes, trailing commas, raw newlines, bad
escapes, unquoted keys, token-delimited strings). Nothing is ever eval'd."""
import json
import re


class Incomplete(ValueError):
    """The text ended inside the value: the output was cut off."""


class Invalid(ValueError):
    """The text is not a value, even read leniently."""


_STRICT = json.JSONDecoder(strict=False)  # strict=False: raw newlines inside strings are accepted
# The C decoder's error counts the lines from the start of the text up to the failure, so
# failures far into a long text cost O(position): there it reads a window (a value longer than
# the window falls to the linear lenient reader).
_NEAR, _WINDOW = 4096, 1 << 16
_MAX_DEPTH = 200  # deeper nesting is rejected instead of exhausting the stack
_NUMBER = re.compile(r"[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_INT = re.compile(r"[-+]?\d[\d_]*")
_WORD = re.compile(r"[A-Za-z_$][\w$]*")
_KEY = re.compile(r"[\w$\-.]+")  # unquoted keys (Gemma 4, JavaScript-ish objects)
_WS = re.compile(r"\s*")
_CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\",
            '"': '"', "'": "'", "0": "\0"}
_CHUNK = {'"': re.compile(r'[^"\\]*'), "'": re.compile(r"[^'\\]*")}
# An object whose first key is not a JSON string (`{city: ...}`, `{'a': 1}`): the C decoder would
# fail on it, and its error costs more than this test.
_UNQUOTED_KEY = re.compile(r'\{[ \t\n\r]*[^"} \t\n\r]')
# A single-quoted string without escapes, or an integer that no fraction, exponent or `_` follows.
_SIMPLE = re.compile(r"'([^'\\]*)'|-?\d+(?![\d_.eE])")


def decode(text: str, pos: int = 0, delim: str | None = None) -> tuple[object, int]:
    """The value starting at pos and the index just after it. `delim` is a token that quotes
    strings (Gemma 4 `<|"|>`, FunctionGemma `<escape>`). Raises Incomplete or Invalid."""
    if (pos < len(text) and text[pos] in '{["' and not text.startswith('"""', pos)
            and not _UNQUOTED_KEY.match(text, pos)):
        try:
            if pos < _NEAR:
                return _STRICT.raw_decode(text, pos)
            value, end = _STRICT.raw_decode(text[pos:pos + _WINDOW])
            return value, pos + end
        except (ValueError, RecursionError):
            pass
    m = _SIMPLE.match(text, pos)  # what pythonic arguments mostly are, read as _Loose would read it
    if m and not text.startswith("'''", pos) and not (delim and text.startswith(delim, pos)):
        quoted = m.group(1)
        return (int(m.group()) if quoted is None else quoted), m.end()
    return _Loose(text, delim).value(pos, 0)


def loads(text: str) -> object:
    """The whole of text as one value (surrounding whitespace allowed)."""
    start = _WS.match(text).end()
    value, end = decode(text, start)
    if _WS.match(text, end).end() != len(text):
        raise Invalid("text after the value")
    return value


class _Loose:
    """A recursive-descent reader for JSON plus Python literals."""

    def __init__(self, text: str, delim: str | None):
        self.s = text
        self.n = len(text)
        self.delim = delim

    def ws(self, i: int) -> int:
        if i < self.n and not self.s[i].isspace():  # mostly no whitespace: skip the regex call (\s is isspace)
            return i
        i = _WS.match(self.s, i).end()
        if i >= self.n:
            raise Incomplete("end of text")
        return i

    def value(self, i: int, depth: int) -> tuple[object, int]:
        if depth > _MAX_DEPTH:
            raise Invalid("nested too deeply")
        s = self.s
        i = self.ws(i)
        c = s[i]
        if self.delim and s.startswith(self.delim, i):
            return self.delimited(i)
        if c == "{":
            return self.obj(i, depth)
        if c == "[":
            return self.arr(i, "]", depth)
        if c == "(":
            return self.arr(i, ")", depth)  # Python tuple
        if c in "\"'":
            return self.string(i)
        if c in "-+.0123456789":
            m = _NUMBER.match(s, i)
            if not m:
                raise Incomplete("end of text") if i + 1 >= self.n else Invalid("bad number")
            raw = m.group().replace("_", "")
            if _INT.fullmatch(m.group()):
                return int(raw), m.end()
            try:
                return float(raw), m.end()
            except ValueError:
                raise Invalid("bad number") from None
        m = _WORD.match(s, i)
        if m and m.group() in _CONSTANTS:
            return _CONSTANTS[m.group()], m.end()
        if m and m.end() >= self.n and any(k.startswith(m.group()) for k in _CONSTANTS):
            raise Incomplete("end of text")
        raise Invalid(f"unexpected {c!r}")

    def delimited(self, i: int) -> tuple[str, int]:
        start = i + len(self.delim)
        end = self.s.find(self.delim, start)
        if end < 0:
            raise Incomplete("unterminated string")
        return self.s[start:end], end + len(self.delim)

    def obj(self, i: int, depth: int) -> tuple[dict, int]:
        s, out = self.s, {}
        i += 1
        while True:
            i = self.ws(i)
            if s[i] == "}":
                return out, i + 1
            if s[i] in "\"'" or (self.delim and s.startswith(self.delim, i)):
                key, i = self.value(i, depth + 1)
            else:
                m = _KEY.match(s, i)
                if not m:
                    raise Invalid(f"unexpected {s[i]!r} in object")
                key, i = m.group(), m.end()
            i = self.ws(i)
            if s[i] != ":":
                raise Invalid("expected ':'")
            value, i = self.value(i + 1, depth + 1)
            out[key if isinstance(key, str) else json.dumps(key)] = value
            i = self.ws(i)
            if s[i] == ",":
                i += 1
            elif s[i] != "}":
                raise Invalid("expected ',' or '}'")

    def arr(self, i: int, close: str, depth: int) -> tuple[list, int]:
        s, out = self.s, []
        i += 1
        while True:
            i = self.ws(i)
            if s[i] == close:
                return out, i + 1
            value, i = self.value(i, depth + 1)
            out.append(value)
            i = self.ws(i)
            if s[i] == ",":
                i += 1
            elif s[i] != close:
                raise Invalid(f"expected ',' or {close!r}")

    def string(self, i: int) -> tuple[str, int]:
        s, q = self.s, self.s[i]
        if s.startswith(q * 3, i):  # Python triple-quoted string: no escapes inside
            end = s.find(q * 3, i + 3)
            if end < 0:
                raise Incomplete("unterminated string")
            return s[i + 3:end], end + 3
        parts, chunk = [], _CHUNK[q]
        i += 1
        while True:
            m = chunk.match(s, i)
            parts.append(m.group())
            i = m.end()
            if i >= self.n:
                raise Incomplete("unterminated string")
            if s[i] == q:
                return "".join(parts), i + 1
            if i + 1 >= self.n:
                raise Incomplete("unterminated string")
            esc = s[i + 1]
            if esc == "u":
                char, i = self.unicode(i)
                parts.append(char)
            else:
                parts.append(_ESCAPES.get(esc, "\\" + esc))  # an unknown escape such as \d stays as written
                i += 2

    def unicode(self, i: int) -> tuple[str, int]:
        digits = self.s[i + 2:i + 6]
        if len(digits) < 4:
            raise Incomplete("unterminated escape")
        try:
            code = int(digits, 16)
        except ValueError:
            return "\\u", i + 2
        if 0xD800 <= code < 0xDC00 and self.s.startswith("\\u", i + 6):
            try:
                low = int(self.s[i + 8:i + 12], 16)
            except ValueError:
                low = 0
            if 0xDC00 <= low < 0xE000:
                return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), i + 12
        if 0xD800 <= code < 0xE000:
            return "\ufffd", i + 6  # a lone surrogate cannot be written out as UTF-8
        return chr(code), i + 6
