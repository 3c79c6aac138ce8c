"""Topic queries: the news-alert query language, compiled once and matched against every article.

Why: a topic is evaluated on every article (a dozen topics times ~5k characters of text), and a bad
query must be a config error that points at the character, never a topic that silently matches
nothing. So a query is parsed once into a small tree whose terms are regexes compiled once, and an
article is matched by short-circuit evaluation over a folded copy of its title and text, folded once
and shared by every topic (``bench/topics.py`` measures it).

Syntax
- ``summit``: a word, matched as a whole word: ``Kim`` does not match "Kimberly", ``Korea`` does
  match "Korea's".
- ``"Kim Jong Un"``: a phrase, in straight or curly double quotes (``"``, ``“ ”``, ``„``, ``« »``).
  Its words must follow each other separated only by spaces, hyphens or dashes, so "Jong Un" matches
  "Jong-un" and "Jong  Un" but not "Jong, Un". A hyphenated word is a phrase: ``Jong-un`` is
  ``"Jong Un"``. Single quotes are apostrophes, not phrase quotes (``'North Korea'`` is an error).
- ``sport*``: a trailing wildcard matches any ending: sport, sports, sportsman (not "transport").
  It may end any word, also inside a phrase (``"nuclear talk*"``); a ``*`` anywhere else is an error.
- ``AND``, ``OR``, ``NOT`` in capitals are operators; lower-case ``and``/``or``/``not`` are ordinary
  words (quote ``"OR"`` to look for Oregon). Two terms side by side mean AND, as in search engines.
  ``-term`` (also ``-"phrase"``, ``-(group)``) is short for ``NOT term``. Parentheses group.
- Joined by operators, the usual Boolean precedence holds, tightest first: ``NOT``/``-``, ``AND`` (or
  a space), ``OR``. So ``a OR NOT b AND c`` is ``a OR ((NOT b) AND c)``, ``a NOT b OR c`` is
  ``(a AND NOT b) OR c``.
- Exclusions, search-engine style: a ``NOT x`` or ``-x`` with no ``AND``/``OR`` right before or after
  it excludes ``x`` from its whole group (the query, or the parentheses it stands in), wherever it is
  written: ``a OR b NOT c`` and ``-c a OR b`` both mean ``(a OR b) AND NOT c``. So the SPEC example
  ``"Kim Jong Un" OR ("North Korea" AND (summit OR talks)) NOT sport*`` drops sport articles from
  both alternatives. Either way ``a NOT b`` means ``a AND NOT b``.
- A query that would match an article containing none of its terms (``NOT sport``, ``a OR NOT b``)
  is rejected: it would match nearly every article.
- ``parenthesized_query`` shows how a query was read, with every implicit AND and group written out.

Matching
- Over the title and the text; a phrase never spans the two.
- Case: full Unicode case folding (``Straße`` = ``STRASSE``). Accents are ignored on both sides
  (``Zurich`` = ``Zürich``, ``Pokemon`` = ``Pokémon``; ``ø ł đ æ œ`` fold to ``o l d ae oe``). The price
  is that a few words differing only by an accent collide (Spanish año/ano); we judged missed
  matches on unaccented English spellings of foreign names the worse failure for news monitoring.
- Apostrophes ``' ’ ‘ ʼ`` are one character (``O'Brien`` = ``O’Brien``); soft hyphens are ignored.
- Scripts written without spaces between words (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) and
  Korean (whose particles attach to nouns) have no word boundaries: such a term matches inside
  longer runs.
- Matched terms are the terms that made the article match, as written in the query (phrases without
  quotes), each once, in query order: for ``a OR (b AND c)`` an article with a and b but no c gives
  ``("a",)``. Terms under NOT never appear (except under a double negation, where they are positive).
- Not supported: proximity (NEAR), fields (``title:``), ``?`` wildcards, leading wildcards, stemming.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeAlias

__all__ = [
    "QuerySyntaxError", "TopicQuery", "compiled_query", "folded_text", "has_unspaced_script", "matched_terms",
    "parenthesized_query",
]


# Between the words of a phrase (and inside a hyphenated word): spaces, hyphens, dashes, minus.
_SEP = r"[\s\-\u2010-\u2015\u2212]"
_SEP_RE = re.compile(_SEP)
_SEP_RUN = _SEP + "+"
_WORD_CHAR = re.compile(r"\w")
# Scripts without spaces between words, and Hangul (particles attach to nouns): no word boundaries.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3040-\u30ff\u3130-\u318f"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003ffff]"
)
# Combining diacritics of Latin, Greek and Cyrillic only: marks of other scripts (Devanagari vowel
# signs, Arabic harakat) carry meaning and are kept.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
# Folded to one spelling: apostrophe-likes to "'", soft hyphen and zero-width characters dropped, and
# the letters Unicode does not decompose into base + accent. A regex with a callback, not
# str.translate: on bench/topics.py's accented 5k-char texts translate took 457 us, the regex 75 us.
_SPECIAL = {
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u02bc": "'", "\u02bb": "'", "\u2032": "'", "\u00b4": "'",
    "\u00ad": "", "\u200b": "", "\u2060": "", "\ufeff": "",
    "\u00f8": "o", "\u0142": "l", "\u0111": "d", "\u00f0": "d", "\u0127": "h", "\u0131": "i",
    "\u00e6": "ae", "\u0153": "oe", "\u00fe": "th",
}
_SPECIAL_RE = re.compile("[" + "".join(_SPECIAL) + "]")
# Joins the folded title and text: neither a word character nor a phrase separator, so no phrase
# or word spans the two.
_TITLE_TEXT_JOIN = "\n\x00\n"


class QuerySyntaxError(ValueError):
    """A topic query that cannot be compiled; ``position`` is the 0-based index of the culprit."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"{self.message} at position {self.position}"


