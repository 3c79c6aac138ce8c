"""Extraction of hand-written pages: decoding, cleaned text, metadata, date sources, rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import lxml.html
import pytest
import trafilatura

from extract.html import decoded_html
from newswatch.errors import ItemError
from tests.pipeline_pages import extracted_feed_body, extracted_page
from transform.articles import MIN_FEED_BODY_WORDS
from transform.dates import parsed_datetime, published_at_from_url
from transform.language import detected_language

PAGES = Path(__file__).parent / "fixtures" / "pages"
HARBOUR_URL = "https://www.riverside-gazette.example/news/2024/03/05/harbour-bridge-repair-approved?utm_source=rss"

HARBOUR_TEXT = """\
The 1890s crossing will close to cars for eighteen months from September.
Riverside council has approved a £40m repair of the Harbour Bridge, ending two years of argument over whether the Victorian crossing should be mended or replaced.
Councillors voted 31 to 9 on Monday night to strengthen the bridge's iron arches and replace its deck, work that engineers say will add at least sixty years to its life.
The bridge will close to cars from September for about eighteen months. Pedestrians and cyclists will be able to cross on a temporary walkway for most of that time.
“We cannot keep patching a bridge that was built for horses and carts,” said Helen Marsh, the council’s cabinet member for transport. “This plan fixes it properly, once, and keeps it open to people on foot while we do it.”
Opposition councillors said the closure would push traffic onto residential streets in Eastgate and called for a second crossing to be built first.
“Eastgate will carry the cost of this decision for a year and a half,” said David Osei, who leads the opposition group. He said the council had not published its traffic modelling.
The council said a free shuttle bus would run between the two quays every ten minutes during the closure, paid for from the repair budget.
Work is due to start on 2 September. The contract has been awarded to Northshore Civil Engineering, which repaired the Mill Street viaduct in 2019."""

BODY = (
    "<p>The ferry operator said on Tuesday that it would add two evening sailings between the north quay and the "
    "island from May, after a winter in which the last boat regularly left passengers stranded on the pier.</p>"
    "<p>Commuters had collected more than three thousand signatures asking for a later service.</p>"
)


def page(head: str = "", body: str = BODY) -> str:
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Ferry adds evening sailings</title>{head}</head><body><article>{body}</article></body></html>"


def fixture(name: str) -> bytes:
    return (PAGES / name).read_bytes()


# --- cleaned text -----------------------------------------------------------------------------


def test_article_text_keeps_the_story_and_drops_captions_credits_prompts_tags_and_comments() -> None:
    extracted = extracted_page(decoded_html(fixture("harbour_bridge.html"), "text/html; charset=utf-8"), HARBOUR_URL)
    assert extracted.text == HARBOUR_TEXT


def test_the_fixture_leaks_that_boilerplate_through_bare_trafilatura() -> None:
    """The page is a fair test: trafilatura alone keeps every kind of line we clean."""
    bare = trafilatura.extract(fixture("harbour_bridge.html").decode("utf-8")) or ""
    for leaked in ("4 min read", "Credit: Tom Reyes / Getty Images", "Photo: Tom Reyes/Reuters", "Share this article",
                   "Sign up for our Morning Briefing newsletter", "Related: City to consult", "Advertisement",
                   "Tags: Transport", "harbourwatcher"):
        assert leaked in bare


def test_extraction_is_deterministic_across_repeated_calls() -> None:
    """No dedup cache: the same page gives the same text every time (docs/stack-notes.md#trafilatura)."""
    html = fixture("harbour_bridge.html").decode("utf-8")
    assert len({extracted_page(html, HARBOUR_URL).text for _ in range(4)}) == 1


# --- metadata, canonical URL and dates --------------------------------------------------------


def test_page_metadata_gives_title_author_language_and_the_published_not_modified_time() -> None:
    extracted = extracted_page(fixture("harbour_bridge.html").decode("utf-8"), HARBOUR_URL)
    assert extracted.url == HARBOUR_URL
    assert extracted.title == "Council approves £40m repair of Harbour Bridge"
    assert extracted.author == "Maria Okafor"
    assert extracted.language == "en"
    assert extracted.published_at == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert extracted.published_at_source == "page_metadata"


def test_a_relative_canonical_link_is_absolutised_and_normalised() -> None:
    extracted = extracted_page(fixture("harbour_bridge.html").decode("utf-8"), HARBOUR_URL)
    assert extracted.canonical_url == "https://riverside-gazette.example/news/2024/03/05/harbour-bridge-repair-approved"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("<link rel='canonical' href='https://news.example/story/ferry-sailings?utm_medium=rss#top'>", "https://news.example/story/ferry-sailings"),
        ("<link rel='Canonical' href='//news.example/story/ferry-sailings'>", "https://news.example/story/ferry-sailings"),
        ("<meta property='og:url' content='https://news.example/story/ferry-sailings?fbclid=x'>", "https://news.example/story/ferry-sailings"),
        ("<link rel='canonical' href='https://news.example/'>", None),  # front page: a CMS misconfiguration
        ("<link rel='canonical' href='javascript:void(0)'>", None),
        ("", None),
    ],
)
def test_canonical_url_comes_from_link_rel_canonical_or_og_url(head: str, expected: str | None) -> None:
    extracted = extracted_page(page(head), "https://news.example/story/ferry-sailings?utm_source=feed")
    assert extracted.canonical_url == expected


