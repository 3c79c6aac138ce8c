"""Root causes of hostile-input crashes, each on hand-written input: absurd dates, mistyped JSON Feed fields,
charsets that are not text encodings, malformed redirect Locations, unclosed items, huge titles and pages."""

from __future__ import annotations

import json

import pytest

from demosite.loopback import LoopbackSite, Route
from extract.decoding import text_codec
from extract.feeds import DEFAULT_MAX_ITEMS, feed_report, parsed_feed
from extract.html import MAX_PAGE_TEXT_CHARS, decoded_html
from extract.http import FetchPolicy, HttpClient
from extract.limits import MAX_AUTHOR_CHARS, MAX_TITLE_CHARS, capped
from newswatch.errors import ItemError
from tests.pipeline_pages import extracted_feed_body, extracted_page
from transform.dates import parsed_datetime

pytestmark = pytest.mark.timeout(60)

ABSURD = ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00", "Fri, 31 Dec 9999 23:59:59 -1200",
          "Mon, 01 Jan 0001 00:00:00 +0100"]
GOOD = "2026-11-20T09:00:00Z"


def rss(item_date: str, channel_date: str = "", updated: str = "") -> bytes:
    extra = f"<atom:updated>{updated}</atom:updated>" if updated else ""
    return (f'<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>c</title>'
            f"<lastBuildDate>{channel_date}</lastBuildDate><item><title>a</title><link>http://example.com/a</link>"
            f"<pubDate>{item_date}</pubDate>{extra}</item></channel></rss>").encode()


def atom(published: str, updated: str) -> bytes:
    return (f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>c</title><updated>{published}</updated>'
            f'<entry><title>a</title><link href="http://example.com/a"/><id>1</id><published>{published}</published>'
            f"<updated>{updated}</updated></entry></feed>").encode()


def json_feed(*items, **top) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "c", "items": list(items), **top}).encode()


# --- dates ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ABSURD)
def test_an_unrepresentable_or_absurd_page_date_is_no_date(value):
    assert parsed_datetime(value) is None


@pytest.mark.parametrize("value", ABSURD)
def test_an_absurd_rss_date_is_absent_for_the_item_and_the_channel(value):
    entry = parsed_feed(rss(value, value), feed_id="f", url="http://example.com/").entries[0]
    assert entry.published_at is None and entry.feed_date is None


@pytest.mark.parametrize("value", ABSURD[:2])
def test_an_absurd_atom_published_date_falls_back_to_the_updated_date(value):
    entry = parsed_feed(atom(value, GOOD), feed_id="f", url="http://example.com/").entries[0]
    assert entry.published_at is not None and entry.published_at.isoformat() == "2026-11-20T09:00:00+00:00"


@pytest.mark.parametrize("value", ABSURD)
def test_an_absurd_json_feed_date_falls_back_to_date_modified(value):
    item = {"id": "1", "url": "http://example.com/a", "date_published": value, "date_modified": GOOD}
    entry = parsed_feed(json_feed(item), feed_id="f", url="http://example.com/").entries[0]
    assert entry.published_at is not None and entry.published_at.year == 2026


def test_a_page_whose_metadata_date_is_absurd_falls_back_to_the_url_date():
    page = ("<html><head><meta property='article:published_time' content='9999-12-31T23:59:59-12:00'></head><body>"
            "<article><p>" + "The council voted on Tuesday to approve the new budget for schools. " * 8 + "</p></article></body></html>")
    extracted = extracted_page(page, "http://example.com/2026/11/19/budget")
    assert extracted.published_at_source == "url" and extracted.published_at.day == 19


# --- JSON Feed types -----------------------------------------------------------------------------

@pytest.mark.parametrize("field", [
    {"authors": 5}, {"title": {}}, {"tags": "x"}, {"url": 5}, {"id": {}}, {"id": True}, {"summary": 5},
    {"content_html": 5}, {"content_text": []}, {"date_published": 5}, {"authors": [None, 5, {"name": 5}, {"name": None}]},
    {"author": "x"}, {"external_url": []}, {"title": None, "url": None, "authors": None},
])
def test_a_mistyped_json_feed_field_is_ignored_and_the_item_kept(field):
    item = {"id": "1", "url": "http://example.com/a", "title": "Hello", **field}
    feed = parsed_feed(json_feed(item), feed_id="f", url="http://example.com/")
    assert len(feed.entries) == 1
    entry = feed.entries[0]
    assert all(isinstance(v, str | None) for v in (entry.title, entry.author, entry.guid, entry.summary, entry.content_html))


