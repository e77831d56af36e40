"""Text helpers for anything people read: untrusted text made printable, and figures in human units."""
import re

EXCERPT_CHARS = 80
CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def scrub(text: str) -> str:
    """Replace lone surrogates (which JSON can carry) so the text can be written as UTF-8."""
    return re.sub(r"[\ud800-\udfff]", "\ufffd", text)


def excerpt(text: str | None, width: int = EXCERPT_CHARS) -> str:
    """One printable line: newlines and other control characters escaped, cut to `width` characters."""
    text = text or ""
    head = text[: width + 1]  # escaping never shortens, so the first width + 1 characters decide the line
    line = head if head.isascii() else scrub(head)
    if not line.isprintable():  # str methods first: a regex call per excerpt was most of a large report
        for char, escaped in CONTROL_ESCAPES.items():
            line = line.replace(char, escaped)
        if not line.isprintable():
            line = _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", line)
    return line if len(line) <= width and len(head) == len(text) else line[: width - 1] + "…"


def md_code(text: str) -> str:
    """`text` as a Markdown code span fit for a table cell: nothing in it renders as Markdown or HTML."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    cell = text.replace("|", "\\|")  # GFM splits cells on pipes even inside code spans
    return f"{fence} {cell} {fence}" if text else ""


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def ci_text(ci) -> str:
    return "-" if not ci else f"{100 * ci[0]:.0f}-{100 * ci[1]:.0f}%"


def secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def p_text(p: float | None) -> str:
    """0.31, 0.05, 2e-7: two decimals down to 0.01, one significant digit below."""
    if p is None:
        return "n/a"
    if round(p, 2) >= 0.01:
        return f"{p:.2f}"
    mantissa, exponent = f"{p:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def failure_label(reason: str | None, p_call: float | None) -> str:
    """A failed case's reason with its p_call beside it when the run was probed: "no_call (p_call 0.31)",
    so a model a hair from calling reads differently from one nowhere near it ("no_call (p_call 2e-7)")."""
    return f"{reason or ''} (p_call {p_text(p_call)})".strip() if p_call is not None else reason or ""
