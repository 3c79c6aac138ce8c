"""The seam between extraction and the article: extract reports what a page says, transform decides."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from extract.html import feed_body_content, page_content
from newswatch.errors import ItemError
from newswatch.models import FeedEntry, PageContent, PageMeta
from newswatch.records import Candidate
from transform.articles import MAX_ARTICLE_CHARS, article_from, needs_date_search, page_reading

PROSE = (
    "<p>The ferry operator said on Tuesday that it would add two evening sailings between the north quay and the "
    "island from May, after a winter in which the last boat regularly left passengers stranded on the pier.</p>"
    "<p>Commuters had collected more than three thousand signatures asking for a later service.</p>"
)
FETCHED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
URL = "https://news.example/story/ferry-sailings"


def _page(head: str = "", body: str = PROSE) -> str:
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Ferry adds evening sailings | Quay News</title>"
            f"{head}</head><body><article><h1>Ferry adds evening sailings</h1>{body}</article></body></html>")


def _candidate(*, title: str | None = None, author: str | None = None, published_at: datetime | None = None,
               feed_date: datetime | None = None) -> Candidate:
    entry = FeedEntry(feed_id="f1", url=URL, title=title, author=author, published_at=published_at, feed_date=feed_date)
    return Candidate("f1", "item-1", entry, URL)


def test_page_content_keeps_what_the_page_writes_uninterpreted() -> None:
    head = ("<link rel='canonical' href='/story/ferry-sailings?utm_medium=rss'>"
            "<meta property='article:published_time' content='2024-03-12T09:30:00+01:00'>")
    content = page_content(_page(head), URL)
    assert content.meta.canonical_href == "/story/ferry-sailings?utm_medium=rss"  # not absolutised nor normalised
    assert content.meta.date_strings == ("2024-03-12T09:30:00+01:00",)  # not parsed
    assert "Ferry adds evening sailings" in content.meta.headlines
    reading = page_reading(content)
    assert reading.canonical_url == "https://news.example/story/ferry-sailings"
    assert reading.published_at == datetime(2024, 3, 12, 8, 30, tzinfo=UTC)
    assert "Ferry adds evening sailings" not in reading.text  # the repeated headline is dropped from the text
    assert reading.language == "en"


def test_the_text_search_for_a_date_runs_only_when_nothing_else_states_one() -> None:
    body = PROSE + "<div class='article-date'>Published on 12 March 2024</div>"
    dated_meta = "<meta property='article:published_time' content='2024-03-01T00:00:00Z'>"
    assert page_content(_page(dated_meta, body), URL, date_search=needs_date_search).found_date is None
    assert page_content(_page(body=body), "https://news.example/2024/03/01/ferry", date_search=needs_date_search).found_date is None
    searched = page_content(_page(body=body), URL, date_search=needs_date_search)
    assert searched.found_date == "2024-03-12"
    assert page_reading(searched).published_at == datetime(2024, 3, 12, tzinfo=UTC)


def test_an_unreadable_metadata_date_still_lets_the_search_run() -> None:
    meta = PageMeta(canonical_href=None, title=None, author=None, date_strings=("soon", "0001-01-01"), headlines=())
    assert needs_date_search(meta, URL)


def test_date_precedence_feed_then_page_then_url_then_channel_then_fetch_time() -> None:
    dated_page = page_content(_page("<meta property='article:published_time' content='2024-03-12T00:00:00Z'>"), URL)
    undated_page = page_content(_page(), URL)
    feed_date, channel_date = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC)

    def dated(cand: Candidate, page: PageContent, url: str = URL) -> tuple[datetime, str]:
        article = article_from(cand, final_url=url, fetched_at=FETCHED, page=page)
        return article.published_at, article.published_at_source

    assert dated(_candidate(published_at=feed_date), dated_page) == (feed_date, "feed")
    assert dated(_candidate(feed_date=channel_date), dated_page) == (datetime(2024, 3, 12, tzinfo=UTC), "page_metadata")
    url_dated = "https://news.example/2024/03/05/ferry"
    assert dated(_candidate(feed_date=channel_date), undated_page, url_dated) == (datetime(2024, 3, 5, tzinfo=UTC), "url")
    assert dated(_candidate(feed_date=channel_date), undated_page) == (channel_date, "feed")
    assert dated(_candidate(), undated_page) == (FETCHED, "fetched")


def test_the_feed_entry_title_and_author_win_over_the_page() -> None:
    head = "<meta name='author' content='Page Author'>"
    article = article_from(_candidate(title="  Feed headline  ", author="Feed Author"), final_url=URL,
                           fetched_at=FETCHED, page=page_content(_page(head), URL))
    assert (article.title, article.author) == ("Feed headline", "Feed Author")
    from_page = article_from(_candidate(), final_url=URL, fetched_at=FETCHED, page=page_content(_page(head), URL))
    assert (from_page.title, from_page.author) == ("Ferry adds evening sailings", "Page Author")


def test_a_feed_body_article_keeps_the_entry_fields_and_the_length_cap_holds() -> None:
    text = "The harbour council met on Tuesday. " * 10
    article = article_from(_candidate(title="Council meets"), final_url=URL, fetched_at=FETCHED, feed_text=text)
    assert (article.title, article.canonical_url, article.word_count) == ("Council meets", URL, 60)
    with pytest.raises(ItemError) as too_long:
        article_from(_candidate(), final_url=URL, fetched_at=FETCHED, feed_text="word " * (MAX_ARTICLE_CHARS // 5 + 1))
    assert too_long.value.reason == "too_long"
    with pytest.raises(ItemError) as empty:
        article_from(_candidate(), final_url=URL, fetched_at=FETCHED, feed_text="  ")
    assert empty.value.reason == "no_text"


def test_a_feed_body_is_returned_uncleaned_and_a_cut_one_not_at_all() -> None:
    content = feed_body_content(PROSE, URL)
    assert content is not None and "ferry operator" in content.text and content.meta.date_strings == ()
    assert feed_body_content(PROSE + "<p>Continue reading</p>", URL) is None
