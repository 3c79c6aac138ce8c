"""The records the pipeline's stages exchange: a feed to poll, its outcome, a candidate entry, a page job, a
worker's result.

Why in the kernel: the warehouse persists them (feed state, claims, quarantine) and the pipeline produces them;
keeping them here lets both depend on the same frozen types without the warehouse importing orchestration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from newswatch.models import Article, ArticleAnalysis, FeedEntry, Rejection


@dataclass(frozen=True, slots=True)
class FeedTarget:
    """A feed to poll, with its conditional-GET validators from the last successful poll."""

    feed_id: str
    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_content_hash: str | None = None


@dataclass(frozen=True, slots=True)
class FeedPoll:
    """The outcome of polling one feed. ``status``: ok | not_modified | unchanged | failed."""

    feed_id: str
    status: str
    entries: tuple[FeedEntry, ...] = ()
    url: str = ""  # the feed URL, redacted (for quarantine rows)
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    reason: str | None = None
    message: str | None = None
    retriable: bool = False
    retry_after: float | None = None
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A feed entry that is new to its feed and must be fetched (or taken from the feed body)."""

    feed_id: str
    item_key: str
    entry: FeedEntry
    canonical_url: str


@dataclass(frozen=True, slots=True)
class PageJob:
    """Everything a worker needs to turn one candidate into an article."""

    candidate: Candidate
    final_url: str
    html: str | None  # None when the feed carried the full body
    feed_text: str | None
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class Processed:
    """A worker's result for one job: an article with its analysis and topic matches, or a rejection."""

    candidate: Candidate
    article: Article | None = None
    analysis: ArticleAnalysis | None = None
    topics: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rejection: Rejection | None = None