def test_a_page_without_date_metadata_takes_the_date_from_its_url() -> None:
    html = fixture("blog_no_date_meta.html").decode("utf-8")
    extracted = extracted_page(html, "https://wharfside-notes.example/2023/11/14/tram-depot-vote-delayed/")
    assert (extracted.published_at, extracted.published_at_source) == (datetime(2023, 11, 14, tzinfo=UTC), "url")
    assert extracted.title == "Why the tram depot vote was delayed"
    assert extracted.text.endswith("raised at every consultation since 2021.")  # "Follow us on Twitter" dropped


def test_the_canonical_url_date_is_used_when_the_fetched_url_has_none() -> None:
    html = fixture("blog_no_date_meta.html").decode("utf-8")
    extracted = extracted_page(html, "https://wharfside-notes.example/?p=4411")
    assert (extracted.published_at, extracted.published_at_source) == (datetime(2023, 11, 14, tzinfo=UTC), "url")


def test_no_date_anywhere_leaves_published_at_empty() -> None:
    extracted = extracted_page(page(), "https://news.example/story/ferry-sailings")
    assert (extracted.published_at, extracted.published_at_source) == (None, None)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<script type="application/ld+json">{"@graph": [{"@type": "WebSite"}, {"@type": ["NewsArticle"], '
         '"datePublished": "2024-04-02T18:15:00-04:00", "author": {"@type": "Person", "name": "By Sam Reid"}}]}</script>',
         datetime(2024, 4, 2, 22, 15, tzinfo=UTC)),
        ("<meta name='pubdate' content='Tue, 02 Apr 2024 18:15:00 +0100'>", datetime(2024, 4, 2, 17, 15, tzinfo=UTC)),
        ("<meta itemprop='datePublished' content='2024-04-02'>", datetime(2024, 4, 2, tzinfo=UTC)),
        ("<script type='application/ld+json'>{not json</script><meta name='date' content='2024-04-02 08:00'>",
         datetime(2024, 4, 2, 8, 0, tzinfo=UTC)),
    ],
)
def test_publication_time_is_read_from_json_ld_and_meta_tags(head: str, expected: datetime) -> None:
    extracted = extracted_page(page(head), "https://news.example/story/ferry-sailings")
    assert (extracted.published_at, extracted.published_at_source) == (expected, "page_metadata")


def test_a_date_shown_only_in_the_page_body_is_found_by_htmldate() -> None:
    body = BODY + "<div class='article-date'>Published on 12 March 2024</div>"
    extracted = extracted_page(page(body=body), "https://news.example/story/ferry-sailings")
    assert (extracted.published_at, extracted.published_at_source) == (datetime(2024, 3, 12, tzinfo=UTC), "page_metadata")


