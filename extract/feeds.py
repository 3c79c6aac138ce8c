"""Feed documents (RSS 0.9x/1.0/2.0, Atom, JSON Feed) to typed ``FeedEntry`` records. Pure: bytes in.

Why: feedparser is forgiving (a malformed feed still yields its items) but untyped, it trusts DTDs more
than we want, and it materialises every item of a document. So before feedparser sees the bytes we
refuse entity declarations (XXE, billion laughs), cut documents with more than ``max_items`` items
down to their first ``max_items`` (bounded memory for a 10,000-item feed), and afterwards we convert
its dictionaries at the edge: aware UTC dates (``calendar.timegm``, never ``time.mktime``), a
``dateparser`` fallback for the date strings feedparser cannot read or reads wrongly (non-US zone
names such as ``CET``, which it silently treats as UTC), absolute links, full bodies from
``content:encoded`` / Atom ``content``, and one entry per repeated item.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import html
import io
import json
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from extract.decoding import text_codec
from extract.limits import RAW_FIELD_CHARS, capped_author, capped_title
from newswatch.errors import ItemError
from newswatch.models import FeedEntry, ParsedFeed, plausible_datetime

# Default item bound per document. Real feeds carry 10-300 items (the largest of the 28 eval feeds has
# 300); 2,000 leaves room for archives while keeping feedparser's per-item dictionaries in the tens of MB.
DEFAULT_MAX_ITEMS = 2000
# dateparser costs ~10 ms per string it cannot read; after this many consecutive misses in one document
# we stop trying (the feed uses a format nobody reads), so a 2,000-item feed costs at most ~0.2 s extra.
_DATE_FALLBACK_GIVE_UP_AFTER = 20
# Zone names feedparser's RFC 822 parser knows (feedparser/datetimes/rfc822.py); any other alphabetic
# zone is silently read as UTC by feedparser, so dateparser reads those strings instead.
_FEEDPARSER_ZONES = frozenset(
    {"ut", "utc", "gmt", "z", "adt", "ast", "at", "edt", "est", "et", "cdt", "cst", "ct", "mdt", "mst",
     "mt", "pdt", "pst", "pt", "a", "n", "m", "y", "met", "mest"}
)
# Languages dateparser tries for non-RFC dates. Auto-detection over all ~200 locales cost 3.6 s on the
# first unreadable string of a process (locale data loading) against 0.4 s for these seven; feeds in
# other languages overwhelmingly use RFC 822 / ISO 8601 dates, which never reach dateparser.
_DATEPARSER_LANGUAGES = ["en", "de", "fr", "es", "it", "pt", "nl"]
_DATEPARSER_SETTINGS = {
    "TIMEZONE": "UTC", "TO_TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True,
    # No relative dates ("yesterday") and no filling of missing parts from today: results must not
    # depend on when the feed is parsed.
    "PARSERS": ["timestamp", "custom-formats", "absolute-time"], "REQUIRE_PARTS": ["day", "month", "year"],
}
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_CDATA_OR_COMMENT = re.compile(rb"<!\[CDATA\[.*?\]\]>|<!--.*?-->", re.DOTALL)
_ITEM_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>", re.IGNORECASE)
_ITEM_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]", re.IGNORECASE)
_XML_DECL = re.compile(rb"<\?xml[^>]*\?>", re.IGNORECASE)
_DECLARED_PREFIX = re.compile(rb"xmlns:([A-Za-z_][\w.-]*)\s*=")
_USED_PREFIX = re.compile(rb"</?([A-Za-z_][\w.-]*):[A-Za-z_]")
_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?([^\"';\s]*)[\"']?", re.IGNORECASE)
# The encoding pseudo-attribute of an XML declaration, which must open the document (BOM aside).
_XML_ENCODING = re.compile(rb"(\xef\xbb\xbf)?\s{0,100}<\?xml[^>?]{0,200}?encoding\s*=\s*[\"']([^\"'>]{0,60})[\"']")
_TAG = re.compile(r"<[^<>]*>")  # not [^>]*: a run of "<" without ">" would be rescanned from each one


@dataclass(frozen=True, slots=True)
class FeedReport:
    """A parsed feed plus what parsing had to do to it (for logs, feed health and the eval)."""

    feed: ParsedFeed
    items_in_document: int  # items before de-duplication and truncation
    duplicates: int  # repeated items dropped (same GUID and link as an earlier item)
    truncated: int  # items beyond max_items, not parsed
    undated: int  # entries without published_at
    unreadable_dates: int  # of those, entries that had a date string nobody could read


def body_hash(body: bytes) -> str:
    """The sha256 of a fetched body: an unchanged feed is detected without parsing it."""
    return hashlib.sha256(body).hexdigest()


def parsed_feed(body: bytes, *, feed_id: str, url: str, content_type: str | None = None,
                max_items: int = DEFAULT_MAX_ITEMS) -> ParsedFeed:
    """Parse one feed document into entries.

    Args:
        body: the document as fetched (any encoding; the charset comes from ``content_type``, the XML
            declaration or a BOM).
        feed_id: copied into every entry.
        url: the URL the document came from (after redirects); relative links are resolved against it.
        content_type: the ``Content-Type`` header, if any.
        max_items: only the first ``max_items`` items are parsed; the rest of the document is cut
            before parsing, so memory stays bounded for huge feeds.
    Returns:
        A ``ParsedFeed``; ``warning`` carries feedparser's complaint when a malformed feed still parsed.
        A well-formed feed with no items gives no entries and no error.
    Raises:
        ItemError: ``xml_entities`` (a DTD declaring entities: XXE / billion laughs, refused without
            expansion), ``not_xml`` (not a feed), ``empty_feed`` (a broken feed with no readable item),
            ``bad_json`` (a JSON body that does not parse), ``too_many_items`` (a UTF-16/32 document with
            more than ``max_items`` items, which is not cut).
    """
    return feed_report(body, feed_id=feed_id, url=url, content_type=content_type, max_items=max_items).feed


def feed_report(body: bytes, *, feed_id: str, url: str, content_type: str | None = None,
                max_items: int = DEFAULT_MAX_ITEMS) -> FeedReport:
    """``parsed_feed`` with counts of duplicates, truncated items and undated entries (same arguments)."""
    text_view = _ascii_compatible(body)
    if not text_view.strip():
        raise ItemError("empty_feed", "the document is empty")
    if text_view.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        return _json_feed_report(body, feed_id=feed_id, url=url, max_items=max_items)
    _refuse_entity_declarations(text_view)
    bounded, items_in_document = _bounded_document(body, text_view, max_items)
    # Without a Content-Type, say application/xml: the XML declaration then decides the charset
    # (RFC 7303) and feedparser does not flag the document for a missing header. No
    # Content-Location: feedparser would resolve RSS GUIDs such as "333483" against it, turning an
    # identifier into a URL that changes with the feed's address; item links are resolved below.
    headers = {"content-type": _usable_content_type(content_type) or "application/xml"}
    bounded = _usable_xml_declaration(bounded) if text_view is body else bounded
    doc = feedparser.parse(io.BytesIO(bounded), response_headers=headers, sanitize_html=True)
    if not doc.entries and doc.bozo:
        recovered = _recovered_document(bounded)
        if recovered is not None:
            retry = feedparser.parse(io.BytesIO(recovered), response_headers=headers, sanitize_html=True)
            if retry.entries:
                doc = retry
    if not doc.entries:
        if doc.bozo and not doc.version:
            raise ItemError("not_xml", f"not a feed document ({_bozo_text(doc)})")
        if doc.bozo:
            raise ItemError("empty_feed", f"no readable item in a broken feed ({_bozo_text(doc)})")
    dates = _DateReader()
    entries = [_entry(e, feed_id, url, dates) for e in doc.entries[:max_items]]
    channel_date = dates.published(doc.feed)
    if channel_date is not None:  # undated items carry the channel's date as a last resort (see FeedEntry)
        entries = [replace(e, feed_date=channel_date) if e.published_at is None else e for e in entries]
    unique = _without_repeats(entries)
    # A feed served as text/html or text/plain is common and harmless: not worth a warning.
    harmless = isinstance(doc.get("bozo_exception"), feedparser.NonXMLContentType)
    warning = _bozo_text(doc) if doc.bozo and not harmless else None
    truncated = max(0, items_in_document - max_items)
    if truncated:
        warning = (warning + "; " if warning else "") + f"only the first {max_items} of {items_in_document} items read"
    feed = ParsedFeed(title=capped_title(_clean(_normalised_space(doc.feed.get("title")))), entries=tuple(unique),
                      warning=warning)
    undated = sum(1 for e in unique if e.published_at is None and e.feed_date is None)
    return FeedReport(feed, max(items_in_document, len(entries)), len(entries) - len(unique), truncated,
                      undated, min(undated, dates.unreadable))


def _ascii_compatible(body: bytes) -> bytes:
    """``body`` in an ASCII-compatible encoding, so byte regexes see its markup (UTF-16/32 transcoded)."""
    head = body[:4]
    for bom, codec in ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
                       (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le")):
        if head.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace").encode("utf-8")
    if head.startswith(b"\x00<") or head.startswith(b"<\x00"):
        codec = "utf-16-be" if head.startswith(b"\x00") else "utf-16-le"
        return body.decode(codec, errors="replace").encode("utf-8")
    return body


def _usable_content_type(content_type: str | None) -> str | None:
    """``content_type`` without its ``charset`` parameter when that names no usable text encoding.

    feedparser decodes with whatever the header names, and a codec such as ``undefined`` raises out of
    it; without the parameter the XML declaration, a BOM or UTF-8 decides, as for a header-less feed.
    """
    if not content_type or not (m := _CHARSET_PARAM.search(content_type)) or text_codec(m.group(1)):
        return content_type
    return (content_type[: m.start()] + content_type[m.end():]).strip(" ;") or None


def _usable_xml_declaration(body: bytes) -> bytes:
    """``body`` with an XML declaration's unusable ``encoding`` (``zlib``, ``undefined`` ...) read as UTF-8."""
    m = _XML_ENCODING.match(body)
    if m is None or text_codec(m.group(2).decode("ascii", errors="replace")):
        return body
    return body[: m.start(2)] + b"utf-8" + body[m.end(2):]