@dataclass(frozen=True, slots=True)
class Term:
    """A word, phrase or wildcard; ``key`` (its regex) identifies it, ``text`` is how it was written."""

    text: str
    quoted: bool
    position: int
    key: str
    regex: re.Pattern[str]

    def value(self, hay: str, memo: dict[str, bool]) -> bool:
        found = memo.get(self.key)
        if found is None:
            found = memo[self.key] = self.regex.search(hay) is not None
        return found

    def evidence(self, want: bool, hay: str, memo: dict[str, bool], out: set[str]) -> None:
        if want:
            out.add(self.key)


@dataclass(frozen=True, slots=True)
class Not:
    """True when its child is false."""

    child: Node

    def value(self, hay: str, memo: dict[str, bool]) -> bool:
        return not self.child.value(hay, memo)

    def evidence(self, want: bool, hay: str, memo: dict[str, bool], out: set[str]) -> None:
        self.child.evidence(not want, hay, memo, out)


@dataclass(frozen=True, slots=True)
class And:
    """True when all its children are."""

    children: tuple[Node, ...]

    def value(self, hay: str, memo: dict[str, bool]) -> bool:
        return all(c.value(hay, memo) for c in self.children)

    def evidence(self, want: bool, hay: str, memo: dict[str, bool], out: set[str]) -> None:
        # True: every child contributed. False: only the children that are false did.
        for c in self.children:
            if want or not c.value(hay, memo):
                c.evidence(want, hay, memo, out)


@dataclass(frozen=True, slots=True)
class Or:
    """True when any of its children is."""

    children: tuple[Node, ...]

    def value(self, hay: str, memo: dict[str, bool]) -> bool:
        return any(c.value(hay, memo) for c in self.children)

    def evidence(self, want: bool, hay: str, memo: dict[str, bool], out: set[str]) -> None:
        for c in self.children:
            if not want or c.value(hay, memo):
                c.evidence(want, hay, memo, out)


Node: TypeAlias = Term | Not | And | Or