@pytest.mark.parametrize("items", [{}, 5, "abc", None])
def test_json_feed_items_that_are_not_a_list_give_no_entries_and_a_warning(items):
    feed = parsed_feed(json_feed(items=items), feed_id="f", url="http://example.com/")
    assert feed.entries == ()
    assert (feed.warning is None) == (items is None)


def test_json_feed_items_that_are_not_objects_are_skipped_with_a_warning():
    body = json.dumps({"version": "https://jsonfeed.org/version/1", "items": [None, 5, "x", [], {"id": 7, "url": "http://example.com/b"}]})
    feed = parsed_feed(body.encode(), feed_id="f", url="http://example.com/")
    assert [e.guid for e in feed.entries] == ["7"] and "4 items that are not objects skipped" in feed.warning


def test_a_json_feed_whose_version_is_not_a_string_is_not_a_json_feed():
    with pytest.raises(ItemError) as err:
        parsed_feed(b'{"version": {"jsonfeed.org": 1}, "items": []}', feed_id="f", url="http://example.com/")
    assert err.value.reason == "not_xml"


# --- charsets ------------------------------------------------------------------------------------

NOT_TEXT = ["zlib", "base64", "hex", "rot13", "bz2", "uu", "quopri", "punycode", "undefined", "idna", "utf-7",
            "unicode_escape", "garbage$$", "x" * 200, "utf\x00-8"]


@pytest.mark.parametrize("charset", NOT_TEXT)
def test_a_codec_that_is_not_a_text_encoding_is_not_honoured(charset):
    assert text_codec(charset) is None


@pytest.mark.parametrize("charset", NOT_TEXT)
def test_an_html_page_declaring_a_non_text_codec_is_decoded_as_utf8_or_windows_1252(charset):
    body = f"<html><head><meta charset='{charset}'></head><body>caf\u00e9</body></html>".encode()
    assert "caf\u00e9" in decoded_html(body, None)
    assert "caf\u00e9" in decoded_html(body, f"text/html; charset={charset}")
    assert "caf\u00e9" in decoded_html("<p>caf\u00e9</p>".encode("cp1252"), f"text/html; charset={charset}")


@pytest.mark.parametrize("charset", NOT_TEXT[:10])
def test_a_feed_declaring_a_non_text_codec_is_read_as_utf8(charset):
    doc = ('<?xml version="1.0" encoding="%s"?><rss version="2.0"><channel><title>c</title><item><title>caf\u00e9</title>'
           "<link>http://example.com/a</link></item></channel></rss>")
    by_declaration = parsed_feed((doc % charset).encode(), feed_id="f", url="http://example.com/")
    by_header = parsed_feed((doc % "utf-8").replace(' encoding="utf-8"', "").encode(), feed_id="f",
                            url="http://example.com/", content_type=f"application/rss+xml; charset={charset}")
    assert by_declaration.entries[0].title == by_header.entries[0].title == "caf\u00e9"


def test_real_charsets_are_still_honoured():
    assert text_codec("windows-1252") == "cp1252" and text_codec("UTF-8") == "utf-8" and text_codec("shift_jis") == "shift_jis"
    assert decoded_html("<p>\u00e9t\u00e9</p>".encode("latin-1"), "text/html; charset=iso-8859-15") == "<p>\u00e9t\u00e9</p>"


# --- redirects -----------------------------------------------------------------------------------

BAD_LOCATIONS = ["http:foo", "http:\\\\host", "javascript:alert(1)", "data:text/html,x", "http://[::1", "http://[1:2:3]/",
                 "http://xn--zz/", "", " ", "://", "ftp://files.example/x", "https:"]


@pytest.fixture(scope="module")
def redirecting_site():
    with LoopbackSite() as site:
        for i, location in enumerate(BAD_LOCATIONS):
            site.add(f"/r{i}", Route(status=302, headers={"Location": location}))
        yield site


@pytest.mark.parametrize("index", range(len(BAD_LOCATIONS)), ids=[repr(x) for x in BAD_LOCATIONS])
def test_a_malformed_redirect_location_is_an_item_error(redirecting_site, index):
    # Only the loopback server resolves: a Location naming another host never leaves the machine.
    client = HttpClient(FetchPolicy(allow_private_networks=True, timeout_seconds=2),
                        resolver=lambda host, port: ["127.0.0.1"] if host == "127.0.0.1" else [])
    with client, pytest.raises(ItemError) as err:
        client.get(redirecting_site.url(f"/r{index}"))
    assert err.value.reason in ("bad_redirect", "bad_url", "too_many_redirects")
    if BAD_LOCATIONS[index] in ("http:foo", "http:\\\\host", "", "http://[::1"):
        assert err.value.reason == "bad_redirect"