def _refuse_entity_declarations(text_view: bytes) -> None:
    """Refuse any ``<!ENTITY`` outside CDATA and comments: no real feed declares entities.

    Refusing the declaration (instead of trusting the parser not to expand it) covers billion laughs,
    quadratic blow-up and external entities (XXE) alike, whichever parser feedparser falls back to.
    """
    if _ENTITY_DECL.search(text_view) and _ENTITY_DECL.search(_CDATA_OR_COMMENT.sub(b"", text_view)):
        raise ItemError("xml_entities", "the document declares XML entities (refused, not expanded)")


def _bounded_document(body: bytes, text_view: bytes, max_items: int) -> tuple[bytes, int]:
    """The document with only its first ``max_items`` items, and how many items it had.

    Keeps everything up to the end of item ``max_items`` plus everything after the last item (the
    closing ``</channel></rss>`` / ``</feed>`` / ``</rdf:RDF>``), so the result stays well-formed.
    UTF-16/32 documents are counted but not cut (their byte offsets differ from the view's).
    """
    ends = [m.end() for m in _ITEM_END.finditer(text_view)]
    # Items are counted by their starts too: 150,000 "<item>" that are never closed (4.7 MB) have no end
    # to cut at, and feedparser would build a dictionary for every one of them.
    starts = [m.start() for m in _ITEM_START.finditer(text_view)]
    count = max(len(ends), len(starts))
    if count <= max_items:
        return body, count
    if text_view is not body:
        raise ItemError("too_many_items", f"a UTF-16/32 document with {count} items, over the {max_items}-item "
                        "cap (only ASCII-compatible documents are cut)")
    if len(ends) >= max_items and (len(starts) <= max_items or ends[max_items - 1] <= starts[max_items]):
        return body[: ends[max_items - 1]] + body[ends[-1]:], count
    # Unclosed items: cut before item max_items + 1 and keep the closing tags after the last item end,
    # if any; feedparser's loose parser reads the rest.
    cut = starts[max_items]
    tail = body[ends[-1]:] if ends and ends[-1] > cut else b""
    return body[:cut] + tail, count