@dataclass(frozen=True, slots=True)
class TopicQuery:
    """A compiled topic query (picklable, so it can travel to worker processes).

    Attributes:
        source: the query as written in the config.
        root: the expression tree.
        terms: the distinct terms that can appear in ``matched_terms``, in query order.
    """

    source: str
    root: Node
    terms: tuple[Term, ...]


def compiled_query(source: str) -> TopicQuery:
    """Parse and compile a topic query (syntax in the module docstring).

    Args:
        source: the query as written in the config.
    Returns:
        The compiled query, to be passed to ``matched_terms`` for every article.
    Raises:
        QuerySyntaxError: the query is invalid; ``position`` points at the offending character.
    """

    root = parsed_tree(source)
    if root.value("", {}):
        hint = "each OR alternative needs a term not under NOT"
        raise QuerySyntaxError(f"query matches articles that contain none of its terms ({hint})", 0)
    seen: dict[str, Term] = {}
    for term in sorted(_positive_terms(root, True), key=lambda t: t.position):
        seen.setdefault(term.key, term)
    return TopicQuery(source, root, tuple(seen.values()))


def matched_terms(query: TopicQuery, title: str | None, text: str) -> tuple[str, ...] | None:
    """The terms of ``query`` that make the article match, or None when it does not match.

    Args:
        query: from ``compiled_query``.
        title: the article's title (None when it has none).
        text: the article's cleaned text.
    Returns:
        None when the article does not match; otherwise the terms that made it match, as written in
        the query (phrases without their quotes), de-duplicated, in query order. Terms under NOT never
        appear.
    """
    hay = _haystack(title or "", text)
    memo: dict[str, bool] = {}
    if not query.root.value(hay, memo):
        return None
    keys: set[str] = set()
    query.root.evidence(True, hay, memo, keys)
    return tuple(t.text for t in query.terms if t.key in keys)


def parenthesized_query(query: TopicQuery) -> str:
    """The query with every implicit AND and every grouping written out, to show how it was read.

    ``'"Kim Jong Un" OR ("North Korea" AND (summit OR talks)) NOT sport*'`` gives
    ``'("Kim Jong Un" OR ("North Korea" AND (summit OR talks))) AND NOT sport*'``.
    """
    return _rendered(query.root, top=True)


def _rendered(node: Node, top: bool = False) -> str:
    if isinstance(node, Term):
        return f'"{node.text}"' if node.quoted else node.text
    if isinstance(node, Not):
        return "NOT " + _rendered(node.child)
    inner = (" AND " if isinstance(node, And) else " OR ").join(_rendered(c) for c in node.children)
    return inner if top else f"({inner})"


def _positive_terms(node: Node, positive: bool) -> list[Term]:
    """Terms under an even number of NOTs: the only ones that can help an article match."""
    if isinstance(node, Term):
        return [node] if positive else []
    if isinstance(node, Not):
        return _positive_terms(node.child, not positive)
    return [t for c in node.children for t in _positive_terms(c, positive)]


def _folded(s: str) -> str:
    """``s`` case-folded, accent-stripped and with apostrophes unified (identical for query and text)."""
    if s.isascii():
        return s.lower()
    s = _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group()], s.casefold())
    return _MARKS.sub("", unicodedata.normalize("NFKD", s))


@lru_cache(maxsize=32)
def _haystack(title: str, text: str) -> str:
    """The folded title and text of one article, cached so the dozen topics fold it only once."""
    return _folded(title) + _TITLE_TEXT_JOIN + _folded(text)


def _bounded(ch: str) -> bool:
    """Whether a term edge on ``ch`` must sit on a word boundary."""
    return _WORD_CHAR.match(ch) is not None and _UNSPACED.match(ch) is None


