"""Which lines of a cleaned article are body text, and which are headings, captions or credits.

Why: the cleaner removes most captions and credit lines, but sub-headings ("What happens next"),
photo credits that slipped through ("Photo: Jane Doe/Reuters") and datelines stay as lines of their own.
Entities found there are not mentions in the story (a photographer is not in the news) and quotes there
are not speech, so the NLP stages skip them.
"""

from __future__ import annotations

import re

# A line of at most this many words that does not end like a sentence is a heading. News paragraphs
# are sentences; headings, kickers and list labels are short and unpunctuated. Eight words keeps
# "The long road to the Singapore summit" out and "He said it would happen" (punctuated) in. On
# CoNLL-2003 testa (one sentence per line, so a hard case) mention F1 is 0.736 with 4 or 6, 0.735 with 8
# and 0.731 with 12. A byline
# on a line of its own ("Jane Doe") is a credit and falls under the same rule. Lines with digits are
# never headings here: those are data (results, table rows, datelines) whose names are real mentions.
MAX_HEADING_WORDS = 8
# Caption and credit lines are short too; longer lines that mention a photo are body text about one.
MAX_CREDIT_WORDS = 25
_DIGIT = re.compile(r"\d")
_SENTENCE_END = re.compile(r"[.!?…:;\"”’')\]]\s*$")
_CREDIT = re.compile(
    r"^\s*(?:photo(?:graph)?s?|image|picture|video|graphic|illustration|credit|source|file photo)\b\s*(?:by\b|[:|/©-])"
    r"|getty images|\(ap photo|ap photo/|/\s*(?:reuters|afp|ap|epa|getty)\b|©|copyright|all rights reserved"
    r"|image caption|media caption|^\s*\(?(?:photo|image|picture)s?\s*credit",
    re.IGNORECASE,
)
# Headline case: a line whose words nearly all start with a capital, including words that inside a
# sentence are written in lower case ("Minister Warns There Will Be No Deal"). A sentence has lower-case
# words; a headline in title case does not, however long. Lines in capitals are left to the shouting
# rule of the entity stage (their countries are real mentions in results and kickers).
HEADLINE_CASE_SHARE = 0.8
_LOWER_IN_SENTENCES = frozenset(
    """a an the of to in on at for from by with and or but as is are was were be been will would can could
    should may might must has have had do does did not no there here this that these those it its than then
    into over after before about against up down out off""".split()
)
# A credit the cleaner glued to the first word of the text ("(Harbour News Business)The council ..."):
# a short bracketed name closed right against a capitalised word, with no space between them.
_GLUED_CREDIT = re.compile(r"\([^()\n]{1,60}\)(?=[A-Z])")


def is_heading_like(line: str) -> bool:
    """Whether a line is a heading, a caption or a credit rather than body text.

    Args:
        line: one line of the cleaned text (no newline).
    Returns:
        True for short unpunctuated lines and for photo/credit lines.
    """
    words = line.split()
    if not words:
        return True
    if len(words) <= MAX_CREDIT_WORDS and _CREDIT.search(line):
        return True
    if _DIGIT.search(line):
        return False  # figures make a data line (results, tables, a dateline): its names are real mentions
    return (len(words) <= MAX_HEADING_WORDS and not _SENTENCE_END.search(line)) or is_headline_case(line)


def is_headline_case(line: str) -> bool:
    """Whether a line of mixed case is written in headline case (see ``HEADLINE_CASE_SHARE``)."""
    words = line.split()
    alpha = [w for w in words if w[:1].isalpha()]
    if len(alpha) < 4 or all(w.isupper() for w in alpha):
        return False
    capitalised = [w for w in alpha if w[0].isupper()]
    function_words = [w for w in capitalised[1:] if w.lower() in _LOWER_IN_SENTENCES]
    return len(capitalised) >= HEADLINE_CASE_SHARE * len(alpha) and bool(function_words)


def body_line_mask(text: str) -> list[bool]:
    """Per character of ``text`` (plus one past the end): True inside body lines, False elsewhere."""
    mask: list[bool] = []
    for line in text.split("\n"):
        keep = not is_heading_like(line)
        mask.extend([keep] * len(line))
        mask.append(keep)  # the newline (or the end of the text) after the line
    if ")" in text:
        for m in _GLUED_CREDIT.finditer(text):
            mask[m.start():m.end()] = [False] * (m.end() - m.start())
    return mask