def _recovered_document(body: bytes) -> bytes | None:
    """A repaired copy of a document feedparser found no item in, or ``None`` when nothing to repair.

    Repairs two mistakes seen in hand-made feeds: an XML declaration that is misplaced or garbled
    (``<?xml?xml ... ??>`` after a comment), and element names with a namespace prefix that is never
    declared (``<rss:item>`` without ``xmlns:rss``), which XML parsers reject and feedparser's loose
    parser does not recognise.
    """
    repaired = body
    first = _XML_DECL.search(repaired)
    if first and (first.start() > 0 or not re.match(rb"<\?xml\s+version=", first.group(0))):
        repaired = _XML_DECL.sub(b"", repaired)
    declared = set(_DECLARED_PREFIX.findall(repaired)) | {b"xml", b"xmlns"}
    for prefix in set(_USED_PREFIX.findall(repaired)) - declared:
        p = re.escape(prefix)
        repaired = re.sub(rb"<(/?)" + p + rb":", rb"<\1", repaired)
        repaired = re.sub(rb"(\s)" + p + rb":([A-Za-z_][\w.-]*\s*=)", rb"\1\2", repaired)
    return None if repaired == body else repaired


class _DateReader:
    """Entry dates as aware UTC datetimes: feedparser's parse, else dateparser on the raw string."""

    def __init__(self) -> None:
        self.unreadable = 0
        self._misses_in_a_row = 0

    def published(self, e: Any) -> datetime | None:
        raw_seen = False
        for key in ("published", "updated", "created"):
            raw = e.get(key)
            parsed = e.get(f"{key}_parsed")
            if not raw and not parsed:
                continue
            raw_seen = True
            if parsed and not (isinstance(raw, str) and _zone_unknown_to_feedparser(raw)):
                when = _from_struct(parsed)
                if when is not None:
                    return when
            when = self._fallback(raw) if isinstance(raw, str) else None
            if when is None and parsed:
                when = _from_struct(parsed)
            if when is not None:
                return when
        self.unreadable += raw_seen
        return None

    def _fallback(self, raw: str) -> datetime | None:
        if self._misses_in_a_row >= _DATE_FALLBACK_GIVE_UP_AFTER:
            return None
        when = _isoparsed(raw.strip()) or _dateparsed(raw.strip()[:100])
        self._misses_in_a_row = 0 if when is not None else self._misses_in_a_row + 1
        return when