def compiled_term(raw: str, position: int, quoted: bool) -> Term:
    """Build the regex of one word or phrase written as ``raw`` at ``position`` (of ``raw[0]``)."""
    for i, ch in enumerate(raw):
        if ch == "*":
            at_word_end = i + 1 == len(raw) or _SEP_RE.match(raw[i + 1]) is not None
            after_letter = i > 0 and raw[i - 1] != "*" and _SEP_RE.match(raw[i - 1]) is None
            if not (at_word_end and after_letter):
                raise QuerySyntaxError('"*" is only allowed at the end of a word (as in sport*)', position + i)
    at = position - 1 if quoted else position
    if not raw.strip():
        raise QuerySyntaxError("empty phrase", at)
    if _WORD_CHAR.search(raw) is None:
        hint = " (operators are AND, OR, NOT in capitals)" if raw in ("&", "&&", "|", "||", "!") else ""
        raise QuerySyntaxError(f'term "{raw}" has no letters or digits{hint}', at)
    words = [(_folded(w.rstrip("*")), w.endswith("*")) for w in _SEP_RE.split(raw) if w]
    words = [(w, wild) for w, wild in words if w]
    first, first_wild = words[0]
    esc = re.escape(first)
    # The boundary check goes *after* the first word, not before it, so that the regex starts with a
    # literal and keeps re's fast prefix scan: measured 3 us instead of 64 us per 5.6k-char text.
    parts = [esc + (f"(?<!\\w{esc})" if _bounded(first[0]) else "") + ("\\w*" if first_wild else "")]
    parts += [re.escape(w) + ("\\w*" if wild else "") for w, wild in words[1:]]
    last, last_wild = words[-1]
    pattern = _SEP_RUN.join(parts) + ("" if last_wild or not _bounded(last[-1]) else "(?!\\w)")
    text = " ".join(raw.split()) if quoted else raw
    return Term(text, quoted, position, pattern, re.compile(pattern))


# The tokenizer and recursive-descent parser. Parsing runs once per topic at start-up; matching, above,
# runs on every article.
# Deep enough for any hand-written query, shallow enough that parsing and evaluation (both recursive)
# stay far from Python's recursion limit of 1000 frames (each level costs at most 3 frames).
MAX_DEPTH = 100
# Marks that open or close a phrase; single quotes are apostrophes (an error at a word's start).
_QUOTES = "\"\u201c\u201d\u201e\u201f\u00ab\u00bb"
_SINGLE_QUOTES = "'\u2018"
_OPERATORS = {"AND", "OR", "NOT"}
_BARE_WORD = re.compile(rf"[^\s(){_QUOTES}]+")


def parsed_tree(source: str) -> Node:
    """The expression tree of ``source``.

    Raises:
        QuerySyntaxError: the query is invalid; ``position`` points at the offending character.
    """
    return _Parser(source).parsed()


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # TERM, PHRASE, AND, OR, NOT, MINUS, LPAREN, RPAREN, END
    text: str
    position: int


def _tokens(source: str) -> list[_Token]:
    """Split ``source`` into tokens, rejecting what can be rejected without context."""
    out: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            out.append(_Token("LPAREN" if ch == "(" else "RPAREN", ch, i))
            i += 1
        elif ch in _QUOTES:
            end = next((j for j in range(i + 1, n) if source[j] in _QUOTES), -1)
            if end < 0:
                raise QuerySyntaxError("unclosed quote", i)
            out.append(_Token("PHRASE", source[i + 1 : end], i + 1))
            i = end + 1
        elif ch == "-":
            if i + 1 == n or source[i + 1].isspace() or source[i + 1] == ")":
                raise QuerySyntaxError('"-" must be followed directly by the term to exclude', i)
            out.append(_Token("MINUS", ch, i))
            i += 1
        else:
            m = _BARE_WORD.match(source, i)
            assert m is not None  # ch is none of the characters the pattern excludes
            word = m.group()
            if word in _OPERATORS:
                out.append(_Token(word, word, i))
            elif word[0] in _SINGLE_QUOTES:
                raise QuerySyntaxError("single quotes do not make a phrase (use double quotes)", i)
            else:
                out.append(_Token("TERM", word, i))
            i = m.end()
    out.append(_Token("END", "", n))
    return out


