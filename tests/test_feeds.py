"""Feed parsing over hand-written fixtures (tests/fixtures/feeds), plus feeds served over loopback HTTP."""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from demosite.loopback import LoopbackSite, Route
from extract.feeds import body_hash, feed_report, parsed_feed
from extract.http import FetchPolicy, HttpClient
from newswatch.errors import ItemError

FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
FEED_URL = "https://site.example/feeds/main.xml"


def parse(name: str, **kwargs):
    return parsed_feed((FIXTURES / name).read_bytes(), feed_id="f1", url=FEED_URL, **kwargs)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_rss2_items_become_typed_entries_with_utc_dates_and_absolute_links():
    feed = parse("rss2.xml")
    assert feed.title == "Harbour Town Gazette"
    first = feed.entries[0]
    assert first.feed_id == "f1"
    assert first.url == "https://gazette.example/news/2026/11/ferry-timetable"
    assert first.guid == "gazette-1001"
    assert first.author == "Mara Lindqvist"
    assert first.published_at == utc(2026, 11, 20, 7, 0)
    assert first.summary.startswith("The last evening crossing")
    assert feed.entries[1].url == "https://site.example/news/2026/11/harbour-wall"


def test_repeated_items_are_collapsed_and_counted():
    report = feed_report((FIXTURES / "rss2.xml").read_bytes(), feed_id="f1", url=FEED_URL)
    guids = [e.guid for e in report.feed.entries]
    assert guids.count("gazette-1001") == 1
    assert report.items_in_document == 6 and report.duplicates == 1 and len(report.feed.entries) == 5


def test_an_item_without_a_link_is_kept_with_an_empty_url():
    letters = [e for e in parse("rss2.xml").entries if e.guid == "gazette-letters-47"]
    assert len(letters) == 1 and letters[0].url == ""


def test_zone_names_feedparser_misreads_as_utc_are_read_by_dateparser():
    by_title = {e.title: e for e in parse("rss2.xml").entries}
    assert by_title["Council approves new harbour wall"].published_at == utc(2026, 11, 19, 16, 30)  # CET = +1
    assert by_title["Weekend market returns"].published_at == utc(2026, 11, 16, 0, 5, 3)  # "GMT+9"


def test_an_unreadable_date_leaves_the_entry_undated_with_the_channel_date_as_fallback():
    report = feed_report((FIXTURES / "rss2.xml").read_bytes(), feed_id="f1", url=FEED_URL)
    lighthouse = [e for e in report.feed.entries if e.title == "Lighthouse open day"][0]
    assert lighthouse.published_at is None
    assert lighthouse.feed_date is not None  # the channel's date, used only when the page has none either
    assert report.undated == 0


def test_atom_entries_carry_html_content_and_author():
    feed = parse("atom.xml")
    leonids, maintenance = feed.entries
    assert leonids.published_at == utc(2026, 11, 19, 3, 0)
    assert leonids.author == "Ines Okafor"
    assert "<b>brightest</b>" in leonids.content_html
    assert maintenance.published_at == utc(2026, 11, 10, 9, 30)  # only <updated>
    assert maintenance.url == "https://site.example/feeds/notes/maintenance"
    assert maintenance.content_html is None


def test_rss1_items_take_their_dates_from_dc_date():
    feed = parse("rss1.xml")
    assert [e.published_at for e in feed.entries] == [utc(2026, 11, 20, 6, 45), utc(2026, 11, 19, 6, 0)]
    assert feed.entries[0].author == "Almanac desk"


def test_content_encoded_is_the_full_body_sanitised_and_captions_are_not():
    full, summary_only = parse("content_encoded.xml").entries
    assert "signalling upgrade a month early" in full.content_html
    assert "<script" not in full.content_html
    assert summary_only.content_html is None  # a media:description caption is not the article


def test_a_malformed_but_recoverable_feed_parses_with_a_warning_and_plain_text_titles():
    feed = parse("malformed.xml")
    assert [e.title for e in feed.entries] == ["Prices down on bread & milk", "Opening hours over the holidays"]
    assert feed.warning


def test_undeclared_namespace_prefixes_and_a_garbled_declaration_are_repaired():
    feed = parse("undeclared_prefix.xml")
    assert [e.url for e in feed.entries] == ["https://poetrylog.example/autumn-3", "https://poetrylog.example/winter-1"]
    assert all(e.published_at is not None for e in feed.entries)


def test_a_windows_1252_feed_decodes_from_its_declaration():
    entry = parse("windows1252.xml").entries[0]
    assert entry.title == "\u201cNa\u00efve\u201d pricing at the caf\u00e9 costs \u20ac5"


def test_a_windows_1252_feed_decodes_from_the_content_type_charset():
    body = (FIXTURES / "windows1252.xml").read_bytes().replace(b' encoding="windows-1252"', b"")
    feed = parsed_feed(body, feed_id="f1", url=FEED_URL, content_type="application/rss+xml; charset=windows-1252")
    assert feed.entries[0].summary == "Cr\u00e8me br\u00fbl\u00e9e is back \u2014 for now."


@pytest.mark.parametrize("name", ["billion_laughs.xml", "xxe.xml"])
def test_documents_declaring_entities_are_refused_without_expansion(name):
    tracemalloc.start()
    try:
        with pytest.raises(ItemError) as err:
            parse(name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.value.reason == "xml_entities"
    assert peak < 5_000_000


def test_entity_declarations_in_utf16_documents_are_refused_too():
    body = (FIXTURES / "xxe.xml").read_text().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    with pytest.raises(ItemError) as err:
        parsed_feed(body, feed_id="f1", url=FEED_URL)
    assert err.value.reason == "xml_entities"


def test_entity_text_inside_cdata_is_not_mistaken_for_a_declaration():
    body = (FIXTURES / "content_encoded.xml").read_bytes().replace(
        b"<p>The line reopens", b"<p>Docs mention &lt;!ENTITY&gt; and <!ENTITY x 'y'> as text. The line reopens")
    assert len(parsed_feed(body, feed_id="f1", url=FEED_URL).entries) == 2


def test_html_is_not_a_feed():
    page = b"<!doctype html><html><head><title>Home</title></head><body><p>Hello</p></body></html>"
    with pytest.raises(ItemError) as err:
        parsed_feed(page, feed_id="f1", url=FEED_URL, content_type="text/html")
    assert err.value.reason == "not_xml"


@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_an_empty_body_is_an_empty_feed(body):
    with pytest.raises(ItemError) as err:
        parsed_feed(body, feed_id="f1", url=FEED_URL)
    assert err.value.reason == "empty_feed"


def test_a_well_formed_feed_without_items_is_not_an_error():
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    feed = parsed_feed(body, feed_id="f1", url=FEED_URL)
    assert feed.title == "Quiet" and feed.entries == ()


def big_feed(n_items: int) -> bytes:
    items = "".join(
        f"<item><title>Item {i}</title><link>https://big.example/{i}</link><guid>big-{i}</guid>"
        f"<pubDate>Fri, 20 Nov 2026 08:00:00 GMT</pubDate><description>{'words ' * 20}</description></item>"
        for i in range(n_items)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'.encode()


def test_a_10000_item_feed_is_cut_to_max_items_before_parsing_in_bounded_memory():
    body = big_feed(10_000)
    tracemalloc.start()
    try:
        report = feed_report(body, feed_id="f1", url=FEED_URL, max_items=200)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(report.feed.entries) == 200 and report.truncated == 9_800
    assert report.feed.entries[-1].guid == "big-199"
    assert "200 of 10000" in report.feed.warning
    assert peak < 20_000_000  # the 2.5 MB body plus 200 parsed items, not 10,000


def json_feed(items):
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Tiny JSON", "items": items}).encode()


def test_json_feed_items_become_entries():
    body = json_feed([
        {"id": "1", "url": "/posts/1", "title": "First", "content_html": "<p>Body</p>",
         "date_published": "2026-11-20T08:00:00+01:00", "authors": [{"name": "Ana"}]},
        {"id": "2", "title": "No link", "content_text": "a < b", "date_published": "2026-11-19T08:00:00Z"},
        {"id": "1", "url": "/posts/1", "title": "First again"},
    ])
    feed = parsed_feed(body, feed_id="f1", url=FEED_URL, content_type="application/feed+json")
    first, second = feed.entries
    assert first.url == "https://site.example/posts/1" and first.author == "Ana"
    assert first.published_at == utc(2026, 11, 20, 7, 0) and first.content_html == "<p>Body</p>"
    assert second.url == "" and second.content_html == "a &lt; b"


def test_json_that_is_not_a_json_feed_is_refused():
    with pytest.raises(ItemError) as err:
        parsed_feed(b'{"hello": "world"}', feed_id="f1", url=FEED_URL)
    assert err.value.reason == "not_xml"


def test_body_hash_is_stable_and_content_sensitive():
    assert body_hash(b"abc") == body_hash(b"abc") != body_hash(b"abd")
    assert len(body_hash(b"")) == 64


@pytest.fixture(scope="module")
def feed_site():
    with LoopbackSite() as site:
        for name, ctype in [("rss2.xml", "application/rss+xml"), ("atom.xml", "application/atom+xml"),
                            ("rss1.xml", "application/rdf+xml"), ("windows1252.xml", "text/xml")]:
            site.add(f"/{name}", Route((FIXTURES / name).read_bytes(), content_type=ctype, etag=f'"{name}"'))
        site.add("/home.html", Route(b"<html><body><p>Not a feed</p></body></html>"))
        yield site


@pytest.mark.parametrize("name,count", [("rss2.xml", 5), ("atom.xml", 2), ("rss1.xml", 2), ("windows1252.xml", 1)])
def test_feeds_fetched_over_http_parse_with_every_item_dated(feed_site, name, count):
    with HttpClient(FetchPolicy(allow_private_networks=True, timeout_seconds=2)) as client:
        res = client.get(feed_site.url(f"/{name}"))
    feed = parsed_feed(res.body, feed_id="f1", url=res.final_url, content_type=res.headers.get("content-type"))
    assert len(feed.entries) == count
    assert sum(e.published_at is not None for e in feed.entries) >= count - 1  # rss2 has one unreadable date


def test_an_unchanged_feed_costs_one_conditional_request_and_no_parsing(feed_site):
    with HttpClient(FetchPolicy(allow_private_networks=True, timeout_seconds=2)) as client:
        first = client.get(feed_site.url("/atom.xml"))
        again = client.get(feed_site.url("/atom.xml"), etag=first.headers["etag"])
    assert again.status == 304 and again.body == b""


def test_a_page_that_is_not_xml_fails_as_not_xml(feed_site):
    with HttpClient(FetchPolicy(allow_private_networks=True, timeout_seconds=2)) as client:
        res = client.get(feed_site.url("/home.html"))
    with pytest.raises(ItemError) as err:
        parsed_feed(res.body, feed_id="f1", url=res.final_url, content_type=res.headers.get("content-type"))
    assert err.value.reason == "not_xml"
