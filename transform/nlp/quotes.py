"""Direct quotations: where they are in an article's text, found from the quotation marks alone.

Why: news text quotes in straight and curly marks, runs quotes over several paragraphs (an opening mark
at the start of each paragraph, one closing mark at the very end), splits them around the attribution
(``"X," he said. "Y."``) and is full of stray marks (inch signs, apostrophes, a closing mark the editor
forgot). A character scanner that classifies each mark by what flanks it and pairs marks paragraph by
paragraph handles all of these in linear time and never fails on unbalanced input, which is what
textacy's token-based pairing does (it raises on an odd number of marks). Who said a quote is decided
later, with the parse, in ``transform.nlp.speakers``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_DOUBLE_OPEN = "“„‟«〝"
_DOUBLE_CLOSE = "”»〞"
_DOUBLE_EITHER = '"＂'
_SINGLE_OPEN = "‘‚‹"
_SINGLE_CLOSE = "’›"
_SINGLE_EITHER = "'"
# Characters after which a mark can open a quote (besides whitespace and the start of a line) ...
_OPENING_CONTEXT = "([{—–-/…:" + _DOUBLE_OPEN + _SINGLE_OPEN + _DOUBLE_EITHER + _SINGLE_EITHER
# ... and before which a mark can close one (besides whitespace and the end of a line).
_CLOSING_CONTEXT = ".,;:!?)]}—–-…/" + _DOUBLE_CLOSE + _SINGLE_CLOSE + _DOUBLE_EITHER + _SINGLE_EITHER

_OPEN, _CLOSE, _TOGGLE = 1, 2, 3

# A quoted string needs at least this many words to be a quotation: one- and two-word quoted strings are
# titles, nicknames and scare quotes ("Little Marco", "fake news") unless they stand as a sentence of their
# own (see is_quotation). Measured on PolNeAR train (eval/eval_quotes.py): quote F1 0.930 with 2, 0.968
# with 3, 0.949 with 4.
MIN_QUOTE_WORDS = 3
# Quoted strings where every word is capitalised (small function words aside) and that carry no sentence
# punctuation are titles of films, books, shows and slogans ("Saturday Night Live", "Make America Great
# Again"), not speech. Longer than this many words, Title Case is more likely a shouted quote. PolNeAR
# train: quote F1 0.962 without the title rule, 0.968 with it at 6, 10 or 15 words.
MAX_TITLE_WORDS = 10
_TITLE_SMALL_WORDS = frozenset(
    "a an and as at but by for from in into nor of on or the to vs via with".split()
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_PARAGRAPH = re.compile(r"[^\n]+")


@dataclass(frozen=True, slots=True)
class QuotedSpan:
    """A string between quotation marks.

    ``start``/``end`` delimit the content (marks excluded); ``open_mark`` is the index of the opening
    mark; ``close_mark`` the index of the closing mark, or None when the quote runs unterminated to the end
    of its paragraph. ``continuation_marks`` are the opening marks that restart a quote running over
    several paragraphs. ``single`` tells single marks from double ones.
    """

    start: int
    end: int
    open_mark: int
    close_mark: int | None
    continuation_marks: tuple[int, ...] = ()
    single: bool = False
    close_width: int = 1

    @property
    def outer_start(self) -> int:
        """Index of the opening mark (the quote's extent in the text, marks included)."""
        return self.open_mark

    @property
    def outer_end(self) -> int:
        """Index just past the closing mark, or past the content when unterminated."""
        return self.close_mark + self.close_width if self.close_mark is not None else self.end


def _flanks(text: str, i: int, width: int, line_start: int, line_end: int) -> tuple[bool, bool]:
    """Whether the mark at ``text[i:i+width]`` can open (left-flanking) and close (right-flanking) a quote."""
    prev = text[i - 1] if i > line_start else None
    nxt = text[i + width] if i + width < line_end else None
    can_open = nxt is not None and not nxt.isspace() and (prev is None or prev.isspace() or prev in _OPENING_CONTEXT)
    can_close = prev is not None and not prev.isspace() and (nxt is None or nxt.isspace() or nxt in _CLOSING_CONTEXT)
    return can_open, can_close


def _double_marks(text: str, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(index, width, kind) of the double marks of one paragraph.

    Two apostrophes (``''``) and two backticks are double marks too: archives and wire copy typed quotes
    that way (the New York Times archive does throughout). Curly marks typed the wrong way round are
    judged by what flanks them.
    """
    i = start
    while i < end:
        ch = text[i]
        width = 2 if ch in "'`" and i + 1 < end and text[i + 1] == ch else 1
        if width == 1 and ch not in _DOUBLE_OPEN and ch not in _DOUBLE_CLOSE and ch not in _DOUBLE_EITHER:
            i += 1
            continue
        can_open, can_close = _flanks(text, i, width, start, end)
        if ch in _DOUBLE_OPEN or ch == "`":
            kind = _CLOSE if can_close and not can_open else _OPEN
        elif ch in _DOUBLE_CLOSE:
            kind = _OPEN if can_open and not can_close else _CLOSE
        elif can_open and not can_close:
            kind = _OPEN
        elif can_close and not can_open:
            kind = _CLOSE
        else:
            kind = _TOGGLE
        yield i, width, kind
        i += width


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of every non-blank line; the cleaner separates paragraphs with newlines."""
    return [(m.start(), m.end()) for m in _PARAGRAPH.finditer(text) if m.group().strip()]


def _double_quoted(text: str, paragraphs: list[tuple[int, int]]) -> list[QuotedSpan]:
    """Pair double marks paragraph by paragraph, carrying a quote over paragraphs that restart it."""
    marks = [list(_double_marks(text, a, b)) for a, b in paragraphs]
    spans: list[QuotedSpan] = []
    open_at: tuple[int, int] | None = None  # (index, width) of the pending opening mark
    continuations: list[int] = []
    for k, (p_start, p_end) in enumerate(paragraphs):
        for n, (i, width, kind) in enumerate(marks[k]):
            if n == 0 and open_at is not None and open_at[0] < p_start:
                continuations.append(i)  # the opening mark that restarts a continued paragraph
                continue
            if open_at is None:
                if kind != _CLOSE:
                    open_at, continuations = (i, width), []
                continue  # a closing mark with nothing open: an inch sign or a typo
            if kind == _OPEN:
                open_at, continuations = (i, width), []  # the earlier mark was stray: start again here
                continue
            spans.append(QuotedSpan(open_at[0] + open_at[1], i, open_at[0], i, tuple(continuations), close_width=width))
            open_at, continuations = None, []
        if open_at is not None:
            nxt = marks[k + 1][0] if k + 1 < len(paragraphs) and marks[k + 1] else None
            restarts = (nxt is not None and nxt[2] != _CLOSE and not text[paragraphs[k + 1][0]:nxt[0]].strip())
            if not restarts:
                spans.append(QuotedSpan(open_at[0] + open_at[1], p_end, open_at[0], None, tuple(continuations)))
                open_at, continuations = None, []
    return spans


def _single_marks(text: str, p_start: int, p_end: int, taken: list[tuple[int, int]]) -> Iterator[tuple[int, int, bool]]:
    """(index, kind, strong) of single marks outside double-quoted spans that can open or close a quote.

    Apostrophes inside words (``don't``) can do neither. A closing mark is *strong* when punctuation or the
    end of the line surrounds it; a weak one (``the players' union``) may be a plural possessive.
    """
    for i in range(p_start, p_end):
        ch = text[i]
        if ch not in _SINGLE_OPEN and ch not in _SINGLE_CLOSE and ch not in _SINGLE_EITHER:
            continue
        if any(a <= i < b for a, b in taken) or (ch == "'" and "''" in text[max(p_start, i - 1):i + 2]):
            continue
        can_open, can_close = _flanks(text, i, 1, p_start, p_end)
        prev = text[i - 1] if i > p_start else ""
        nxt = text[i + 1] if i + 1 < p_end else ""
        if can_open and not can_close and ch not in _SINGLE_CLOSE and not prev.isalnum():
            yield i, _OPEN, True
        elif can_close and not can_open and ch not in _SINGLE_OPEN and not nxt.isalnum():
            strong = prev in ".,;:!?…" or nxt == "" or (not nxt.isspace())
            yield i, _CLOSE, strong


def _single_quoted(text: str, paragraphs: list[tuple[int, int]], taken: list[tuple[int, int]]) -> list[QuotedSpan]:
    """Pair single marks within each paragraph (British style, headlines); never across paragraphs."""
    spans: list[QuotedSpan] = []
    for p_start, p_end in paragraphs:
        marks = list(_single_marks(text, p_start, p_end, taken))
        open_at: int | None = None
        for n, (i, kind, strong) in enumerate(marks):
            if kind == _OPEN:
                open_at = i
                continue
            if open_at is None:
                continue
            if not strong:
                later = next((m for m in marks[n + 1:]), None)
                if later is not None and later[1] == _CLOSE and later[2]:
                    continue  # a possessive inside the quote; the real closing mark comes next
            spans.append(QuotedSpan(open_at + 1, i, open_at, i, (), single=True))
            open_at = None
    return spans


def quoted_spans(text: str) -> list[QuotedSpan]:
    """Every string between quotation marks in ``text``, in order, quotations or not.

    Double marks are paired first (across paragraphs when a quote continues); single marks count only
    outside double-quoted strings, so quotes nested inside quotes are not reported twice.

    Args:
        text: cleaned article text, paragraphs separated by newlines.
    Returns:
        Spans sorted by position; never raises on unbalanced marks.
    """
    paragraphs = _paragraphs(text)
    doubles = _double_quoted(text, paragraphs)
    taken = [(s.outer_start, s.outer_end) for s in doubles]
    singles = _single_quoted(text, paragraphs, taken) if any(c in text for c in _SINGLE_OPEN + _SINGLE_CLOSE + "'") else []
    return sorted(doubles + singles, key=lambda s: s.start)


def _is_title(words: list[str], content: str) -> bool:
    """Title Case with no sentence punctuation: a work's title or a slogan, not speech."""
    if len(words) > MAX_TITLE_WORDS or re.search(r"[.!?;,:]\s", content.strip().rstrip(".,;:!?") + " "):
        return False
    return all(w[0].isupper() or w[0].isdigit() or w.lower() in _TITLE_SMALL_WORDS for w in words)


def _is_sentence(text: str, span: QuotedSpan) -> bool:
    """Whether the quoted string is a sentence of its own: it opens its paragraph or follows a sentence's
    end or a colon, and its last word is followed by punctuation inside the marks (``"It's over," he said``)."""
    line_start = text.rfind("\n", 0, span.open_mark) + 1
    before = text[line_start:span.open_mark].rstrip()
    opens = not before or before[-1] in ".!?:;—–-…" or before[-1] in _DOUBLE_CLOSE + _DOUBLE_EITHER + "'"
    return opens and bool(re.search(r"[.,!?…]\W*$", text[span.start:span.end].rstrip()))


def is_quotation(text: str, span: QuotedSpan) -> bool:
    """Whether a quoted string is reported speech rather than a title, a nickname or a scare quote.

    Args:
        text: the article text the span indexes.
        span: a span from :func:`quoted_spans`.
    Returns:
        True for strings of at least ``MIN_QUOTE_WORDS`` words that are not Title-Case titles, and for
        two-word strings that stand as a sentence of their own (``"Not true," she said``).
    """
    content = text[span.start:span.end]
    words = _WORD.findall(content)
    sentence = _is_sentence(text, span)
    if len(words) < MIN_QUOTE_WORDS and not (len(words) >= 2 and sentence):
        return False
    if span.close_mark is None and not re.search(r"[.!?,…—-]\W*$", content.rstrip()):
        return False  # unterminated and not ending like a sentence: a stray mark, not a quote
    return sentence or not _is_title(words, content)


def quotation_bounds(text: str, span: QuotedSpan) -> tuple[int, int]:
    """The content's offsets with surrounding spaces and a trailing comma trimmed (``"X," he said``)."""
    start, end = span.start, span.end
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] == ","):
        end -= 1
    return start, end


def quotation_text(text: str, span: QuotedSpan) -> str:
    """The words quoted: the trimmed content with the marks that restart continued paragraphs removed."""
    start, end = quotation_bounds(text, span)
    pieces: list[str] = []
    last = start
    for mark in span.continuation_marks:
        if start <= mark < end:
            pieces.append(text[last:mark])
            last = mark + (2 if text[mark:mark + 2] in ("''", "``") else 1)
    pieces.append(text[last:end])
    return "".join(pieces)