def _zone_unknown_to_feedparser(raw: str) -> bool:
    match = re.search(r"\b([A-Za-z]{1,5})\s*$", raw.strip())
    return match is not None and match.group(1).lower() not in _FEEDPARSER_ZONES and re.search(r"\d", raw) is not None


def _from_struct(value: time.struct_time) -> datetime | None:
    try:
        return plausible_datetime(datetime.fromtimestamp(calendar.timegm(value), tz=UTC))
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _isoparsed(raw: str) -> datetime | None:
    """ISO 8601 / RFC 3339 (JSON Feed, some RSS), read without dateparser; naive means UTC.

    A date with no UTC instant (``9999-12-31T23:59:59-12:00``) or an absurd year is no date at all.
    """
    try:
        when = datetime.fromisoformat(raw)
        return plausible_datetime((when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC))
    except (ValueError, OverflowError):
        return None


@functools.lru_cache(maxsize=4096)
def _dateparsed(raw: str) -> datetime | None:
    import dateparser  # imported lazily: ~1 s of language data, needed only for odd feeds

    try:
        when = dateparser.parse(raw, languages=_DATEPARSER_LANGUAGES, settings=_DATEPARSER_SETTINGS)
        return plausible_datetime(when.astimezone(UTC)) if when is not None else None
    except (ValueError, OverflowError):  # dateparser builds datetimes from whatever numbers it found
        return None


def _entry(e: Any, feed_id: str, base_url: str, dates: _DateReader) -> FeedEntry:
    return FeedEntry(
        feed_id=feed_id,
        url=_absolute_link(e.get("link"), base_url),
        guid=_clean(e.get("id")),
        title=capped_title(_plain_title(e)),
        author=capped_author(_clean(_normalised_space(e.get("author")))),
        published_at=dates.published(e),
        summary=_clean(e.get("summary")),
        content_html=_content_html(e.get("content")),
    )


def _plain_title(e: Any) -> str | None:
    """The title as plain text: HTML titles (Atom ``type="html"``, or markup a broken feed left in) lose
    their tags and entities, since a title is stored and matched as text."""
    title = e.get("title")
    if not isinstance(title, str):
        return None
    title = title[:RAW_FIELD_CHARS]  # the title is capped anyway: do not pay for a 1 MB one
    if "html" in ((e.get("title_detail") or {}).get("type") or ""):
        title = html.unescape(_TAG.sub("", title))
    return _clean(" ".join(title.split()))


def _normalised_space(value: Any) -> str | None:
    return " ".join(value[:RAW_FIELD_CHARS].split()) if isinstance(value, str) else None


def _content_html(content: Any) -> str | None:
    """The full body from ``content:encoded`` / Atom ``content``: the first non-empty HTML part.

    Plain-text parts are ignored: feedparser also reports Media RSS captions (``media:description``)
    as ``text/plain`` content, and a caption must not pass for the article.
    """
    for part in content or []:
        if "html" in (part.get("type") or "") and (part.get("value") or "").strip():
            return str(part["value"])
    return None


