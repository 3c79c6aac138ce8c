"""HTML pages to ``ExtractedPage``: decoding, trafilatura extraction, metadata, cleaning.

Why this shape: the flow fetches bytes (extract/http.py) and hands them here; everything in this
module is a pure function of those bytes, the Content-Type header and the final URL, so it is tested
on hand-written fixtures without a network.

- Decoding trusts, in order, a byte-order mark, then the bytes themselves when they are valid UTF-8
  with non-ASCII text in them (a valid multi-byte UTF-8 sequence is practically never a legacy
  charset), then the declared charset (header, then ``<meta>``), and finally the usual mislabel:
  a page "in UTF-8" that is really windows-1252. It never raises.
- Text comes from ``trafilatura.bare_extraction`` with ``include_comments=False`` and
  ``deduplicate=False`` (its dedup cache is process-global and non-idempotent, docs/stack-notes.md#trafilatura)
  and without trafilatura's metadata pass (see ``EXTRACTION_OPTIONS``). The metadata we need
  (canonical URL, title, author, publication time) is read by ``extract.page_meta`` from meta tags
  and JSON-LD, which costs a fraction of htmldate's search.
- The text is then cleaned by ``transform.clean.cleaned_text`` and stripped of the headline that
  article templates repeat at the top of the body (the title is stored on its own).
"""

from __future__ import annotations

import codecs
import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from htmldate import find_date
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.utils import load_html

from extract.decoding import text_codec
from extract.page_meta import PageMeta, page_meta
from newswatch.errors import ItemError
from newswatch.models import ExtractedPage
from transform.clean import cleaned_text
from transform.dates import parsed_datetime, published_at_from_url
from transform.language import detected_language
from transform.urls import normalized_url

# Options measured on the evaluation article pages with eval/eval_extraction.py (91 + 180 pages),
# together with the pruning and cleaning below:
# - fast=False keeps trafilatura's readability/justext comparison. fast=True scored the same
#   (aeb_dev mean F1 0.9755 vs 0.9752; trafilatura_en identical) and extracts ~1.3x faster, but
#   its losses were news articles cut to a fragment (a KBS weather story, an Axios feature) while
#   its wins were recipes, a wiki and a Q&A page; for a news monitor the fallback is worth ~10 ms.
# - favor_precision=True drops link text *inside* paragraphs (sentences lose words) and cost
#   trafilatura_en recall (0.957 -> 0.935 kept snippets), so it stays off; the line cleaning gets
#   the precision back without touching sentences.
# - with_metadata=False: trafilatura's metadata pass cost a third of the throughput on aeb_dev
#   (extract(include_comments=False) 77 docs/s, 51 with with_metadata=True); see page_meta.py.
# - include_tables stays on: data tables are article content on news pages.
EXTRACTION_OPTIONS: dict[str, bool] = {
    "fast": False,
    "include_comments": False,
    "deduplicate": False,
    "with_metadata": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "favor_precision": False,
    "favor_recall": False,
}

# Elements removed before extraction: caption and credit boxes (trafilatura keeps a
# ``<p class="photo-credit">``, docs/stack-notes.md#trafilatura), newsletter/promo boxes, read-time badges and
# screen-reader-only labels. Matched as substrings of class or id. The length guard (characters of
# text) keeps a badly named *article container* safe: these boxes are short, an article body is not.
# Inline ``<span>``s are pruned only for tokens that never hold words of the sentence around them:
# a hover-card span can wrap a name inside a sentence, and pruning it left "Gov. (R) said" on one
# aeb_dev page. Share/social/related boxes are left to trafilatura's own discard list: an ablation
# on the eval pages showed no gain from naming them here (nor from subscribe/signup/advert/recirc).
# Done in Python rather than as trafilatura ``prune_xpath``: the same XPath cost 4.3 ms a page,
# this 0.5 ms.
PRUNE_MAX_CHARS = 400
PRUNE_BLOCK_TOKENS = ("newsletter", "promo")
PRUNE_INLINE_TOKENS = ("caption", "credit", "read-time", "reading-time", "readtime", "sr-only", "visually-hidden", "screen-reader")
_PRUNE_BLOCK = re.compile("|".join(map(re.escape, PRUNE_BLOCK_TOKENS + PRUNE_INLINE_TOKENS)), re.IGNORECASE)
_PRUNE_INLINE = re.compile("|".join(map(re.escape, PRUNE_INLINE_TOKENS)), re.IGNORECASE)
_BLOCK_TAGS = ("div", "p", "section", "aside", "ul", "figcaption")