def test_a_byline_element_gives_the_author_when_meta_tags_do_not() -> None:
    body = "<div class='byline'>By <a href='/staff/sam-reid'>Sam Reid</a></div>" + BODY
    assert extracted_page(page(body=body), "https://news.example/a").author == "Sam Reid"


def test_json_ld_author_loses_its_by_prefix() -> None:
    head = '<script type="application/ld+json">{"@type": "NewsArticle", "author": {"@type": "Person", "name": "By Sam Reid"}}</script>'
    assert extracted_page(page(head), "https://news.example/a").author == "Sam Reid"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-11-19T08:57:40+01:00", datetime(2019, 11, 19, 7, 57, 40, tzinfo=UTC)),
        ("2019-11-19T08:57:40.123Z", datetime(2019, 11, 19, 8, 57, 40, tzinfo=UTC)),
        ("2019-11-19T08:57:40-0500", datetime(2019, 11, 19, 13, 57, 40, tzinfo=UTC)),
        ("2019-11-19", datetime(2019, 11, 19, tzinfo=UTC)),
        ("Tue, 19 Nov 2019 08:57:40 GMT", datetime(2019, 11, 19, 8, 57, 40, tzinfo=UTC)),
        ("1574150260", datetime(2019, 11, 19, 7, 57, 40, tzinfo=UTC)),
        ("0001-01-01T00:00:00", None),
        ("2019-02-31", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parsed_datetime_reads_iso_rfc2822_and_epoch_into_utc(value: str, expected: datetime | None) -> None:
    assert parsed_datetime(value) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example/2019/11/19/slug", datetime(2019, 11, 19, tzinfo=UTC)),
        ("https://news.example/world/2019/nov/19/slug/", datetime(2019, 11, 19, tzinfo=UTC)),
        ("https://news.example/2019-11-19-slug", datetime(2019, 11, 19, tzinfo=UTC)),
        ("https://news.example/archive/20191119/slug", datetime(2019, 11, 19, tzinfo=UTC)),
        ("https://news.example/2019/11/slug", None),  # no day
        ("https://news.example/story/4416291", None),
        ("https://news.example/2019/13/40/slug", None),
    ],
)
def test_published_at_from_url_needs_a_full_valid_date(url: str, expected: datetime | None) -> None:
    assert published_at_from_url(url) == expected


# --- decoding ---------------------------------------------------------------------------------

CAFE_WORDS = ("Élodie Marchand", "240 000 €", "« On a gardé", "nous l’avaient demandé", "Côte")


def _cafe_without_meta() -> bytes:
    body = fixture("cafe_windows1252.html")
    start = body.index(b"<meta http-equiv")
    return body[:start] + body[body.index(b">", start) + 1 :]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (fixture("cafe_windows1252.html"), "text/html; charset=windows-1252"),  # declared right
        (fixture("cafe_windows1252.html"), "text/html; charset=ISO-8859-1"),  # latin-1 label = windows-1252
        (fixture("cafe_windows1252.html"), "text/html; charset=utf-8"),  # header lies, <meta> is right
        (fixture("cafe_windows1252.html"), None),  # only <meta>
        (_cafe_without_meta(), "text/html; charset=utf-8"),  # declared UTF-8, is windows-1252
        (_cafe_without_meta(), "text/html"),  # no declaration at all
    ],
    ids=["declared", "latin1-label", "header-utf8-meta-1252", "meta-only", "mislabelled-utf8", "undeclared"],
)
def test_windows_1252_pages_decode_whatever_they_declare(body: bytes, content_type: str | None) -> None:
    html = decoded_html(body, content_type)
    assert "\ufffd" not in html
    for words in CAFE_WORDS:
        assert words in html


def test_a_windows_1252_page_declared_utf8_extracts_clean_french_text() -> None:
    html = decoded_html(_cafe_without_meta(), "text/html; charset=utf-8")
    extracted = extracted_page(html, "https://journal-cote.example/region/cafe-du-port")
    assert extracted.language == "fr"
    assert extracted.author == "Élodie Marchand"
    assert extracted.title == "Le café du port rouvre ses portes"
    assert extracted.text.startswith("Après dix-huit mois de travaux, le café du port a rouvert samedi matin.")
    assert (extracted.published_at, extracted.published_at_source) == (datetime(2023, 6, 14, tzinfo=UTC), "page_metadata")


