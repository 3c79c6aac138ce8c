"""The two steps the pipeline runs on a page or a feed body (extract, then transform), for tests to call as one."""

from __future__ import annotations

from extract.html import feed_body_content, page_content
from newswatch.models import PageReading
from transform.articles import feed_body_text, needs_date_search, page_reading


def extracted_page(html: str, url: str) -> PageReading:
    """What the pipeline makes of one fetched page: extraction, then interpretation."""
    return page_reading(page_content(html, url, date_search=needs_date_search))


def extracted_feed_body(content_html: str, url: str) -> str | None:
    """What the pipeline makes of one feed item's body: extraction, then cleaning and the teaser test."""
    return feed_body_text(feed_body_content(content_html, url))