# A feed body shorter than this many words is a teaser, not the article, and the page is fetched
# instead. Measured on the 13 real publisher feeds of the evaluation set that carry content:encoded: teaser
# bodies (abc.net.au, El País, Foreign Policy, NDTV, NPR, NYT, Rest of World, The Week) run 2-45
# words after cleaning (one El País outlier 245); full bodies (TIME, Dawn) run 154-4,751, median
# ~1,000; paywalled member previews (404 Media) run 65-200 and are better fetched.
MIN_FEED_BODY_WORDS = 150
# A feed body whose text ends like this was cut short by the publisher ("… Continue reading",
# "[…]", "Read the full story"), whatever its length.
_TRUNCATED_END = re.compile(
    r"(?:…|\[(?:…|\.\.\.)\]|\.\.\.|(?:continue|keep) reading.{0,80}|read (?:the )?(?:full (?:story|article)|more|rest of).{0,80})$",
    re.IGNORECASE,
)
# The most text (characters outside <script> and <style>) a page may hold for trafilatura and the cleaner to
# read it. Both cost time per character of text and trafilatura grows faster than linearly (a 5 MB page of
# short paragraphs: 27 s, 0.6 GB), and the article cap applied after cleaning (100,000 characters) came too
# late to save that time. The wordiest of the 177 eval pages has 272,000 characters (a long read with
# its comments); a page with more is refused as ``too_long`` right after parsing, which costs ~0.2 s for 5 MB.
MAX_PAGE_TEXT_CHARS = 1_000_000
# A feed body is HTML handed to the same extraction; one over this size is not read (the page is fetched
# instead and gets the page caps). Real content:encoded bodies run to ~50 KB.
MAX_FEED_BODY_HTML_CHARS = 2_000_000
_TEXT_NODES = XPath("//text()[not(parent::script or parent::style)]")
# An extraction with fewer words than this is not an article (error pages, consent walls, empty
# shells, JavaScript-only pages where only a caption is in the HTML), and becomes a ``no_text``
# rejection. The shortest real articles in aeb_dev and trafilatura_en have 64 words after cleaning;
# a soft-404 page ("Sorry, we can't find that page ...") has about 15.
MIN_ARTICLE_WORDS = 25
_WORD = re.compile(r"\w+")
# Chinese and Japanese are written without spaces: each ideograph or kana counts as a word.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# WHATWG encoding labels that Python spells differently, or where browsers use a superset.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "l1": "cp1252", "us-ascii": "cp1252",
    "ascii": "cp1252", "iso8859-1": "cp1252", "iso_8859-1": "cp1252", "windows-1252": "cp1252",
    "x-cp1252": "cp1252", "iso-8859-9": "cp1254", "tis-620": "cp874", "iso-8859-11": "cp874",
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "euc-kr": "cp949", "ks_c_5601-1987": "cp949",
    "shift_jis": "cp932", "shift-jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "windows-31j": "cp932",
    "big5": "big5hkscs", "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8", "x-user-defined": "cp1252",
}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
# [^<>]: the scan for "charset" stops at the next tag, so a run of "<meta" without ">" is read once.
_META_CHARSET = re.compile(rb"<meta[^<>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# How far into the document a <meta charset> may appear (the HTML spec's prescan looks at 1024
# bytes; real pages put long <head> scripts first, so we look further).
_META_SCAN_BYTES = 8192


def decoded_html(body: bytes, content_type: str | None) -> str:
    """Decode an HTML response body, surviving wrong and missing charset declarations.

    Order: byte-order mark; valid UTF-8 with non-ASCII content; the header charset, then the
    ``<meta>`` charset, each if it decodes strictly; then for "UTF-8" that is not (and for pages
    that declare nothing) windows-1252, unless most non-ASCII bytes do form UTF-8 sequences, in
    which case UTF-8 with replacement characters for the few broken ones.

    Args:
        body: the raw response body.
        content_type: the Content-Type header, or None.
    Returns:
        The document as text. Never raises on bad bytes.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(encoding, errors="replace")
    declared = _declared_encodings(body, content_type)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and (not text.isascii() or not declared or declared[0] == "utf-8"):
        return text
    for encoding in declared:
        if encoding == "utf-8":
            continue
        try:
            return body.decode(encoding)
        except UnicodeError:  # includes UnicodeDecodeError, and what stateful codecs raise on junk
            continue
    if text is not None:  # pure ASCII, and the declared charsets could not decode it
        return text
    if _mostly_utf8(body):
        return body.decode("utf-8", errors="replace")
    return body.decode("cp1252", errors="replace")


def extracted_page(html: str, url: str) -> ExtractedPage:
    """Extract, clean and describe one article page.

    Args:
        html: the decoded page (see ``decoded_html``).
        url: the page's final URL after redirects (resolves relative canonical links).
    Returns:
        The cleaned text with the page's title, author, canonical URL, language and publication time
        (``published_at_source`` is ``"page_metadata"`` or ``"url"``, or None when the page has none).
    Raises:
        ItemError: reason ``no_text`` when the page holds no article text (not HTML, an empty shell,
            or fewer than ``MIN_ARTICLE_WORDS`` words after cleaning); ``too_long`` when it holds more
            than ``MAX_PAGE_TEXT_CHARS`` characters of text (refused before extraction and cleaning).
    """
    tree = _parsed_tree(html)
    if tree is None:
        raise ItemError("no_text", f"not parseable as HTML: {url}")
    if (chars := _text_chars(tree)) > MAX_PAGE_TEXT_CHARS:
        raise ItemError("too_long", f"{chars} characters of text, over the {MAX_PAGE_TEXT_CHARS} limit for a page: {url}")
    meta = page_meta(tree)
    document = bare_extraction(_pruned(tree), url=url, **EXTRACTION_OPTIONS)
    raw = document.text if document is not None and not isinstance(document, dict) else None
    text = _without_headline(without_doubled_names(cleaned_text(raw or "")), meta.headlines)
    if (words := _word_count(text)) < MIN_ARTICLE_WORDS:
        raise ItemError("no_text", f"no article text found ({words} words): {url}")
    canonical = _canonical_url(meta.canonical_href, url)
    published_at, source = _published_at(meta, tree, url, canonical)
    return ExtractedPage(
        url=url,
        canonical_url=canonical,
        title=meta.title,
        author=meta.author,
        published_at=published_at,
        published_at_source=source,
        text=text,
        language=detected_language(text),
    )


def _published_at(meta: PageMeta, tree: HtmlElement, url: str, canonical: str | None) -> tuple[datetime | None, str | None]:
    """The publication time and where it came from: meta tags / JSON-LD, then the URL, then htmldate.

    htmldate's fast search (``<time>``, date-classed elements, "Published ..." patterns) only runs
    when the first two found nothing: 4 ms a page there, on the ~20% of eval pages that need it, and
    it found a date on 37 of those 50 (its extensive search costs 55 ms and guessed more wildly).
    """
    if meta.published_at is not None:
        return meta.published_at, "page_metadata"
    from_url = published_at_from_url(url) or (published_at_from_url(canonical) if canonical else None)
    if from_url is not None:
        return from_url, "url"
    # url="" stops htmldate from reading the date out of the canonical link itself ("url" above).
    found = find_date(tree, url="", extensive_search=False, original_date=True)
    parsed = parsed_datetime(found) if found else None
    return (parsed, "page_metadata") if parsed else (None, None)


def extracted_feed_body(content_html: str, url: str) -> str | None:
    """Cleaned article text from a feed item's full body, or None when it is only a teaser.

    Args:
        content_html: the item's ``content:encoded`` / Atom ``content`` HTML.
        url: the item's link (for relative links; not fetched).
    Returns:
        The cleaned text when it has at least ``MIN_FEED_BODY_WORDS`` words and does not end in a
        "continue reading" cut, else None (the flow then fetches the page). A body over
        ``MAX_FEED_BODY_HTML_CHARS`` or ``MAX_PAGE_TEXT_CHARS`` is not read either: the page, which has
        its own caps, is fetched instead.
    """
    if len(content_html) > MAX_FEED_BODY_HTML_CHARS:
        return None
    tree = _parsed_tree(f"<html><body><article>{content_html}</article></body></html>")
    if tree is None or _text_chars(tree) > MAX_PAGE_TEXT_CHARS:
        return None
    if _TRUNCATED_END.search(" ".join(tree.text_content()[-500:].split())):
        return None
    document = bare_extraction(_pruned(tree), url=url, **EXTRACTION_OPTIONS)
    raw = (document.text if document is not None and not isinstance(document, dict) else None) or ""
    text = cleaned_text(raw)
    return text if _word_count(text) >= MIN_FEED_BODY_WORDS else None


def _word_count(text: str) -> int:
    """Words, counting each CJK character as one (those scripts do not separate words)."""
    unspaced = len(_UNSPACED.findall(text))
    return len(_WORD.findall(_UNSPACED.sub(" ", text))) + unspaced if unspaced else len(_WORD.findall(text))


def _text_chars(tree: HtmlElement) -> int:
    """Characters of text in ``tree`` outside scripts and styles (inline JSON can be megabytes of a real page)."""
    nodes = _TEXT_NODES(tree)
    return sum(len(node) for node in nodes) if isinstance(nodes, list) else 0


def _parsed_tree(html: str) -> HtmlElement | None:
    if not html.strip():
        return None
    tree = load_html(html)
    return tree if isinstance(tree, HtmlElement) else None


def _pruned(tree: HtmlElement) -> HtmlElement:
    """``tree`` without the short caption/credit/promo/share boxes named by the prune tokens (in place)."""
    doomed = [
        element
        for element in tree.iter(*_BLOCK_TAGS, "span")
        if (_PRUNE_INLINE if element.tag == "span" else _PRUNE_BLOCK).search(f"{element.get('class', '')} {element.get('id', '')}")
        and len(element.text_content().strip()) < PRUNE_MAX_CHARS
    ]
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()  # keeps the element's tail text
    return tree


def _declared_encodings(body: bytes, content_type: str | None) -> list[str]:
    """Python codec names declared by the header and by ``<meta>``, text encodings only, in that order."""
    labels: list[str] = []
    if content_type and (m := _HEADER_CHARSET.search(content_type)):
        labels.append(m.group(1))
    if m := _META_CHARSET.search(body[:_META_SCAN_BYTES]):
        labels.append(m.group(1).decode("ascii", errors="ignore"))
    encodings: list[str] = []
    for label in labels:
        name = text_codec(_CHARSET_ALIASES.get(label.strip().lower(), label.strip().lower()))
        if name is None:  # unknown, or not a text encoding (charset=zlib, base64, undefined ...)
            continue
        name = "utf-8" if name in ("utf-8", "utf-16", "utf-16-le", "utf-16-be") else name
        if name not in encodings:
            encodings.append(name)
    return encodings


def _mostly_utf8(body: bytes) -> bool:
    """More well-formed multi-byte UTF-8 characters than broken bytes: UTF-8 with a few glitches."""
    text = body.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    good = len(_NON_ASCII.findall(text)) - broken
    return good > broken


def _canonical_url(href: str | None, url: str) -> str | None:
    """The page's own canonical link, absolutised and normalised; None when absent or implausible.

    A canonical pointing at the site's front page from an article is a CMS misconfiguration
    (every article would collapse into one identity), so it is ignored.
    """
    if not href:
        return None
    absolute = urljoin(url, href.strip())
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path in ("", "/") and not parts.query and urlsplit(url).path not in ("", "/"):
        return None
    return normalized_url(absolute)


def _without_headline(text: str, headlines: tuple[str, ...]) -> str:
    """Drop lines that only repeat the page's headline (templates print it above the body, and
    share boxes and "related" rails repeat it); the title is stored on its own."""
    if not headlines or not text:
        return text
    keys = {_key(h) for h in headlines if _key(h)}
    return "\n".join(line for line in text.split("\n") if _key(line) not in keys)


def _key(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


__all__ = ["PageMeta", "decoded_html", "extracted_feed_body", "extracted_page"]


# A name written twice with nothing between: a link's text followed by its hover card's, flattened into
# one line by the extractor ("Rep. Jane Q. DoeJane Q. Doe"). Two or more capitalised words, so that
# glued words and initials ("AA", "Baden-Baden") are never touched.
_DOUBLED_NAME = re.compile(r"\b([A-Z][a-z][\w'’.-]*(?: [A-Z][\w'’.-]*){1,4})\1(?![a-z])")


def without_doubled_names(text: str) -> str:
    """The text with every name doubled by a hover card written once."""
    return _DOUBLED_NAME.sub(r"\1", text) if text else text
