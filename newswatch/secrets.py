"""Secret values seen while expanding ``${VAR}`` in the config, and the one redactor of the code base.

Why: apprise URLs carry tokens (``slack://T000/B000/XXXX``), feed URLs can carry API keys. Every
string that leaves the process (logs, warehouse rows, error messages) goes through ``redacted()`` or,
for a URL shown to the operator, ``redacted_url()`` (which also drops the query and userinfo).

A secret rarely leaves in the form it was read: an HTTP client percent-encodes it in a path
(``tok%E2%82%ACn``, ``%20`` or ``+`` for a space, upper- or lower-case hex, sometimes twice), a host name is lower-cased
and IDNA-encoded (``xn--...``), a JSON payload escapes it (``\\u20ac``). Matching only the raw text
would let every one of those through, so each secret is compiled into one pattern that accepts, per
character, the character in either case, its percent-encoded UTF-8 bytes and its JSON escapes, plus the
punycode forms of the whole value.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit, urlunsplit

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None
# Tokens shorter than this are not treated as secrets: masking "1" or "on" everywhere would garble logs.
_MIN_SECRET_LEN = 4
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
MASK = "***"


def register(value: str) -> None:
    """Remember a value read from the environment so it can be masked later."""
    global _pattern
    if len(value) >= _MIN_SECRET_LEN:
        with _lock:
            if value not in _values:
                _values.add(value)
                _pattern = None


def _json_escapes(ch: str) -> list[str]:
    """How JSON encoders may write ``ch``: ``\\uXXXX`` (a surrogate pair above the BMP) or a short escape."""
    code = ord(ch)
    if code > 0xFFFF:
        code -= 0x10000
        forms = [f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"]
    else:
        forms = [f"\\u{code:04x}"]
    short = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(ch)
    return forms + ([short] if short else [])


def _char_pattern(ch: str) -> str:
    """Every form one character of a secret can take, as a regex alternation (used case-insensitively)."""
    forms: set[str] = set()
    for variant in {ch, ch.lower(), ch.upper()}:
        if len(variant) != 1:  # "ß".upper() == "SS": the raw character still matches case-insensitively
            continue
        forms.add(re.escape(variant))
        forms.add("".join(f"(?:%25|%){b:02x}" for b in variant.encode("utf-8")))  # once or twice encoded
        forms.update(re.escape(e) for e in _json_escapes(variant))
    if ch == " ":
        forms.add(r"\+")
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


def _whole_value_forms(value: str) -> list[str]:
    """Encodings that transform the value as a whole rather than per character (IDNA/punycode)."""
    forms: list[str] = []
    for v in {value, value.lower()}:
        try:
            forms.append(v.encode("idna").decode("ascii"))
        except UnicodeError:
            pass
        try:
            labels = [("xn--" + lab.encode("punycode").decode("ascii")) if not lab.isascii() else lab
                      for lab in v.split(".")]
            forms.append(".".join(labels))
        except UnicodeError:
            pass
    return [re.escape(f) for f in forms if f and f.lower() != value.lower()]


def _compiled() -> re.Pattern[str] | None:
    global _pattern
    with _lock:
        if _pattern is None and _values:
            alternatives: list[str] = []
            for v in sorted(_values, key=len, reverse=True):
                alternatives += _whole_value_forms(v)
                alternatives.append("".join(_char_pattern(c) for c in v))
            _pattern = re.compile("|".join(alternatives), re.IGNORECASE)
        return _pattern


def redacted(text: str) -> str:
    """``text`` with registered secrets, in any of their encodings, replaced by ``***`` and URL userinfo removed."""
    pattern = _compiled()
    if pattern is not None:
        text = pattern.sub(MASK, text)
    return _URL_USERINFO.sub(rf"\g<scheme>{MASK}@", text)


def redacted_url(url: str) -> str:
    """``url`` safe for logs and error messages: no userinfo, query string or fragment, no secret.

    A query string is replaced by ``?[redacted]`` so the reader still sees that there was one.
    """
    text = str(url).strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if not parts.scheme or not parts.netloc:
        return redacted(re.split(r"[?#]", text.rsplit("@", 1)[-1], maxsplit=1)[0][:200])
    host = parts.hostname or ""
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    out = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return redacted(out)[:300] + ("?[redacted]" if parts.query else "")


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record (installed on the root handlers by the CLI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redacted(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True
