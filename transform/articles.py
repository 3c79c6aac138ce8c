"""An ``Article`` from a feed entry and what its page (or its feed body) says: the one place it is built.

Why one place: extraction (``extract/``) only reports what the bytes say; every decision that turns that
into a stored article (cleaning, the headline, the language, the canonical URL, which date wins, the size
and length limits) is made here, as pure functions, so the pipeline only calls extract and then this.
"""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from newswatch.errors import ItemError
from newswatch.models import Article, FeedEntry, PageContent, PageMeta, PageReading
from newswatch.records import Candidate
from transform.clean import cleaned_text, without_doubled_names
from transform.dates import parsed_datetime, published_at_from_url
from transform.language import detected_language
from transform.stories import content_hash
from transform.urls import article_id_for, normalized_url

# A feed body shorter than this many words is a teaser, not the article, and the page is fetched
# instead. Measured on the 13 eval feeds that carry content:encoded: teaser bodies (abc.net.au,
# El País, Foreign Policy, NDTV, NPR, NYT, Rest of World, The Week) run 2-45 words after cleaning
# (one El País outlier 245); full bodies (TIME, Dawn) run 154-4,751, median ~1,000; paywalled member
# previews (404 Media) run 65-200 and are better fetched.
MIN_FEED_BODY_WORDS = 150
# An extraction with fewer words than this is not an article (error pages, consent walls, empty
# shells, JavaScript-only pages where only a caption is in the HTML), and becomes a ``no_text``
# rejection. The shortest real articles in aeb_dev and trafilatura_en have 64 words after cleaning;
# a soft-404 page ("Sorry, we can't find that page ...") has about 15.
MIN_ARTICLE_WORDS = 25
# The longest text an article may have. The longest real article in the eval sets (91 aeb_dev bodies,
# 1,013 PolNeAR texts) has 34k characters. spaCy (en_core_web_sm, synthetic prose) took 4 s / 0.3 GB for
# 50k characters, 16 s / 0.8 GB for 200k and 58 s / 1.9 GB for 600k, and refuses 1M outright (E088),
# which failed the whole chunk and so every cycle after it. A longer "article" is a dump, not news.
MAX_ARTICLE_CHARS = 100_000
_WORD = re.compile(r"\w+")
# Chinese and Japanese are written without spaces: each ideograph or kana counts as a word.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def page_reading(content: PageContent) -> PageReading:
    """The cleaned text of a page with its title, author, canonical URL, language and publication time.

    Args:
        content: what ``extract.html.page_content`` found in the page.
    Returns:
        ``published_at_source`` is ``"page_metadata"`` or ``"url"``, or None when the page states no date.
    Raises:
        ItemError: reason ``no_text`` when fewer than ``MIN_ARTICLE_WORDS`` words remain after cleaning.
    """
    meta, url = content.meta, content.url
    text = _without_headline(without_doubled_names(cleaned_text(content.text)), meta.headlines)
    if (words := _word_count(text)) < MIN_ARTICLE_WORDS:
        raise ItemError("no_text", f"no article text found ({words} words): {url}")
    canonical = _canonical_url(meta.canonical_href, url)
    published_at, source = _page_published_at(meta, url, canonical, content.found_date)
    return PageReading(
        url=url,
        canonical_url=canonical,
        title=meta.title,
        author=meta.author,
        published_at=published_at,
        published_at_source=source,
        text=text,
        language=detected_language(text),
    )


def needs_date_search(meta: PageMeta, url: str) -> bool:
    """Whether a page states no readable date in its metadata or its URLs, so a text search is worth its cost.

    htmldate's fast search (``<time>``, date-classed elements, "Published ..." patterns) costs 4 ms a page,
    and only the ~20% of eval pages that state no date otherwise need it (it found a date on 37 of those 50).
    """
    if _metadata_date(meta) is not None:
        return False
    canonical = _canonical_url(meta.canonical_href, url)
    return published_at_from_url(url) is None and (canonical is None or published_at_from_url(canonical) is None)


