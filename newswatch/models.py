"""Typed, frozen records passed between stages.

Why: feedparser, trafilatura and spaCy hand back loosely typed objects; converting them at the edge
into these small dataclasses keeps ``extract/`` and ``transform/`` pure and testable, and makes every
stage boundary explicit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Dates outside this range are typos, placeholders ("0001-01-01") or epoch zero, never a news date.
# The upper bound is generous on purpose: rejecting "future" dates needs a clock, which is the
# caller's business (the flow knows the fetch time), not a pure check's.
MIN_YEAR = 1990
MAX_YEAR = 2100


def plausible_datetime(value: datetime | None) -> datetime | None:
    """``value`` when it is an aware datetime whose year lies in ``MIN_YEAR``..``MAX_YEAR``, else None.

    What counts as a news date is a domain rule every date source (feed items, channels, page metadata,
    URLs) shares, whichever layer reads it, so a placeholder such as ``0001-01-01`` or ``9999-12-31``
    counts as "no date" and the caller falls back to its next source instead of storing it.
    """
    if value is None or value.tzinfo is None or not MIN_YEAR <= value.year <= MAX_YEAR:
        return None
    return value


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item of a feed, as the feed gave it."""

    feed_id: str
    url: str  # the item's link, absolute; "" when the item has none
    guid: str | None = None
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None  # UTC, from the feed
    summary: str | None = None
    content_html: str | None = None  # full body when the feed carries it (content:encoded, atom content)
    feed_date: datetime | None = None  # the channel's own date (lastBuildDate/updated): a fallback for undated items


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document."""

    title: str | None
    entries: tuple[FeedEntry, ...]
    warning: str | None = None  # feedparser's bozo exception, when the feed parsed anyway


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one successful HTTP GET (2xx or 304)."""

    url: str  # the URL requested
    final_url: str  # after redirects
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names
    elapsed_seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True, slots=True)
class PageMeta:
    """What a page declares about itself in its ``<head>`` and JSON-LD, as written (nothing interpreted)."""

    canonical_href: str | None  # raw href of <link rel=canonical>, else og:url; not yet absolutised
    title: str | None
    author: str | None
    date_strings: tuple[str, ...]  # publication-time candidates (meta tags, JSON-LD, <time>), best first
    headlines: tuple[str, ...]  # every spelling of the headline (og:title, h1, <title> ...), for stripping


@dataclass(frozen=True, slots=True)
class PageContent:
    """What the bytes of one HTML page (or of a feed item's body) say: extracted, not yet cleaned or interpreted."""

    url: str  # the page's final URL (or the feed item's link)
    text: str  # the extractor's main text, uncleaned
    meta: PageMeta
    found_date: str | None = None  # a date string found in the body by a text search, when one was made


@dataclass(frozen=True, slots=True)
class PageReading:
    """What one HTML page says once cleaned and interpreted: the page's side of an ``Article``."""

    url: str
    canonical_url: str | None  # from <link rel=canonical> / og:url, normalised
    title: str | None
    author: str | None
    published_at: datetime | None
    published_at_source: str | None  # "page_metadata" or "url" when found here
    text: str  # cleaned article text, paragraphs separated by "\n"
    language: str | None


@dataclass(frozen=True, slots=True)
class Article:
    """An article ready to load (one row of ``articles``)."""

    article_id: str
    url: str
    canonical_url: str
    feed_id: str
    title: str | None
    author: str | None
    published_at: datetime
    published_at_source: str  # feed | page_metadata | url | fetched
    fetched_at: datetime
    language: str | None
    text: str
    word_count: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class Entity:
    """One real-world entity (one row of ``entities``). ``entity_id`` is a normalised key stable across articles."""

    entity_id: str
    name: str
    type: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Mention:
    """One mention of an entity; offsets index ``articles.text``."""

    entity_id: str
    surface: str
    start_char: int
    end_char: int


# How a quote's speaker was found, from most to least trustworthy (``Quote.confidence``):
# - ``subject``: the speaker is named as the subject (or "according to" object) of the speech cue the
#   quote belongs to, in the quote's own sentence ('"X," Smith said', 'Smith said: "X"');
# - ``sentence``: the quote's own sentence attributes it, but the name comes from resolving a pronoun, a
#   description or a spokesperson ('"X," she said'), from a transcript or dash line, or from a name
#   near a cue the parse did not link;
# - ``neighbour``: carried over from a neighbouring sentence or the quote before ('Smith agreed. "X"');
# - ``guess``: the quote sits in a sentence about someone without a speech cue.
# Only the first two are trusted where one quote stands for a story (the alert's top quote).
SPEAKER_CONFIDENCE_LEVELS = ("subject", "sentence", "neighbour", "guess")
CONFIDENT_SPEAKER_LEVELS = frozenset({"subject", "sentence"})


@dataclass(frozen=True, slots=True)
class Quote:
    """A direct quote; ``speaker`` is a resolved name or "" when nobody can be attributed.

    ``confidence`` is one of :data:`SPEAKER_CONFIDENCE_LEVELS` for an attributed quote, "" otherwise.
    """

    text: str
    speaker: str
    speaker_entity_id: str | None
    cue: str | None
    start_char: int
    end_char: int
    confidence: str = ""


@dataclass(frozen=True, slots=True)
class ArticleAnalysis:
    """Entities, mentions and quotes of one article."""

    entities: tuple[Entity, ...]
    mentions: tuple[Mention, ...]
    quotes: tuple[Quote, ...]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an item was not loaded; becomes a ``quarantine`` row."""

    stage: str  # feed | fetch | extract | nlp | load | alert
    item_key: str
    url: str
    reason: str
    message: str
    retriable: bool = False  # a RetriableError: worth another attempt in a later cycle
