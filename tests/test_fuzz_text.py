"""Fuzzing HTML decoding and extraction, the cleaner and URL normalisation: only documented errors, well-formed
outputs, and idempotence where it must hold."""

from __future__ import annotations

from html import escape

from hypothesis import given
from hypothesis import strategies as st

from extract.html import decoded_html
from extract.limits import MAX_TITLE_CHARS
from newswatch.errors import ItemError
from tests.fuzzing import fuzz_settings
from tests.pipeline_pages import extracted_feed_body, extracted_page
from transform.body_lines import is_heading_like
from transform.clean import cleaned_text
from transform.urls import normalized_url

CHARSETS = st.sampled_from(["utf-8", "zlib", "base64", "hex", "rot13", "bz2", "uu", "quopri", "punycode", "undefined",
                            "idna", "utf-16", "shift_jis", "iso-8859-1", "", "\x00", "utf-7"]) | st.text(max_size=12)
PROSE = "The council voted on Tuesday to approve the new budget for the city's schools and parks. "
# Text shaped like what breaks regexes: long runs of one character, punctuation, mixed scripts, many lines.
HOSTILE_TEXT = st.one_of(
    st.text(max_size=300),
    st.builds(lambda c, n: c * n, st.sampled_from(list("a.!-@/:'1 \t<&|,A") + ["By ", "é", "ab. ", "\n", " \n"]),
              st.integers(0, 3000)),
    st.lists(st.sampled_from([PROSE, "Photo: Jane Doe/Reuters", "Share this:", "4 min read", "- Related story",
                              "READ MORE: something", "© 2024 The Gazette", "Updated 3 May 2024", "1" * 50, "x@y.z"]),
             max_size=30).map("\n".join),
)


@fuzz_settings(deadline_ms=2000)
@given(st.binary(max_size=600), st.none() | CHARSETS.map(lambda c: f"text/html; charset={c}"), CHARSETS)
def test_any_body_and_declared_charset_decode_to_text(body, content_type, meta_charset):
    assert isinstance(decoded_html(body, content_type), str)
    with_meta = f"<meta charset='{meta_charset}'>".encode("utf-8", errors="surrogatepass") + body
    assert isinstance(decoded_html(with_meta, content_type), str)


@fuzz_settings(deadline_ms=5000, examples=40)
@given(HOSTILE_TEXT, st.text(max_size=400), st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00", "2026-11-20", "x"]))
def test_pages_extract_or_fail_with_a_page_reason(body, title, date):
    page = (f"<html><head><title>{escape(title)}</title><meta property='article:published_time' content='{date}'>"
            f"<meta name='author' content='{escape(title)}'></head><body><article><h1>{escape(title)}</h1>"
            + "".join(f"<p>{escape(line)}</p>" for line in (PROSE * 4 + "\n" + body).split("\n")) + "</article></body></html>")
    try:
        extracted = extracted_page(page, "http://example.com/2026/11/19/a")
    except ItemError as exc:
        assert exc.reason in ("no_text", "too_long")
        return
    assert isinstance(extracted.text, str) and extracted.text.strip()
    assert extracted.title is None or len(extracted.title) <= MAX_TITLE_CHARS
    assert extracted.published_at is None or 1990 <= extracted.published_at.year <= 2100
    assert extracted_feed_body(page, "http://example.com/a") is None or True  # must not raise


@fuzz_settings(deadline_ms=3000, examples=40)
@given(st.text(max_size=2000))
def test_arbitrary_markup_never_raises(markup):
    try:
        extracted_page(markup, "http://example.com/a")
    except ItemError as exc:
        assert exc.reason in ("no_text", "too_long")
    text = extracted_feed_body(markup, "http://example.com/a")
    assert text is None or isinstance(text, str)


@fuzz_settings(deadline_ms=2000)
@given(HOSTILE_TEXT)
def test_cleaned_text_is_normalised_lines(text):
    cleaned = cleaned_text(text)
    assert isinstance(cleaned, str)
    for line in cleaned.split("\n") if cleaned else []:
        assert line and line == line.strip() and "\r" not in line
        assert isinstance(is_heading_like(line), bool)


URL_PARTS = st.builds(
    lambda scheme, host, port, path, query, frag: f"{scheme}://{host}{port}{path}{query}{frag}",
    st.sampled_from(["http", "https", "HTTP", "hTTps"]),
    st.one_of(st.sampled_from(["example.com", "WWW.Example.COM.", "[::1]", "127.0.0.1", "xn--bcher-kva.example", "a..b"]),
              st.text("abcXYZ.-", min_size=1, max_size=12)),
    st.sampled_from(["", ":80", ":443", ":8080", ":0", ":99999", ":x"]),
    st.lists(st.sampled_from(["a", "B", "", "index.html", "index.php", "%20", "é", ".", "..", "x y"]), max_size=4).map(lambda p: "/" + "/".join(p)),
    st.lists(st.tuples(st.sampled_from(["utm_source", "q", "fbclid", "Ref", "a", ""]), st.sampled_from(["1", "", "x y", "%26", "&"])),
             max_size=3).map(lambda q: ("?" + "&".join(f"{k}={v}" for k, v in q)) if q else ""),
    st.sampled_from(["", "#top", "#"]),
)


@fuzz_settings(deadline_ms=500, examples=200)
@given(st.one_of(URL_PARTS, st.text(max_size=80)))
def test_url_normalisation_is_idempotent_and_never_raises(url):
    once = normalized_url(url)
    assert isinstance(once, str)
    assert normalized_url(once) == once
