"""Third-party text made inert for display: control characters and bidi overrides shown, not obeyed.

Why: titles, quotes and speaker names come from feeds and pages anyone can publish. Jinja's autoescape
already neutralises markup; what it lets through are characters that act on the reader's display:
terminal escapes (ESC, other C0/C1 controls) and the Unicode bidi controls (U+202A-U+202E,
U+2066-U+2069), which can reverse a title on screen ("gpj.exe" tricks). Each one is replaced by a
visible ``<U+202E>``-style marker, so the reader sees that the title contained it.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def displayable(value: object) -> str:
    """``value`` as text, with control and bidi-control characters replaced by visible markers."""
    if value is None:
        return ""
    return _UNSAFE.sub(lambda m: f"<U+{ord(m.group()):04X}>", str(value))


_TERM = re.compile(r"[\w][\w'-]*", re.UNICODE)
_OPERATORS = {"and", "or", "not"}


def query_terms(query: str) -> list[str]:
    """The words of a search query worth highlighting (operators, wildcards and field names dropped)."""
    words = [w for w in _TERM.findall(query.replace("*", " ")) if w.lower() not in _OPERATORS and len(w) > 1]
    return sorted(set(words), key=lambda w: (-len(w), w))


def highlighted(text: object, query: str) -> Markup:
    """``text`` made displayable and HTML-escaped, with the query's words wrapped in ``<mark>``."""
    plain = displayable(text)
    terms = query_terms(query)
    if not terms:
        return escape(plain)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out = Markup("")
    last = 0
    for m in pattern.finditer(plain):
        out += escape(plain[last:m.start()]) + Markup("<mark>") + escape(m.group()) + Markup("</mark>")
        last = m.end()
    return out + escape(plain[last:])
