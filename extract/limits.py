"""Size caps applied where third-party text enters newswatch, before anything expensive reads it.

Why at the edge: a feed or page may carry a 1 MB "title" or a 5 MB body made of one word. Every later
step (cleaning, NLP, topic matching, the warehouse, the operator's terminal) would pay for it, so the
fields are capped here, once, at lengths no real article reaches, and the expensive steps are refused
input beyond their caps with a typed ``ItemError`` (see ``extract.html`` and ``extract.feeds``).
"""

from __future__ import annotations

# Headlines: the longest of the 1,530 titles in the eval feeds has 158 characters; 300 keeps every real
# one whole (an SEO title with the site name appended included) and bounds a hostile one.
MAX_TITLE_CHARS = 300
# Feed authors are often lists ("Jane Doe, John Roe and Ann Poe"); 200 characters is a dozen names.
# Page bylines have their own, stricter rule (``extract.page_meta.MAX_AUTHOR_CHARS``: longer is a bio).
MAX_AUTHOR_CHARS = 200
# A title or author is whitespace-normalised and stripped of tags before it is capped; those steps only
# ever see this many characters of the raw value, so a 1 MB title costs what a 3 KB one does.
RAW_FIELD_CHARS = 10 * MAX_TITLE_CHARS


def capped(text: str | None, limit: int) -> str | None:
    """``text`` cut to at most ``limit`` characters, at a word boundary when there is one, ``…`` marking the cut.

    Args:
        text: a title or author, already whitespace-normalised (or None).
        limit: the most characters the result may have (``…`` included).
    Returns:
        ``text`` unchanged when it fits, else its cut form; None stays None.
    """
    if text is None or len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space >= limit // 2:  # do not throw away half the title to end on a whole word
        head = head[:space]
    return head.rstrip() + "…"


def capped_title(text: str | None) -> str | None:
    """A title capped at ``MAX_TITLE_CHARS``."""
    return capped(text, MAX_TITLE_CHARS)


def capped_author(text: str | None) -> str | None:
    """An author capped at ``MAX_AUTHOR_CHARS``."""
    return capped(text, MAX_AUTHOR_CHARS)
