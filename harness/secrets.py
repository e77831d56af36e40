"""Keep secrets (API keys, auth header values) out of everything the harness writes or prints.

A backend registers each secret it holds with `register_secret`; `redact(text)` then replaces every
registered secret, and the encodings a server or library may echo it in, with `[REDACTED]`.
"""
import base64
import json
import re
import threading
from functools import lru_cache
from typing import Iterable
from urllib.parse import quote, quote_plus

MARK = "[REDACTED]"
MIN_CHARS = 4  # shorter values would redact ordinary text; nobody's key is that short
SENSITIVE_HEADERS = ("authorization", "proxy-authorization", "api-key", "x-api-key")

_lock = threading.Lock()
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Redact `value` (and its encodings) from every later `redact` call in this process."""
    if isinstance(value, str) and len(value.strip()) >= MIN_CHARS:
        with _lock:
            _registered.add(value.strip())


def registered() -> frozenset[str]:
    with _lock:
        return frozenset(_registered)


def header_secrets(headers: dict) -> list[str]:
    """The values of auth headers, and the credential after an auth scheme (`Bearer KEY` -> KEY too)."""
    found = []
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() in SENSITIVE_HEADERS and isinstance(value, str):
            found.append(value)
            scheme, _, credential = value.partition(" ")
            if credential and scheme.isalpha():
                found.append(credential)
    return found


def forms(secret: str) -> set[str]:
    """How a secret may come back: verbatim, JSON-escaped (once or twice), URL-encoded, base64."""
    raw = secret.encode()
    b64 = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    b64 |= {b.rstrip("=") for b in b64}
    escaped = {json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    escaped |= {json.dumps(e)[1:-1] for e in escaped}  # JSON inside a JSON string, as in call arguments
    variants = {secret, *escaped, quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1], *b64}
    return {v for v in variants if len(v) >= MIN_CHARS}


@lru_cache(maxsize=64)
def _pattern(secrets: frozenset[str]) -> re.Pattern | None:
    variants = set().union(*(forms(s) for s in secrets)) if secrets else set()
    if not variants:
        return None
    # longest first, so a secret's longer encoding is replaced whole, not left half-visible
    alternatives = sorted(variants, key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in alternatives), re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every registered secret and every one of `secrets`, in any of their forms, replaced."""
    extra = {s.strip() for s in secrets if isinstance(s, str) and len(s.strip()) >= MIN_CHARS}
    pattern = _pattern(registered() | extra)
    return pattern.sub(MARK, text) if pattern and text else text


def redact_obj(obj):
    """A copy of a JSON-like value (dicts, lists, strings) with every string redacted."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {redact(k) if isinstance(k, str) else k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj
