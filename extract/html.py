"""HTML pages to ``PageContent``: decoding, trafilatura extraction, metadata strings.

Why this shape: the flow fetches bytes (extract/http.py) and hands them here; everything in this
module is a pure function of those bytes, the Content-Type header and the final URL, so it is tested
on hand-written fixtures without a network.

- Decoding trusts, in order, a byte-order mark, then the bytes themselves when they are valid UTF-8
  with non-ASCII text in them (a valid multi-byte UTF-8 sequence is practically never a legacy
  charset), then the declared charset (header, then ``<meta>``), and finally the usual mislabel:
  a page "in UTF-8" that is really windows-1252. It never raises.
- Text comes from ``trafilatura.bare_extraction`` with ``include_comments=False`` and
  ``deduplicate=False`` (its dedup cache is process-global and non-idempotent)
  and without trafilatura's metadata pass (see ``EXTRACTION_OPTIONS``). When that text holds less than
  ``MIN_MAIN_BLOCK_RECALL`` of the page's main text block (a body split around an advert, a figure or a
  paywall break, of which the extractor took one part), the block's prose paragraphs that it lacks are put
  back in page order; nothing the extractor found is dropped.
- In-body promos that carry no telling class are pruned by their structure before extraction: a short block
  around an e-mail field (a sign-up box), a list whose items are each one short link (other stories'
  headlines), and a hover card or tooltip that repeats its link's text. The metadata we need
  (canonical URL, title, author, publication time) is read by ``extract.page_meta`` from meta tags
  and JSON-LD, which costs a fraction of htmldate's search.
- Nothing here cleans, detects a language, normalises a URL or reads a date: this module returns
  what the bytes say, and ``transform.articles`` interprets it into an ``Article``.
"""

from __future__ import annotations

import codecs
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from typing import Any

from htmldate import find_date
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.utils import load_html