# --- sizes ---------------------------------------------------------------------------------------

def test_unclosed_items_are_cut_at_the_item_cap_before_parsing():
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>c</title>' + b"<item><title>t</title>" * 30_000
    report = feed_report(body, feed_id="f", url="http://example.com/", max_items=100)
    assert report.items_in_document == 30_000 and report.truncated == 29_900
    assert len(report.feed.entries) <= 100 and "only the first 100 of 30000 items" in report.feed.warning


def test_closed_items_beyond_the_cap_keep_the_document_well_formed():
    items = b"".join(b"<item><title>t%d</title><link>http://example.com/%d</link></item>" % (i, i) for i in range(50))
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>c</title>' + items + b"</channel></rss>"
    report = feed_report(body, feed_id="f", url="http://example.com/", max_items=10)
    assert [e.title for e in report.feed.entries] == [f"t{i}" for i in range(10)]
    assert DEFAULT_MAX_ITEMS >= 300


def test_a_utf16_feed_over_the_item_cap_is_refused():
    doc = '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel>' + "<item><title>t</title></item>" * 20 + "</channel></rss>"
    with pytest.raises(ItemError) as err:
        feed_report(b"\xff\xfe" + doc.encode("utf-16-le"), feed_id="f", url="http://example.com/", max_items=5)
    assert err.value.reason == "too_many_items"


def test_a_megabyte_title_and_author_are_capped_in_rss_atom_json_and_page_metadata():
    huge = "Word " * 200_000
    rss_doc = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{huge}</title><item><title>{huge}</title>'
               f"<author>{huge}</author><link>http://example.com/a</link></item></channel></rss>").encode()
    feed = parsed_feed(rss_doc, feed_id="f", url="http://example.com/")
    json_doc = json_feed({"id": "1", "url": "http://example.com/a", "title": huge, "authors": [{"name": huge}]}, title=huge)
    jfeed = parsed_feed(json_doc, feed_id="f", url="http://example.com/")
    for f in (feed, jfeed):
        entry = f.entries[0]
        assert len(entry.title) <= MAX_TITLE_CHARS and entry.title.endswith("…") and len(f.title) <= MAX_TITLE_CHARS
        assert len(entry.author) <= MAX_AUTHOR_CHARS
    huge = "Word " * 40_000  # a page with 1 MB of title text would be refused as too_long as a whole
    page = (f"<html><head><title>{huge}</title><meta property='og:title' content='{huge}'></head><body><article><p>"
            + "The council voted on Tuesday to approve the new budget for schools. " * 8 + "</p></article></body></html>")
    assert len(extracted_page(page, "http://example.com/a").title) <= MAX_TITLE_CHARS


def test_capping_keeps_short_values_and_cuts_long_ones_at_a_word():
    assert capped("Short title", 300) == "Short title" and capped(None, 5) is None
    assert capped("alpha beta gamma delta", 12) == "alpha beta…"
    assert capped("x" * 50, 10) == "x" * 9 + "…"


def test_a_page_with_more_text_than_the_cap_is_refused_before_extraction():
    page = "<html><body><article>" + "<p>Hello world line.</p>\n" * (MAX_PAGE_TEXT_CHARS // 16) + "</article></body></html>"
    with pytest.raises(ItemError) as err:
        extracted_page(page, "http://example.com/a")
    assert err.value.reason == "too_long"
    assert extracted_feed_body(page, "http://example.com/a") is None


def test_a_page_with_megabytes_of_inline_script_is_not_refused_for_it():
    script = "<script>var data = '" + "x" * (MAX_PAGE_TEXT_CHARS + 10) + "';</script>"
    page = ("<html><head>" + script + "</head><body><article><p>"
            + "The council voted on Tuesday to approve the new budget for schools. " * 8 + "</p></article></body></html>")
    assert "council voted" in extracted_page(page, "http://example.com/a").text


# --- found by the fuzz suite ---------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://example.com/index.html/", "http://example.com/a/index.php/index.html",
                                 "http://example.com/index.htm//", "0\x85#", "http://example.com/a\u2028#x"])
def test_url_normalisation_is_idempotent_on_index_pages_with_a_trailing_slash(url):
    from transform.urls import normalized_url

    once = normalized_url(url)
    assert normalized_url(once) == once and not once.endswith("index.html")
