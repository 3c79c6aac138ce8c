"""The cycle's stages as plain functions over typed records (no Prefect, no DuckDB).

Why: ``flows/`` only wires these together, so each stage is testable without an orchestrator, and the
same functions run in a local process pool or on Dask workers. Every stage returns an explicit outcome
per item (a record or a ``Rejection``), never a bare ``None``. Each stage handles the errors it
anticipates (``ItemError``/``RetriableError``); each unit of third-party work runs inside
``pipeline.bulkhead.guarded``, which turns anything else into that item's ``internal_error`` outcome,
counted and logged by the cycle, so a bug surfaces without stopping the other feeds.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from extract.feeds import body_hash, parsed_feed
from extract.html import decoded_html, feed_body_content, page_content
from extract.http import HttpClient, redacted_url
from newswatch import secrets
from newswatch.errors import ItemError, PipelineError, RetriableError
from newswatch.faults import fault_point
from newswatch.models import Article, FeedEntry, Rejection
from newswatch.records import Candidate, FeedPoll, FeedTarget, PageJob
from pipeline.bulkhead import guarded
from transform.articles import article_from, feed_body_text, needs_date_search
from transform.topics import TopicQuery, matched_terms
from transform.urls import normalized_url, stable_id

FEED_ACCEPT = "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


def item_key_for(entry: FeedEntry) -> str:
    """The per-feed identity of an entry: its GUID, else its normalised link."""
    return stable_id("item", entry.guid or normalized_url(entry.url))


def entries_with_usable_guids(entries: tuple[FeedEntry, ...]) -> tuple[FeedEntry, ...]:
    """The entries, minus GUIDs that one document gives to items with different links.

    Why: an item is known by its GUID (``item_key_for``), but some feeds give every item the same GUID;
    keyed on it, every item after the first would be skipped as already seen, i.e. lost. A GUID that
    covers several links identifies nothing, so those items are keyed on their link instead.
    """
    links: dict[str, set[str]] = {}
    for e in entries:
        if e.guid and e.url:
            links.setdefault(e.guid, set()).add(e.url)
    shared = {guid for guid, urls in links.items() if len(urls) > 1}
    if not shared:
        return entries
    return tuple(replace(e, guid=None) if e.guid in shared and e.url else e for e in entries)


def poll_feed(client: HttpClient, target: FeedTarget, *, max_items: int) -> FeedPoll:
    """GET one feed conditionally and parse it unless the server or the body hash says it is unchanged.

    Anything unexpected raised while fetching or parsing is a failed poll (``internal_error``): the feed
    backs off like after any other failure, and the other feeds go on.
    """
    shown = redacted_url(target.url)
    res = guarded("feed", target.feed_id, shown, lambda: _polled(client, target, shown, max_items))
    if isinstance(res, Rejection):
        return FeedPoll(target.feed_id, "failed", url=shown, reason=res.reason, message=res.message)
    return res


def _polled(client: HttpClient, target: FeedTarget, shown: str, max_items: int) -> FeedPoll:
    fault_point("poll", shown)
    try:
        res = client.get(target.url, etag=target.etag, last_modified=target.last_modified, accept=FEED_ACCEPT)
        if res.not_modified:
            return FeedPoll(target.feed_id, "not_modified", etag=target.etag, last_modified=target.last_modified,
                            content_hash=target.last_content_hash, url=shown)
        digest = body_hash(res.body)
        etag, modified = res.headers.get("etag"), res.headers.get("last-modified")
        if digest == target.last_content_hash:
            return FeedPoll(target.feed_id, "unchanged", etag=etag, last_modified=modified, content_hash=digest, url=shown)
        feed = parsed_feed(res.body, feed_id=target.feed_id, url=res.final_url,
                           content_type=res.headers.get("content-type"), max_items=max_items)
    except PipelineError as e:
        if not isinstance(e, ItemError | RetriableError):
            raise
        return FeedPoll(target.feed_id, "failed", url=shown, reason=e.reason, message=e.message,
                        retriable=isinstance(e, RetriableError),
                        retry_after=e.retry_after if isinstance(e, RetriableError) else None)
    return FeedPoll(target.feed_id, "ok", entries_with_usable_guids(feed.entries), shown, etag, modified, digest,
                    warning=feed.warning)


def page_job(client: HttpClient, cand: Candidate, *, now: datetime | None = None,
             item_seconds: float | None = None) -> PageJob | Rejection:
    """Fetch the candidate's page, unless its feed entry already carries the full article.

    The feed body's cleaning runs here, in the fetching thread, under the item's time budget (which
    interrupts Python code only; a page's extraction runs in a worker, watched from outside).
    """
    now = now or datetime.now(UTC)
    entry = cand.entry
    shown = redacted_url(entry.url) if entry.url else ""
    if entry.content_html:
        body = entry.content_html

        def feed_body() -> str | None:
            fault_point("feed_body", entry.url)
            return feed_body_text(feed_body_content(body, entry.url))

        text = guarded("extract", cand.item_key, shown, feed_body, seconds=item_seconds)
        if isinstance(text, Rejection):
            return text
        if text:
            return PageJob(cand, secrets.redacted(entry.url), None, text, now)
    if not entry.url:  # a teaser with nowhere to read the rest
        return Rejection("feed", cand.item_key, "", "no_link", "feed item has no link and its body is only a teaser")
    return guarded("fetch", cand.item_key, shown, lambda: _fetched_page(client, cand, now))


def _fetched_page(client: HttpClient, cand: Candidate, now: datetime) -> PageJob | Rejection:
    entry = cand.entry
    fault_point("fetch", entry.url)
    try:
        res = client.get(entry.url, accept=PAGE_ACCEPT)
        html = decoded_html(res.body, res.headers.get("content-type"))
    except PipelineError as e:
        if not isinstance(e, ItemError | RetriableError):
            raise
        return Rejection("fetch", cand.item_key, redacted_url(entry.url), e.reason, e.message,
                         retriable=isinstance(e, RetriableError))
    # The URL is stored as the article's url: mask config secrets a feed echoed into its links (this runs in
    # the main process, where the secrets are registered; the workers know none).
    return PageJob(cand, secrets.redacted(res.final_url), html, None, now)


def article_from_job(job: PageJob) -> Article:
    """Extract the page (or take the feed body's text) and build its ``Article`` (see ``transform.articles``).

    Raises:
        ItemError: no article text (``no_text``), text over ``MAX_ARTICLE_CHARS`` (``too_long``) or
            another extraction failure.
    """
    page = page_content(job.html, job.final_url, date_search=needs_date_search) if job.html is not None else None
    return article_from(job.candidate, final_url=job.final_url, fetched_at=job.fetched_at, page=page,
                        feed_text=job.feed_text)


def topic_matches(article: Article, topics: dict[str, TopicQuery]) -> dict[str, tuple[str, ...]]:
    """The topics the article matches, each with the terms that matched."""
    out: dict[str, tuple[str, ...]] = {}
    for name, query in topics.items():
        terms = matched_terms(query, article.title, article.text)
        if terms is not None:
            out[name] = terms
    return out