def _absolute_link(link: Any, base_url: str) -> str:
    """The item link made absolute against the feed URL; "" when missing or not http(s)."""
    if not isinstance(link, str) or not link.strip():
        return ""
    try:
        absolute = urljoin(base_url, link.strip())
        scheme = urlsplit(absolute).scheme.lower()
    except ValueError:
        return ""
    return absolute if scheme in ("http", "https") else ""


def _without_repeats(entries: list[FeedEntry]) -> list[FeedEntry]:
    """Drop items repeating an earlier item's GUID *and* link (keep the first).

    The link is part of the key because some feeds give every item the same GUID; items with neither
    GUID nor link cannot be compared and are all kept.
    """
    seen: set[tuple[str, str]] = set()
    unique = []
    for entry in entries:
        key = (entry.guid or "", entry.url)
        if key != ("", ""):
            if key in seen:
                continue
            seen.add(key)
        unique.append(entry)
    return unique


def _clean(value: Any) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    return text or None


def _bozo_text(doc: Any) -> str:
    exc = doc.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}"[:300] if exc is not None else "malformed document"


def _json_feed_report(body: bytes, *, feed_id: str, url: str, max_items: int) -> FeedReport:
    """A JSON Feed (https://jsonfeed.org/version/1.1) document, bounded like the XML path.

    The JSON is untyped third-party input: every field is read through a type check (``_json_str`` ...),
    so a field of the wrong type is ignored, and an item that is not an object is skipped and counted in
    the warning; neither ever raises.
    """
    try:
        doc = json.loads(body.decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError) as exc:
        raise ItemError("bad_json", f"the body looks like JSON but does not parse ({str(exc)[:100]})") from exc
    if not isinstance(doc, dict) or "jsonfeed.org" not in (_json_str(doc.get("version")) or ""):
        raise ItemError("not_xml", "JSON, but not a JSON Feed")
    raw_items = doc.get("items")
    listed = raw_items if isinstance(raw_items, list) else []
    items = [i for i in listed if isinstance(i, dict)]
    problems = []
    if raw_items is not None and not isinstance(raw_items, list):
        problems.append(f"'items' is a {type(raw_items).__name__}, not a list: no item read")
    if len(items) < len(listed):
        problems.append(f"{len(listed) - len(items)} items that are not objects skipped")
    dates = _DateReader()
    entries = [_json_entry(i, feed_id, url, dates) for i in items[:max_items]]
    unique = _without_repeats(entries)
    truncated = max(0, len(items) - max_items)
    if truncated:
        problems.append(f"only the first {max_items} of {len(items)} items read")
    feed = ParsedFeed(title=capped_title(_clean(_normalised_space(_json_str(doc.get("title"))))), entries=tuple(unique),
                      warning="; ".join(problems) or None)
    undated = sum(1 for e in unique if e.published_at is None and e.feed_date is None)
    return FeedReport(feed, len(items), len(entries) - len(unique), truncated, undated, min(undated, dates.unreadable))


def _json_entry(item: dict[str, Any], feed_id: str, base_url: str, dates: _DateReader) -> FeedEntry:
    authors = item.get("authors")
    if not isinstance(authors, list):  # JSON Feed 1.0 had a single "author" object
        authors = [item.get("author")]
    names = [name for a in authors if isinstance(a, dict) and (name := _clean(_json_str(a.get("name"))))]
    text = _json_str(item.get("content_text"))
    body = _json_str(item.get("content_html")) or (html.escape(text) if text and text.strip() else None)
    raw_date = {"published": _json_str(item.get("date_published")), "updated": _json_str(item.get("date_modified"))}
    raw_id = item.get("id")
    # The spec says a string, but integer ids are common; a bool, an object or a list is no id.
    guid = raw_id if isinstance(raw_id, str) else str(raw_id) if isinstance(raw_id, int | float) and not isinstance(raw_id, bool) else None
    return FeedEntry(
        feed_id=feed_id,
        url=_absolute_link(_json_str(item.get("url")) or _json_str(item.get("external_url")), base_url),
        guid=_clean(guid),
        title=capped_title(_clean(_normalised_space(_json_str(item.get("title"))))),
        author=capped_author(", ".join(names) or None),
        published_at=dates.published({k: v for k, v in raw_date.items() if v}),
        summary=_clean(_json_str(item.get("summary"))),
        content_html=body,
    )


def _json_str(value: Any) -> str | None:
    """A JSON Feed string field: the value when it is a string, else None (the field is ignored)."""
    return value if isinstance(value, str) else None