def feed_body_text(content: PageContent | None) -> str | None:
    """The cleaned text of a feed item's full body, or None when it is only a teaser (the page is fetched).

    A body counts as the article when it has at least ``MIN_FEED_BODY_WORDS`` words after cleaning.
    """
    if content is None:
        return None
    text = cleaned_text(content.text)
    return text if _word_count(text) >= MIN_FEED_BODY_WORDS else None


def published_at_and_source(entry: FeedEntry, page_date: datetime | None, page_source: str | None, url: str,
                            fetched_at: datetime) -> tuple[datetime, str]:
    """Which date an article gets, and where it came from: the feed item, the page, the URL, the channel, the fetch."""
    if entry.published_at is not None:
        return entry.published_at, "feed"
    if page_date is not None:
        return page_date, page_source or "page_metadata"
    from_url = published_at_from_url(url)
    if from_url is not None:
        return from_url, "url"
    if entry.feed_date is not None:  # the channel's date: coarser than the page's, better than fetch time
        return min(entry.feed_date, fetched_at), "feed"
    return fetched_at, "fetched"


def article_from(cand: Candidate, *, final_url: str, fetched_at: datetime, page: PageContent | None = None,
                 feed_text: str | None = None) -> Article:
    """The article of a candidate entry, from its fetched page's content or, when ``page`` is None, its feed body.

    The feed entry's title and author win over the page's; the page's canonical link over the feed's link.

    Raises:
        ItemError: no article text (``no_text``) or text over ``MAX_ARTICLE_CHARS`` (``too_long``).
    """
    entry = cand.entry
    if page is None:
        text = feed_text or ""
        title, author, page_date, page_src, language = entry.title, entry.author, None, None, detected_language(text)
        canonical = cand.canonical_url
    else:
        reading = page_reading(page)
        text, language = reading.text, reading.language
        title = entry.title or reading.title
        author = entry.author or reading.author
        page_date, page_src = reading.published_at, reading.published_at_source
        canonical = reading.canonical_url or cand.canonical_url
    if not text.strip():
        raise ItemError("no_text", "no article text found")
    if len(text) > MAX_ARTICLE_CHARS:
        raise ItemError("too_long", f"article text of {len(text)} characters, over the {MAX_ARTICLE_CHARS} limit")
    published_at, source = published_at_and_source(entry, page_date, page_src, final_url, fetched_at)
    return Article(
        article_id=article_id_for(canonical),
        url=final_url,
        canonical_url=canonical,
        feed_id=cand.feed_id,
        title=(title or "").strip() or None,
        author=author,
        published_at=published_at,
        published_at_source=source,
        fetched_at=fetched_at,
        language=language,
        text=text,
        word_count=len(text.split()),
        content_hash=content_hash(text),
    )


def _metadata_date(meta: PageMeta) -> datetime | None:
    return next((found for value in meta.date_strings if (found := parsed_datetime(value))), None)


def _page_published_at(meta: PageMeta, url: str, canonical: str | None,
                       found_date: str | None) -> tuple[datetime | None, str | None]:
    """The publication time a page states and where: meta tags / JSON-LD, then the URL, then the text search."""
    if (stated := _metadata_date(meta)) is not None:
        return stated, "page_metadata"
    from_url = published_at_from_url(url) or (published_at_from_url(canonical) if canonical else None)
    if from_url is not None:
        return from_url, "url"
    parsed = parsed_datetime(found_date) if found_date else None
    return (parsed, "page_metadata") if parsed else (None, None)


def _word_count(text: str) -> int:
    """Words, counting each CJK character as one (those scripts do not separate words)."""
    unspaced = len(_UNSPACED.findall(text))
    return len(_WORD.findall(_UNSPACED.sub(" ", text))) + unspaced if unspaced else len(_WORD.findall(text))


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
