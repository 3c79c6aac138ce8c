"""The topic query language's tokenizer and recursive-descent parser (the grammar is documented in
``transform/topics.py``, which compiles and matches the tree this builds).

Why a module of its own: parsing is only done at start-up, once per topic; matching runs on every article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from transform.topics import And, Node, Not, Or, QuerySyntaxError, compiled_term

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