def test_a_utf8_page_with_one_broken_byte_stays_utf8() -> None:
    body = "<html><body><p>Zürich – café “crème” ".encode() + b"\xff" + " naïve</p></body></html>".encode()
    html = decoded_html(body, "text/html; charset=utf-8")
    assert "Zürich – café “crème” \ufffd naïve" in html


def test_a_utf8_page_declared_latin1_is_read_as_utf8() -> None:
    body = "<html><head><meta charset='iso-8859-1'></head><body><p>Café crème à Zürich</p></body></html>".encode()
    assert "Café crème à Zürich" in decoded_html(body, "text/html; charset=iso-8859-1")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "<p>café</p>"),
        ("<p>café</p>".encode("utf-16-le"), None),
        (b"\xff\xfe" + "<p>café</p>".encode("utf-16-le"), "<p>café</p>"),
        (b"<meta charset='x-unknown-charset'><p>caf\xc3\xa9</p>", "<meta charset='x-unknown-charset'><p>café</p>"),
        ("<meta charset='shift_jis'><p>東京の天気</p>".encode("shift_jis"), "<meta charset='shift_jis'><p>東京の天気</p>"),
    ],
)
def test_byte_order_marks_and_declared_legacy_charsets(body: bytes, expected: str | None) -> None:
    html = decoded_html(body, None)
    if expected is not None:
        assert html == expected


@pytest.mark.parametrize("body", [b"", b"\x00\x81\x8d\x8f\x90\x9d\xff" * 300, bytes(range(256)) * 40])
def test_decoding_never_raises_on_garbage(body: bytes) -> None:
    assert isinstance(decoded_html(body, "text/html; charset=utf-8"), str)


# --- pages without an article -----------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        fixture("page_not_found.html").decode("utf-8"),
        "",
        "   ",
        "just some plain text, no markup",
        "<html><body><nav><a href='/'>Home</a></nav><script>render()</script></body></html>",
        decoded_html(b"\x00\x81\x8d\x8f\x90\x9d\xff" * 300, None),
    ],
    ids=["soft-404", "empty", "blank", "plain-text", "js-shell", "binary"],
)
def test_a_page_without_article_text_is_rejected_as_no_text(html: str) -> None:
    with pytest.raises(ItemError) as caught:
        extracted_page(html, "https://news.example/story/missing")
    assert caught.value.reason == "no_text"


# --- feed bodies ------------------------------------------------------------------------------

FULL_BODY = "".join(
    f"<p>Paragraph {i} of the council report says the harbour wall needs urgent work before the winter storms, "
    f"and that the repair will cost more than the sum set aside in the budget last spring.</p>"
    for i in range(1, 9)
) + "<p>Share this article</p><p><em>Photo: Tom Reyes/Reuters</em></p>"


def test_a_full_feed_body_is_used_cleaned() -> None:
    text = extracted_feed_body(FULL_BODY, "https://news.example/harbour-wall")
    assert text is not None
    assert text.startswith("Paragraph 1 of the council report")
    assert text.endswith("set aside in the budget last spring.")
    assert len(text.split()) >= MIN_FEED_BODY_WORDS


@pytest.mark.parametrize(
    "content_html",
    [
        "<p>The council says the harbour wall needs urgent work before the winter storms.</p>",
        FULL_BODY.replace("<p>Share this article</p><p><em>Photo: Tom Reyes/Reuters</em></p>",
                          "<p><a href='https://news.example/harbour-wall'>Continue reading…</a></p>"),
        "",
    ],
    ids=["teaser", "cut-short", "empty"],
)
def test_a_teaser_or_cut_short_feed_body_is_not_used(content_html: str) -> None:
    assert extracted_feed_body(content_html, "https://news.example/harbour-wall") is None


