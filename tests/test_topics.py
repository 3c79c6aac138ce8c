"""The topic query language: how queries parse, which errors they raise where, and what they match."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from transform.topics import QuerySyntaxError, TopicQuery, compiled_query, matched_terms, parenthesized_query

SPEC = '"Kim Jong Un" OR ("North Korea" AND (summit OR talks)) NOT sport*'

# (query, how it is read, with every implicit AND and grouping written out)
PARSES = [
    ("summit", "summit"),
    ("Kim Jong Un", "Kim AND Jong AND Un"),
    ('"Kim Jong Un"', '"Kim Jong Un"'),
    ('"  Kim   Jong Un "', '"Kim Jong Un"'),
    ("\u201cNorth Korea\u201d", '"North Korea"'),
    ("\u201eNordkorea\u201c", '"Nordkorea"'),
    ("\u00abCor\u00e9e du Nord\u00bb", '"Cor\u00e9e du Nord"'),
    ("a b", "a AND b"),
    ("a AND b", "a AND b"),
    ("a OR b", "a OR b"),
    ("a OR b AND c", "a OR (b AND c)"),
    ("a AND b OR c", "(a AND b) OR c"),
    ("a b OR c d", "(a AND b) OR (c AND d)"),
    ("(a OR b) c", "(a OR b) AND c"),
    ("((a))", "a"),
    ("(a AND b) AND c", "a AND b AND c"),
    ("a OR (b OR c)", "a OR b OR c"),
    ("a AND NOT b", "a AND NOT b"),
    ("a NOT b", "a AND NOT b"),
    ("a -b", "a AND NOT b"),
    ('a -"b c"', 'a AND NOT "b c"'),
    ("a -(b OR c)", "a AND NOT (b OR c)"),
    ("NOT(b) a", "a AND NOT b"),
    # exclusions apply to their whole group, wherever they are written
    ("a OR b NOT c", "(a OR b) AND NOT c"),
    ("-c a OR b", "(a OR b) AND NOT c"),
    ("a NOT b NOT c", "a AND NOT b AND NOT c"),
    ("a NOT b c", "a AND c AND NOT b"),
    ("a OR (b NOT c)", "a OR (b AND NOT c)"),
    ("a (NOT b)", "a AND NOT b"),
    # ... but after AND/OR, NOT is an ordinary negation that binds tightest
    ("a OR b AND NOT c", "a OR (b AND NOT c)"),
    ("a NOT c OR b", "(a AND NOT c) OR b"),
    ("a -c AND b", "a AND NOT c AND b"),
    ("NOT c AND a OR b", "(NOT c AND a) OR b"),
    ("a AND -b OR c", "(a AND NOT b) OR c"),
    ("a NOT NOT b", "a AND NOT NOT b"),
    # only capitals are operators
    ("a and b", "a AND and AND b"),
    ("war or not peace", "war AND or AND not AND peace"),
    ('"a OR b"', '"a OR b"'),
    ("Or And Not", "Or AND And AND Not"),
    ("sport*", "sport*"),
    ('"nuclear talk*"', '"nuclear talk*"'),
    ("Jong-un", "Jong-un"),
    ("U.S. O'Brien", "U.S. AND O'Brien"),
    (SPEC, '("Kim Jong Un" OR ("North Korea" AND (summit OR talks))) AND NOT sport*'),
]


@pytest.mark.parametrize(("source", "reading"), PARSES)
def test_query_parses_with_the_documented_precedence(source, reading):
    assert parenthesized_query(compiled_query(source)) == reading


# (query, str() of the error): message and 0-based position of the culprit
INVALID = [
    ("", "empty query at position 0"),
    ("   ", "empty query at position 0"),
    ("a)", 'unexpected ")" at position 1'),
    ("(a OR b)) c", 'unexpected ")" at position 8'),
    ("(a OR b", 'unclosed "(" at position 0'),
    ("a (b (c)", 'unclosed "(" at position 2'),
    ("a OR", "unexpected end of query at position 4"),
    ("a NOT", "unexpected end of query at position 5"),
    ("OR a", 'unexpected "OR" at position 0'),
    ("AND a", 'unexpected "AND" at position 0'),
    ("a AND OR b", 'unexpected "OR" at position 6'),
    ("a AND AND b", 'unexpected "AND" at position 6'),
    ("a OR OR b", 'unexpected "OR" at position 5'),
    ("(a OR) b", 'unexpected ")" at position 5'),
    ("a NOT OR b", 'unexpected "OR" at position 6'),
    ("a ()", "empty parentheses at position 2"),
    ('"Kim Jong Un', "unclosed quote at position 0"),
    ('a "North Korea', "unclosed quote at position 2"),
    ('a "" b', "empty phrase at position 2"),
    ('"   "', "empty phrase at position 0"),
    ("sp*rt", '"*" is only allowed at the end of a word (as in sport*) at position 2'),
    ("*sport", '"*" is only allowed at the end of a word (as in sport*) at position 0'),
    ("a *", '"*" is only allowed at the end of a word (as in sport*) at position 2'),
    ("sport**", '"*" is only allowed at the end of a word (as in sport*) at position 5'),
    ('a "North *"', '"*" is only allowed at the end of a word (as in sport*) at position 9'),
    ('"K*m Jong"', '"*" is only allowed at the end of a word (as in sport*) at position 2'),
    ("a - b", '"-" must be followed directly by the term to exclude at position 2'),
    ("a -", '"-" must be followed directly by the term to exclude at position 2'),
    ("(a -)", '"-" must be followed directly by the term to exclude at position 3'),
    ("a && b", 'term "&&" has no letters or digits (operators are AND, OR, NOT in capitals) at position 2'),
    ("a || b", 'term "||" has no letters or digits (operators are AND, OR, NOT in capitals) at position 2'),
    ('a "--"', 'term "--" has no letters or digits at position 2'),
    ("'North Korea'", "single quotes do not make a phrase (use double quotes) at position 0"),
    ("a \u2018b c\u2019", "single quotes do not make a phrase (use double quotes) at position 2"),
    # a query matching articles that contain none of its terms would match nearly everything
    ("NOT sport", "query matches articles that contain none of its terms (each OR alternative needs a term not under NOT) at position 0"),
    ("-sport", "query matches articles that contain none of its terms (each OR alternative needs a term not under NOT) at position 0"),
    ("NOT a OR b", "query matches articles that contain none of its terms (each OR alternative needs a term not under NOT) at position 0"),
    ("a OR NOT b", "query matches articles that contain none of its terms (each OR alternative needs a term not under NOT) at position 0"),
    ("a OR -b", "query matches articles that contain none of its terms (each OR alternative needs a term not under NOT) at position 0"),
    ("(NOT a) OR b", "query matches articles that contain none of its terms (each OR alternative needs a term not under NOT) at position 0"),
    ("(" * 150 + "a" + ")" * 150, "query nested too deeply at position 101"),
    ("NOT " * 150 + "a", "query nested too deeply at position 408"),
]


@pytest.mark.parametrize(("source", "error"), INVALID)
def test_invalid_query_is_reported_with_its_position(source, error):
    with pytest.raises(QuerySyntaxError) as info:
        compiled_query(source)
    assert str(info.value) == error
    assert str(info.value) == f"{info.value.message} at position {info.value.position}"


def test_syntax_error_is_a_value_error_that_survives_pickling():
    err = QuerySyntaxError('unexpected ")"', 12)
    assert isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert (again.message, again.position, str(again)) == ('unexpected ")"', 12, 'unexpected ")" at position 12')


# (query, title, text, matched terms or None)
MATCHES = [
    # whole words only
    ("Kim", None, "Mr Kim said", ("Kim",)),
    ("Kim", None, "Kimberly said", None),
    ("Kim", None, "said Akim", None),
    ("Korea", None, "Korea's leader", ("Korea",)),
    ("Korea", None, "Koreans", None),
    ("G7", None, "at the G7 summit", ("G7",)),
    ("G7", None, "the G77 group", None),
    ("U.S.", None, "U.S. officials said", ("U.S.",)),
    ("U.S.", None, "US officials said", None),
    ("C++", None, "learn C++ today", ("C++",)),
    ("C++", None, "learn C today", None),
    ("AT&T", None, "AT&T said", ("AT&T",)),
    ("cafe", None, "at the caf\u00e9, later", ("cafe",)),
    ("cafe", None, "two caf\u00e9s", None),
    # case
    ("NATO", None, "nato allies", ("NATO",)),
    ("nato", "NATO SUMMIT", "", ("nato",)),
    # phrases: words in order, separated by spaces, hyphens or dashes only
    ('"Kim Jong Un"', None, "Kim Jong Un spoke", ("Kim Jong Un",)),
    ('"Kim Jong Un"', None, "KIM JONG-UN spoke", ("Kim Jong Un",)),
    ('"Kim Jong Un"', None, "Kim  Jong\nUn spoke", ("Kim Jong Un",)),
    ('"Kim Jong Un"', None, "Kim Jong\u2013Un and Kim Jong\u2010un", ("Kim Jong Un",)),
    ('"Kim Jong Un"', None, "Kim Jong Un\u2019s sister", ("Kim Jong Un",)),
    ('"Kim Jong Un"', None, "Kim, Jong Un", None),
    ('"Kim Jong Un"', None, "Kim Jong Unification", None),
    ('"Kim Jong Un"', None, "Jong Un Kim", None),
    ('"North Korea"', None, "North\u00a0Korea", ("North Korea",)),
    ("Jong-un", None, "Kim Jong Un", ("Jong-un",)),
    ('"e-mail"', None, "an email", None),
    ('"war AND peace"', None, "war and peace", ("war AND peace",)),
    # wildcards
    ("sport*", None, "sport", ("sport*",)),
    ("sport*", None, "Sports news", ("sport*",)),
    ("sport*", None, "a sportsman", ("sport*",)),
    ("sport*", None, "sport-related", ("sport*",)),
    ("sport*", None, "transport", None),
    ('"nuclear talk*"', None, "nuclear talks resumed", ("nuclear talk*",)),
    ('"nuclear talk*"', None, "nuclear walks", None),
    ('"North Kor*"', None, "North Korean troops", ("North Kor*",)),
    ("Jong-u*", None, "Jong-un", ("Jong-u*",)),
    # accents, Unicode case folding, apostrophes, invisible characters
    ("Zurich", None, "in Z\u00fcrich", ("Zurich",)),
    ("Z\u00fcrich", None, "ZURICH", ("Z\u00fcrich",)),
    ("Pokemon", None, "Pok\u00e9mon", ("Pokemon",)),
    ("Pok\u00e9mon", None, "Pokemon", ("Pok\u00e9mon",)),
    ("Lodz", None, "\u0141\u00f3d\u017a", ("Lodz",)),
    ("Strasse", None, "Stra\u00dfe", ("Strasse",)),
    ("stra\u00dfe", None, "STRASSE", ("stra\u00dfe",)),
    ("aero", None, "\u00c6r\u00f8", ("aero",)),
    ("istanbul", None, "\u0130STANBUL", ("istanbul",)),
    ("\u03c3\u03c9\u03ba\u03c1\u03b1\u03c4\u03b7\u03c3", None, "\u03a3\u03c9\u03ba\u03c1\u03ac\u03c4\u03b7\u03c2", ("\u03c3\u03c9\u03ba\u03c1\u03b1\u03c4\u03b7\u03c3",)),
    ("\uff2e\uff21\uff34\uff2f", None, "NATO", ("\uff2e\uff21\uff34\uff2f",)),
    ("O'Brien", None, "O\u2019Brien said", ("O'Brien",)),
    ("O\u2019Brien", None, "O'Brien said", ("O\u2019Brien",)),
    ("Korea's", None, "Korea\u2019s army", ("Korea's",)),
    ("Korea", None, "Ko\u00adrea", ("Korea",)),
    # scripts without word boundaries
    ("\u91d1\u6b63\u6069", None, "\u671d\u9c9c\u9886\u5bfc\u4eba\u91d1\u6b63\u6069\u4eca\u5929", ("\u91d1\u6b63\u6069",)),
    ("\uae40\uc815\uc740", None, "\uae40\uc815\uc740\uc774 \ub9d0\ud588\ub2e4", ("\uae40\uc815\uc740",)),
    # title and text
    ("summit", "Summit in Hanoi", "Nothing else here.", ("summit",)),
    ("summit", None, "The summit opened.", ("summit",)),
    ("Hanoi summit", "Leaders meet in Hanoi", "The summit opened.", ("Hanoi", "summit")),
    ('"Hanoi summit"', "Leaders meet in Hanoi", "Summit opens", None),
    # NOT and exclusions
    ("korea NOT sport*", None, "Korea wins the sports cup", None),
    ("korea NOT sport*", None, "Korea talks", ("korea",)),
    ("korea -sport*", "Sport", "Korea talks", None),
    ("korea OR japan -sport", None, "Japan sport", None),
    ("korea OR japan AND -sport", None, "Korea sport", ("korea",)),
    ("a NOT (b AND c)", None, "a b", ("a",)),
    ("a NOT (b AND c)", None, "a b c", None),
    ("a NOT NOT b", None, "a b", ("a", "b")),
    ("a NOT NOT b", None, "a", None),
    ("x NOT (a -b)", None, "x a b", ("x", "b")),
    # nesting, and matched terms = the terms that made the article match, in query order
    ("(a OR (b AND (c OR d))) NOT (e AND f)", None, "d b e", ("b", "d")),
    ("(a OR (b AND (c OR d))) NOT (e AND f)", None, "d b e f", None),
    ("(a OR (b AND (c OR d))) NOT (e AND f)", None, "c d", None),
    ("summit OR (korea AND summit)", None, "korea summit", ("summit", "korea")),
    ("korea OR Korea OR \"KOREA\"", None, "KOREA", ("korea",)),
    ("(korea NOT summit) OR summit", None, "korea summit", ("summit",)),
    ("war and peace", None, "war and peace", ("war", "and", "peace")),
    ("war and peace", None, "war, peace", None),
    # the SPEC example
    (SPEC, None, "Kim Jong Un spoke", ("Kim Jong Un",)),
    (SPEC, None, "talks summit North Korea", ("North Korea", "summit", "talks")),
    (SPEC, "North Korea summit", "", ("North Korea", "summit")),
    (SPEC, None, "North Korea held a parade", None),
    (SPEC, None, "Kim Jong Un watched the sports final", None),
    (SPEC, None, "North Korea talks, sportsmen attend", None),
    (SPEC, None, "Kim Jong-un, then a summit elsewhere", ("Kim Jong Un",)),
    (SPEC, None, "Kim Jong Un at the North Korea summit", ("Kim Jong Un", "North Korea", "summit")),
    (SPEC, None, "Kimberly Jong Un of North Korean summit fame", None),
]


@pytest.mark.parametrize(("source", "title", "text", "expected"), MATCHES)
def test_article_matches_with_the_terms_that_made_it_match(source, title, text, expected):
    assert matched_terms(compiled_query(source), title, text) == expected


def test_missing_title_is_the_same_as_an_empty_one():
    q = compiled_query(SPEC)
    assert matched_terms(q, None, "Kim Jong Un") == matched_terms(q, "", "Kim Jong Un") == ("Kim Jong Un",)


def test_compiled_query_is_frozen_and_survives_pickling():
    q = compiled_query(SPEC)
    assert isinstance(q, TopicQuery) and q.source == SPEC
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.source = "x"  # type: ignore[misc]  # the assignment a frozen query refuses
    again = pickle.loads(pickle.dumps(q))
    assert again == q
    assert matched_terms(again, "Kim Jong-un visits", "no sport here") is None
    assert matched_terms(again, "Kim Jong-un visits", "talks") == ("Kim Jong Un",)


def test_terms_lists_the_distinct_positive_terms_in_query_order():
    q = compiled_query('-sport* "North Korea" OR korea OR (Kim NOT "north korea")')
    assert [t.text for t in q.terms] == ["North Korea", "korea", "Kim"]
