"""Search queries: which articles a full-text index must return for a topic query, and the snippet of a hit.

Why: ``newswatch search`` speaks the topic query language (``transform/topics.py``), and its answers must
be exactly what the topic matcher says about the warehouse's text. An index cannot reproduce the
matcher's word boundaries, phrase separators and exclusions exactly, so it is only asked for a
*superset*: ``candidate_plan`` keeps every positive term (a phrase stays a phrase, whose words an index
can find next to each other) and drops what an index could get wrong in the other direction. A ``NOT``
cannot be handed to the index (a phrase the index finds may not be one the matcher accepts, and
excluding it would lose a true match), and neither can a term in a script without word boundaries
(the matcher finds it inside longer runs, an index only at token starts). Every candidate is then
checked with ``matched_terms``; precision and recall are the matcher's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from transform.topics import And, Node, Not, Or, Term, TopicQuery, folded_text, has_unspaced_script

# Characters of context kept on each side of the first match in a snippet: about two lines of a
# terminal, enough to read the sentence around the term.
SNIPPET_CONTEXT = 90
# How a matched term is marked in a snippet (Markdown bold: readable as is in a terminal, a CSV cell
# or JSON, and rendered by most chat tools and notebooks).
HIGHLIGHT_OPEN = "**"
HIGHLIGHT_CLOSE = "**"
ELLIPSIS = "\u2026"


@dataclass(frozen=True, slots=True)
class Phrase:
    """A term for the index: folded like the matcher folds, ``*`` kept at the end of wildcard words."""

    folded: str


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every part must be present."""

    parts: tuple[Plan, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one part must be present."""

    parts: tuple[Plan, ...]


# None: the index cannot narrow this part down, every article is a candidate.
Plan: TypeAlias = Phrase | AllOf | AnyOf | None


def candidate_plan(node: Node) -> Plan:
    """What the index must find so that no article matching ``node`` is missed (a superset).

    Args:
        node: a compiled query's tree (``TopicQuery.root``).
    Returns:
        The plan, or None when the index cannot narrow the query (every article is a candidate).
    """
    if isinstance(node, Term):
        folded = folded_text(node.text)
        return None if has_unspaced_script(folded) else Phrase(folded)
    if isinstance(node, Not):
        return None
    parts = [candidate_plan(c) for c in node.children]
    if isinstance(node, And):
        kept = tuple(p for p in parts if p is not None)
        return None if not kept else kept[0] if len(kept) == 1 else AllOf(kept)
    assert isinstance(node, Or)
    if any(p is None for p in parts):
        return None
    return AnyOf(tuple(parts))


def wildcard_pieces(phrase: Phrase) -> list[tuple[str, bool]]:
    """The phrase cut after each wildcard: ``(piece, last word of the piece is a wildcard)``.

    ``"nuclear talk* now"`` gives ``[("nuclear talk", True), (" now", False)]``; the parser only
    accepts a ``*`` right after a word, so the word before each cut is the wildcard one.
    """
    pieces = phrase.folded.split("*")
    out = [(p, i < len(pieces) - 1) for i, p in enumerate(pieces)]
    return [(p, wild) for p, wild in out if p.strip() or wild]


def _folded_with_offsets(s: str) -> tuple[str, list[int] | None]:
    """``s`` folded, and for each folded character the index of the character of ``s`` it came from.

    Folding one character at a time gives the matcher's folding (case folding, accent stripping and
    the special letters are all per character), and keeps the way back to the original text.
    """
    if s.isascii():
        return s.lower(), None
    parts: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(s):
        f = folded_text(ch)
        parts.append(f)
        origin.extend([i] * len(f))
    return "".join(parts), origin


def _spans(text: str, terms: list[Term]) -> list[tuple[int, int]]:
    """Non-overlapping spans of ``text`` (original offsets) where any of ``terms`` matches."""
    folded, origin = _folded_with_offsets(text)
    found: list[tuple[int, int]] = []
    for t in terms:
        found += [(m.start(), m.end()) for m in t.regex.finditer(folded) if m.end() > m.start()]
    found.sort()
    spans: list[tuple[int, int]] = []
    for start, end in found:
        if spans and start < spans[-1][1]:
            continue
        spans.append((start, end))
    if origin is None:
        return spans
    return [(origin[s], origin[e - 1] + 1) for s, e in spans]


def _highlighted(text: str, spans: list[tuple[int, int]], lo: int, hi: int) -> str:
    out: list[str] = []
    pos = lo
    for s, e in spans:
        if s < lo or e > hi:
            continue
        out += [text[pos:s], HIGHLIGHT_OPEN, text[s:e], HIGHLIGHT_CLOSE]
        pos = e
    out.append(text[pos:hi])
    return " ".join("".join(out).split())


def _word_start(text: str, i: int) -> int:
    """``i`` moved forward to the start of a word (so a snippet never opens mid-word)."""
    if i <= 0:
        return 0
    m = re.compile(r"\s").search(text, i)
    return m.end() if m and m.end() - i < 20 else i


def _word_end(text: str, i: int) -> int:
    if i >= len(text):
        return len(text)
    j = text.rfind(" ", 0, i)
    return j if j > 0 and i - j < 20 else i


def snippet(query: TopicQuery, matched: tuple[str, ...], title: str | None, text: str,
            context: int = SNIPPET_CONTEXT) -> str:
    """A keyword-in-context snippet: the text around its first match, every matched term marked.

    Args:
        query: the compiled query.
        matched: what ``matched_terms`` returned for the article (the terms that made it match).
        title: the article's title; the snippet falls back to it when no term is in the text.
        text: the article's text.
        context: characters kept on each side of the first match.
    Returns:
        The snippet, with ``…`` where it was cut and each match between ``**``.
    """
    wanted = set(matched)
    terms = [t for t in query.terms if t.text in wanted]
    spans = _spans(text, terms)
    if not spans:
        head = _word_end(text, 2 * context)
        title_part = _highlighted(title or "", _spans(title or "", terms), 0, len(title or ""))
        body = " ".join(text[:head].split()) + (ELLIPSIS if head < len(text) else "")
        return f"{title_part}: {body}" if body else title_part
    first_start, first_end = spans[0]
    lo = _word_start(text, first_start - context)
    hi = _word_end(text, first_end + context)
    lo, hi = min(lo, first_start), max(hi, first_end)
    return (ELLIPSIS if lo > 0 else "") + _highlighted(text, spans, lo, hi) + (ELLIPSIS if hi < len(text) else "")
