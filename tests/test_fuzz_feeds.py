"""Fuzzing the feed parser (bytes in): it returns a ParsedFeed or raises a documented ItemError, never anything
else, and what it returns is well-typed and capped."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st

from extract.feeds import feed_report
from extract.limits import MAX_AUTHOR_CHARS, MAX_TITLE_CHARS
from newswatch.errors import ItemError
from tests.fuzzing import fuzz_settings

FEED_REASONS = {"xml_entities", "not_xml", "empty_feed", "bad_json", "too_many_items"}
DATES = st.one_of(
    st.text(max_size=40),
    st.datetimes().map(lambda d: d.isoformat()),
    st.builds(lambda y, off: f"{y:04d}-12-31T23:59:59{off}", st.integers(0, 9999), st.sampled_from(["", "Z", "-12:00", "+14:00", "+01:00"])),
    st.builds(lambda y, z: f"Fri, 31 Dec {y:04d} 23:59:59 {z}", st.integers(0, 9999), st.sampled_from(["-1200", "+1400", "GMT", "CET", "XYZ"])),
)
TEXT = st.text(max_size=60)
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=8)
JSON_FIELDS = ["id", "url", "external_url", "title", "summary", "content_html", "content_text", "date_published",
               "date_modified", "authors", "author", "tags"]


def check(body: bytes, content_type: str | None = None) -> None:
    try:
        report = feed_report(body, feed_id="f", url="http://example.com/feed", content_type=content_type, max_items=50)
    except ItemError as exc:
        assert exc.reason in FEED_REASONS, exc.reason
        return
    feed = report.feed
    assert feed.title is None or (isinstance(feed.title, str) and len(feed.title) <= MAX_TITLE_CHARS)
    assert len(feed.entries) <= 50
    for e in feed.entries:
        assert isinstance(e.url, str) and (e.url == "" or e.url.startswith(("http://", "https://")))
        assert e.title is None or (isinstance(e.title, str) and len(e.title) <= MAX_TITLE_CHARS)
        assert e.author is None or (isinstance(e.author, str) and len(e.author) <= MAX_AUTHOR_CHARS)
        for when in (e.published_at, e.feed_date):
            assert when is None or (when.tzinfo is not None and 1990 <= when.year <= 2100)
        assert all(v is None or isinstance(v, str) for v in (e.guid, e.summary, e.content_html))


@fuzz_settings(deadline_ms=3000)
@given(st.binary(max_size=400), st.none() | st.text(max_size=40).map(lambda c: f"application/xml; charset={c}"))
def test_any_bytes_parse_or_fail_with_a_feed_reason(body, content_type):
    check(body, content_type)


@fuzz_settings(deadline_ms=3000)
@given(TEXT, TEXT, DATES, DATES, DATES, st.sampled_from(["utf-8", "zlib", "undefined", "latin-1", "rot13", "x"]),
       st.integers(0, 80))
def test_rss_with_hostile_fields_and_dates(title, link, pub, updated, channel, encoding, copies):
    item = (f"<item><title>{escape(title)}</title><link>{escape(link)}</link><pubDate>{escape(pub)}</pubDate>"
            f"<dc:date>{escape(updated)}</dc:date><author>{escape(title)}</author></item>")
    body = (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<channel><title>{escape(title)}</title><lastBuildDate>{escape(channel)}</lastBuildDate>"
            + item * copies + "</channel></rss>")
    check(body.encode("utf-8", errors="surrogatepass"))


@fuzz_settings(deadline_ms=3000)
@given(TEXT, DATES, DATES, st.integers(1, 80), st.booleans())
def test_atom_with_hostile_dates_and_unclosed_entries(title, published, updated, copies, closed):
    entry = (f'<entry><title type="html">{escape(title)}</title><link href="http://example.com/{copies}"/><id>x</id>'
             f"<published>{escape(published)}</published><updated>{escape(updated)}</updated>" + ("</entry>" if closed else ""))
    body = (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{escape(title)}</title>'
            f"<updated>{escape(updated)}</updated>" + entry * copies + ("</feed>" if closed else ""))
    check(body.encode("utf-8", errors="surrogatepass"))


@fuzz_settings(deadline_ms=3000)
@given(st.lists(st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(JSON_FIELDS), JSON_VALUES | DATES, max_size=8)),
                max_size=5), JSON_VALUES)
def test_json_feeds_with_any_types(items, title):
    check(json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": title, "items": items}).encode())
    check(json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": title}).encode())