# --- language ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The government announced on Tuesday that it would raise fuel taxes next year to pay for road repairs.", "en"),
        ("Die Regierung kündigte am Dienstag an, im nächsten Jahr die Kraftstoffsteuern für Straßenreparaturen zu erhöhen.", "de"),
        ("El gobierno anunció el martes que subirá los impuestos al combustible el próximo año para pagar las carreteras.", "es"),
        ("Breaking news", None),
        ("", None),
    ],
)
def test_detected_language_is_iso_639_1_or_none_when_too_short(text: str, expected: str | None) -> None:
    assert detected_language(text) == expected


def test_a_name_doubled_by_its_hover_card_is_written_once() -> None:
    url = "https://news.example.org/2026/11/30/river-cleanup"
    text = extracted_page(fixture("hover_card_names.html").decode("utf-8"), url).text
    assert "Councillor Maren Solberg said" in text and "Maren SolbergMaren" not in text
    assert "led by Ivo Brandt," in text and "Ivo BrandtIvo" not in text


# --- in-body promos, hover cards and the recovery of a split body ----------------------------


def _paragraphs(name: str) -> list[str]:
    """The prose paragraphs a fixture's article holds (the expected text, read from the markup itself)."""
    tree = lxml.html.fromstring(fixture(name))
    return [" ".join(p.text_content().split()) for p in tree.iter("p")
            if len(p.text_content().split()) >= 12 and p.getparent().get("class") != "comment-item"]


def test_a_newsletter_sign_up_box_inside_the_body_is_removed_whatever_its_class() -> None:
    text = extracted_page(fixture("inbody_newsletter.html").decode("utf-8"), "https://sport.example.net/2026/11/30/harriers").text
    assert text.split("\n") == _paragraphs("inbody_newsletter.html")[:2] + _paragraphs("inbody_newsletter.html")[3:]
    assert "Sunday Six" not in text and "By signing up" not in text


def test_a_list_of_linked_headlines_inside_the_body_is_removed_and_a_plain_list_kept() -> None:
    text = extracted_page(fixture("inbody_related_links.html").decode("utf-8"), "https://city.example.net/2026/11/30/library").text
    assert "Bus lane plan" not in text and "Market hall roof" not in text
    assert "- longer opening hours at weekends\n- more quiet study desks on the upper floor" in text
    assert "Agnes Whitlow" in text and text.endswith("The library said all three would be in place by the spring.")


def test_a_hover_card_with_more_than_the_name_is_removed_inside_and_after_the_link() -> None:
    text = extracted_page(fixture("hover_card_profile.html").decode("utf-8"), "https://news.example.org/2026/11/30/water").text
    assert "Sen. Lena Okafor said the agency had ignored" in text
    assert "The agency's director, Piet van der Meer, told the panel" in text
    for card in ("Democrat, 4th District", "Follow", "since 2021"):
        assert card not in text


def test_a_body_split_around_an_advert_is_recovered_when_the_extractor_keeps_under_half() -> None:
    html = fixture("split_body.html").decode("utf-8")
    bare = trafilatura.extract(html) or ""
    assert "Seven new stops" not in bare  # the first pass really does stop at the advert
    text = extracted_page(html, "https://transport.example.net/2026/11/30/tram").text
    assert text.split("\n") == _paragraphs("split_body.html")
    assert "Advertisement" not in text and "A tram at the docks stop" not in text
    assert "Thirty years late" not in text  # the comment thread inside <article> is not put back


def test_a_promo_without_a_form_is_removed_by_its_call_to_action_and_prose_about_signing_up_kept() -> None:
    """A short paragraph whose link asks to sign up, and the newsletter's name on the line before it, are a
    promo whatever their markup; a paragraph of the story that mentions signing up, with no such link, stays."""
    name = "inbody_call_to_action.html"
    text = extracted_page(fixture(name).decode("utf-8"), "https://sport.example.net/2026/11/30/derby").text
    assert "Touchline Tips" not in text and "Sign up now" not in text
    paragraphs = _paragraphs(name)
    assert all(p in text for p in paragraphs if "Sign up now" not in p), text
    assert "sign up for the supporters' bus" in text and "Members must register by Friday" in text