from extract.decoding import text_codec
from extract.page_meta import page_meta
from newswatch.errors import ItemError
from newswatch.models import PageContent, PageMeta

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
EXTRACTION_OPTIONS: dict[str, Any] = {
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
# In-body promos found by their structure rather than their class: a sign-up box is the short block
# around an e-mail field, holding no paragraph of SIGNUP_MAX_PARAGRAPH_WORDS words or more; a list of
# other stories' headlines has items that are a link of at most LINKED_HEADLINE_MAX_WORDS words and
# nothing else; a hover card repeats the text of its link (a name of HOVER_CARD_MIN_NAME_CHARS or more)
# and is short (under HOVER_CARD_MAX_CHARS).
SIGNUP_MAX_PARAGRAPH_WORDS = 30
# A call to action: a short paragraph whose link asks the reader to sign up or subscribe ("Get every pick
# free every Thursday. <a>Sign up now</a>"), with the short line naming the newsletter just before it.
# Not "register" or "join": "voters must <a>register</a> by Friday" is the story.
_CALL_TO_ACTION = re.compile(r"^\s*(?:sign(?:\s*me)?\s*up|subscribe)\b", re.IGNORECASE)
PROMO_TITLE_MAX_WORDS = 8
LINKED_HEADLINE_MAX_WORDS = 20
HOVER_CARD_MIN_NAME_CHARS = 4
HOVER_CARD_MAX_CHARS = 1000

# Recovery when the extractor misses most of the page's main text block (``_main_block``): a block of
# at least MIN_MAIN_BLOCK_SHINGLES shingles of which the first result holds less than MIN_MAIN_BLOCK_RECALL
# gets the block's missing prose paragraphs put back. Prose paragraphs have MIN_PROSE_WORDS words and at most
# MAX_PROSE_LINK_SHARE of them in links (a list of linked headlines is not prose).
MIN_MAIN_BLOCK_SHINGLES = 100
MIN_MAIN_BLOCK_RECALL = 0.6
MIN_PROSE_WORDS = 12
MAX_PROSE_LINK_SHARE = 0.5
_WORD = re.compile(r"\w+")
_NOT_STORY_TAGS = frozenset(("li", "aside", "nav", "form", "figure", "figcaption", "footer", "blockquote"))
_NOT_STORY = re.compile(r"comment|respond|replies|discussion", re.IGNORECASE)

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


def page_content(html: str, url: str, *, date_search: Callable[[PageMeta, str], bool] | None = None) -> PageContent:
    """Extract one article page: its main text and what its metadata says, uncleaned and uninterpreted.

    Args:
        html: the decoded page (see ``decoded_html``).
        url: the page's final URL after redirects.
        date_search: told the page's metadata and URL, says whether htmldate's text search for a date is
            worth running (it costs ~4 ms a page and is only a fallback); None searches every page.
    Returns:
        The extractor's text, the page's metadata strings and, when searched for and found, a date string.
    Raises:
        ItemError: reason ``no_text`` when the page is not parseable as HTML; ``too_long`` when it holds more
            than ``MAX_PAGE_TEXT_CHARS`` characters of text (refused before extraction).
    """
    tree = _parsed_tree(html)
    if tree is None:
        raise ItemError("no_text", f"not parseable as HTML: {url}")
    if (chars := _text_chars(tree)) > MAX_PAGE_TEXT_CHARS:
        raise ItemError("too_long", f"{chars} characters of text, over the {MAX_PAGE_TEXT_CHARS} limit for a page: {url}")
    meta = page_meta(tree)
    raw = _recovered_text(_pruned(tree), url)
    found = None
    if date_search is None or date_search(meta, url):
        # url="" stops htmldate from reading the date out of the canonical link itself (the caller reads URLs).
        found = find_date(tree, url="", extensive_search=False, original_date=True) or None
    return PageContent(url=url, text=raw or "", meta=meta, found_date=found)


_NO_META = PageMeta(canonical_href=None, title=None, author=None, date_strings=(), headlines=())


def feed_body_content(content_html: str, url: str) -> PageContent | None:
    """The extractor's text of a feed item's full body, or None when the body is not worth reading.

    Args:
        content_html: the item's ``content:encoded`` / Atom ``content`` HTML.
        url: the item's link (for relative links; not fetched).
    Returns:
        The uncleaned text (no metadata: the feed entry carries it), or None when the body visibly ends in
        a "continue reading" cut, or is over ``MAX_FEED_BODY_HTML_CHARS`` or ``MAX_PAGE_TEXT_CHARS`` (the
        page, which has its own caps, is fetched instead).
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
    return PageContent(url=url, text=raw, meta=_NO_META)


def _extracted(tree: HtmlElement, url: str, **overrides: Any) -> str:
    document = bare_extraction(tree, url=url, **{**EXTRACTION_OPTIONS, **overrides})
    return (document.text if document is not None and not isinstance(document, dict) else None) or ""


def _recovered_text(pruned: HtmlElement, url: str) -> str:
    """The extractor's text, with the main block's missing paragraphs put back when it holds too little of them.

    The main block (``_main_block``) is measured before extraction, which rewrites the tree. When the first
    result holds less than ``MIN_MAIN_BLOCK_RECALL`` of the block's prose shingles, the prose paragraphs it
    lacks are inserted where they stand in the page, after the last paragraph before them that it kept. The
    result only ever gains text: what the extractor found (tables, lists, headings) stays as it was.
    """
    paragraphs = _block_paragraphs(pruned)
    block: Counter[tuple[str, ...]] = Counter()
    for _, words in paragraphs:
        block.update(_word_shingles(words))
    text = _extracted(pruned, url)
    if sum(block.values()) < MIN_MAIN_BLOCK_SHINGLES or _recall(text, block) >= MIN_MAIN_BLOCK_RECALL:
        return text
    return _with_missing_paragraphs(text, paragraphs)


def _with_missing_paragraphs(text: str, paragraphs: list[tuple[str, list[str]]]) -> str:
    """``text`` with each of ``paragraphs`` (page order) that it lacks inserted after the last earlier one it has.

    A paragraph counts as present when a line of ``text`` holds its first eight words.
    """
    lines = text.split("\n") if text else []
    # Every run of up to eight words of each line -> the lines holding it, so each lookup is one dict access
    # (scanning the lines once per paragraph would be quadratic on a long page).
    found_in: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        words = _WORD.findall(line.lower())
        for start in range(max(len(words) - 7, 1)):
            found_in.setdefault(" ".join(words[start:start + 8]), []).append(index)
    inserts: dict[int, list[str]] = {}  # line index after which to insert (-1: before the first line)
    cursor = -1
    for paragraph, words in paragraphs:
        holders = found_in.get(" ".join(words[:8]), [])
        after = bisect_left(holders, cursor)  # holders is in line order
        where = holders[after] if after < len(holders) else holders[0] if holders else None
        if where is not None:
            cursor = max(cursor, where)
        else:
            inserts.setdefault(cursor, []).append(paragraph)
    merged = list(inserts.get(-1, ()))
    for i, line in enumerate(lines):
        merged.append(line)
        merged.extend(inserts.get(i, ()))
    return "\n".join(merged)


def _block_paragraphs(tree: HtmlElement) -> list[tuple[str, list[str]]]:
    """Each prose paragraph of the main block, in page order: its text and its lower-cased words."""
    block = _main_block(tree)
    if block is None:
        return []
    return [(" ".join(p.text_content().split()), words) for p, words in _prose_paragraphs(block)]


def _word_shingles(words: list[str]) -> list[tuple[str, ...]]:
    return [tuple(words[i:i + 4]) for i in range(len(words) - 3)]


def _prose_paragraphs(tree: HtmlElement) -> list[tuple[HtmlElement, list[str]]]:
    """``<p>`` elements of at least ``MIN_PROSE_WORDS`` words, at most ``MAX_PROSE_LINK_SHARE`` of them link text,
    outside list items, asides, navigation, forms, figures, footers and comment threads (which an article
    container often holds after the story)."""
    found = []
    for p in tree.iter("p"):
        words = _WORD.findall(p.text_content().lower())
        if len(words) < MIN_PROSE_WORDS:
            continue
        link_words = sum(len(_WORD.findall(a.text_content())) for a in p.iter("a"))
        if link_words > len(words) * MAX_PROSE_LINK_SHARE or _outside_the_story(p):
            continue
        found.append((p, words))
    return found


def _outside_the_story(p: HtmlElement) -> bool:
    for ancestor in p.iterancestors():
        if ancestor.tag in _NOT_STORY_TAGS or _NOT_STORY.search(f"{ancestor.get('class', '')} {ancestor.get('id', '')}"):
            return True
    return False


def _main_block(tree: HtmlElement) -> HtmlElement | None:
    """The element that holds the page's article text, or None when the page has no prose paragraphs.

    First the element holding the most words of prose paragraphs as children or grandchildren (a single
    container wins over its parent when it holds every paragraph); then, when that element sits inside an
    ``<article>``, ``<main>`` or ``itemprop="articleBody"`` element, the outermost of those: the markup says
    the article is all of it, and a body split across containers (around an advert, a figure, a paywall
    break) is held by that common ancestor.
    """
    scores: dict[HtmlElement, int] = {}
    depth: dict[HtmlElement, int] = {}
    for p, words in _prose_paragraphs(tree):
        parent = p.getparent()
        for level, holder in enumerate((parent, parent.getparent() if parent is not None else None)):
            if holder is not None:
                scores[holder] = scores.get(holder, 0) + len(words)
                depth.setdefault(holder, level)
    if not scores:
        return None
    best = max(scores, key=lambda holder: (scores[holder], -depth[holder]))
    for ancestor in best.iterancestors("article", "main", "div", "section"):
        if ancestor.tag in ("article", "main") or ancestor.get("itemprop") == "articleBody":
            best = ancestor
    return best


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return Counter(tuple(words[i:i + 4]) for i in range(len(words) - 3))


def _recall(text: str, block: Counter[tuple[str, ...]]) -> float:
    """Share of the block's shingles that ``text`` holds."""
    found = _shingles(text)
    total = sum(block.values())
    return sum((block & found).values()) / total if total else 1.0


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
    doomed += _signup_boxes(tree) + _call_to_action_promos(tree) + _linked_headline_lists(tree) + _hover_cards(tree)
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()  # keeps the element's tail text
    return tree


def _signup_boxes(tree: HtmlElement) -> list[HtmlElement]:
    """Sign-up boxes: the largest short block (under ``PRUNE_MAX_CHARS`` of text, no prose paragraph) around a
    form with an e-mail field, whatever the box's class is called."""
    boxes = []
    for field in tree.iter("input"):
        if field.get("type", "").lower() != "email" and "mail" not in f"{field.get('name', '')} {field.get('placeholder', '')}".lower():
            continue
        box = None
        for ancestor in field.iterancestors():
            if ancestor.tag in ("body", "html", "article", "main") or len(ancestor.text_content().strip()) >= PRUNE_MAX_CHARS:
                break
            if any(len(_WORD.findall(p.text_content())) >= SIGNUP_MAX_PARAGRAPH_WORDS for p in ancestor.iter("p")):
                break
            box = ancestor
        if box is not None:
            boxes.append(box)
    return boxes


def _call_to_action_promos(tree: HtmlElement) -> list[HtmlElement]:
    """Promos without a form: a paragraph of fewer than ``SIGNUP_MAX_PARAGRAPH_WORDS`` words with a link that
    asks to sign up or subscribe, and the short line just before it when that names a newsletter ("Pick Six
    Newsletter"). Prose that mentions signing up has no such link."""
    found = []
    for para in tree.iter("p"):
        if len(_WORD.findall(para.text_content())) >= SIGNUP_MAX_PARAGRAPH_WORDS:
            continue
        if not any(_CALL_TO_ACTION.match(a.text_content()) for a in para.iter("a")):
            continue
        found.append(para)
        before = para.getprevious()
        if before is not None and isinstance(before.tag, str) and before.tag in ("p", "h2", "h3", "h4", "strong", "div") \
                and len(_WORD.findall(before.text_content())) <= PROMO_TITLE_MAX_WORDS \
                and "newsletter" in before.text_content().lower():
            found.append(before)
    return found


def _linked_headline_lists(tree: HtmlElement) -> list[HtmlElement]:
    """Lists of at least two items that are each one short link and nothing else: headlines of other stories.

    A list item with words outside its link ("City: <a>...</a>") or a long one is content, and stays.
    """
    found = []
    for listing in tree.iter("ul", "ol"):
        items = [child for child in listing if child.tag == "li"]
        if len(items) < 2:
            continue
        if all(_is_linked_headline(item) for item in items):
            found.append(listing)
    return found


def _is_linked_headline(item: HtmlElement) -> bool:
    words = _WORD.findall(item.text_content())
    if not words or len(words) > LINKED_HEADLINE_MAX_WORDS:
        return False
    link_words = sum(len(_WORD.findall(a.text_content())) for a in item.iter("a"))
    return link_words >= len(words)


def _hover_cards(tree: HtmlElement) -> list[HtmlElement]:
    """Hover cards and tooltips of a link: an element inside the link, or right after it (no text between),
    whose text starts with the link's own words (the name again, then a role, headlines, "Follow")."""
    cards = []
    for link in tree.iter("a"):
        name = " ".join((link.text or "").split())
        if len(name) < HOVER_CARD_MIN_NAME_CHARS:
            continue
        candidates = list(link)
        following = link.getnext()
        if following is not None and not (link.tail or "").strip():
            candidates.append(following)
        for candidate in candidates:
            if candidate.tag == "a" or not isinstance(candidate.tag, str):
                continue
            text = " ".join(candidate.text_content().split())
            if text.startswith(name) and len(text) < HOVER_CARD_MAX_CHARS:
                cards.append(candidate)
    return cards


def _declared_encodings(body: bytes, content_type: str | None) -> list[str]:
    """Python codec names declared by the header and by ``<meta>``, text encodings only, in that order."""
    labels: list[str] = []
    if content_type and (m := _HEADER_CHARSET.search(content_type)):
        labels.append(m.group(1))
    if mb := _META_CHARSET.search(body[:_META_SCAN_BYTES]):
        labels.append(mb.group(1).decode("ascii", errors="ignore"))
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


__all__ = ["PageContent", "PageMeta", "decoded_html", "feed_body_content", "page_content"]