def _and(nodes: list[Node]) -> Node:
    flat = tuple(g for x in nodes for g in (x.children if isinstance(x, And) else (x,)))
    return flat[0] if len(flat) == 1 else And(flat)


def _or(nodes: list[Node]) -> Node:
    flat = tuple(g for x in nodes for g in (x.children if isinstance(x, Or) else (x,)))
    return flat[0] if len(flat) == 1 else Or(flat)


class _Parser:
    """Recursive descent over the tokens; see the module docstring for the grammar it implements."""

    def __init__(self, source: str) -> None:
        self.tokens = _tokens(source)
        self.i = 0

    def parsed(self) -> Node:
        if self.tokens[0].kind == "END":
            raise QuerySyntaxError("empty query", 0)
        return self._group(None, 0)

    def _peek(self) -> _Token:
        return self.tokens[self.i]

    def _advance(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _group(self, opening: _Token | None, depth: int) -> Node:
        """A whole query or the inside of parentheses: OR of AND-chains, minus its exclusions."""
        if depth > MAX_DEPTH:
            raise QuerySyntaxError("query nested too deeply", self._peek().position)
        alternatives: list[Node] = []
        chain: list[Node] = []
        exclusions: list[Node] = []
        pending: _Token | None = None  # an AND/OR still waiting for its right operand
        while True:
            tok = self._peek()
            if tok.kind in ("END", "RPAREN"):
                if tok.kind == "RPAREN" and opening is None:
                    raise QuerySyntaxError('unexpected ")"', tok.position)
                if tok.kind == "END" and opening is not None:
                    raise QuerySyntaxError('unclosed "("', opening.position)
                if pending is not None:
                    raise _unexpected(tok)
                self._advance()
                break
            if tok.kind in ("AND", "OR"):
                if pending is not None or not chain:
                    raise _unexpected(tok)
                if tok.kind == "OR":
                    alternatives.append(_and(chain))
                    chain = []
                pending = self._advance()
            elif tok.kind in ("NOT", "MINUS"):
                negated = self._unary(depth)
                if pending is not None or self._peek().kind in ("AND", "OR"):
                    chain.append(negated)  # joined by an operator: an ordinary negation
                else:
                    exclusions.append(negated)  # free-standing: excludes from the whole group
                pending = None
            else:
                chain.append(self._primary(depth))
                pending = None
        if chain:
            alternatives.append(_and(chain))
        if not alternatives and not exclusions:
            assert opening is not None  # an empty query was rejected before parsing
            raise QuerySyntaxError("empty parentheses", opening.position)
        return _and(([_or(alternatives)] if alternatives else []) + exclusions)

    def _unary(self, depth: int) -> Node:
        if self._peek().kind in ("NOT", "MINUS"):
            self._advance()
            if depth > MAX_DEPTH:
                raise QuerySyntaxError("query nested too deeply", self._peek().position)
            return Not(self._unary(depth + 1))
        return self._primary(depth)

    def _primary(self, depth: int) -> Node:
        tok = self._advance()
        if tok.kind in ("TERM", "PHRASE"):
            return compiled_term(tok.text, tok.position, quoted=tok.kind == "PHRASE")
        if tok.kind == "LPAREN":
            return self._group(tok, depth + 1)
        raise _unexpected(tok)


def _unexpected(tok: _Token) -> QuerySyntaxError:
    what = "end of query" if tok.kind == "END" else f'"{tok.text}"'
    return QuerySyntaxError(f"unexpected {what}", tok.position)
def folded_text(s: str) -> str:
    """``s`` folded exactly as the matcher folds titles and texts (case, accents, apostrophes).

    Public so that the search index stores the same spelling the matcher compares, and a term that
    matches an article can never be missing from the index's candidates.
    """
    return _folded(s)


def has_unspaced_script(s: str) -> bool:
    """Whether ``s`` holds characters of a script the matcher matches without word boundaries."""
    return _UNSPACED.search(s) is not None
