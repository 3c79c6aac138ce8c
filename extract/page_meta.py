"""What a page says about itself: canonical link, title, author and publication-time strings.

Why not trafilatura's ``with_metadata=True``: it runs htmldate's search and scans the whole tree for
authors, categories, tags and licences, which costs more than the text extraction itself
(docs/stack-notes.md#trafilatura), and its ``url`` silently falls back to the URL we passed, so "the page has no
canonical link" cannot be told apart. The few fields we store are in ``<meta>`` tags, ``<link
rel=canonical>`` and JSON-LD on virtually every news page, and one pass over those elements is cheap.
Values are returned as the page writes them (dates as strings, the canonical link unresolved): reading
them is ``transform``'s business, so extraction can be tested and replaced on its own.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

from lxml.etree import XPath
from lxml.html import HtmlElement

from extract.limits import RAW_FIELD_CHARS, capped_title
from newswatch.models import PageMeta

# Meta keys (name=, property= or itemprop=, lower-cased) holding the *first* publication time, best
# first. Modification times (article:modified_time, dateModified) are deliberately absent: an
# update stamp is not when the story appeared.
PUBLISHED_KEYS = (
    "article:published_time", "og:article:published_time", "og:published_time", "datepublished",
    "article.published", "article:published", "publish-date", "publish_date", "publishdate", "pubdate",
    "parsely-pub-date", "sailthru.date", "dc.date.issued", "dcterms.issued", "dcterms.created",
    "dc.date.created", "dc.date", "date", "cxenseparse:recs:publishtime", "article_date_original",
    "original-publish-date", "og:pubdate", "pub_date", "displaydate",
)
AUTHOR_KEYS = ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator", "dcterms.creator", "byl")
TITLE_KEYS = ("og:title", "twitter:title", "headline", "parsely-title", "sailthru.title", "dc.title")

_ARTICLE_TYPES = frozenset(
    {
        "article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
        "backgroundnewsarticle", "reviewnewsarticle", "blogposting", "liveblogposting", "report",
        "scholarlyarticle", "techarticle", "socialmediaposting",
    }
)
_BY_PREFIX = re.compile(r"^\s*(?:(?:written |posted )?by|von|par|por|di|door|author)\s*:?\s+", re.IGNORECASE)
# (?<!\s): a match starts at the first space of a run (where the leftmost match starts anyway), so a run of
# spaces is scanned once, not once from each of its characters.
_TITLE_SEPARATORS = re.compile(r"(?<!\s)\s+(?:\||-|–|—|::|»|·)\s+")
# Byline elements, read only when the page declares no author in JSON-LD or meta tags.
_BYLINE_XPATH = XPath(
    "//*[@itemprop='author' or @rel='author' or contains(@class, 'byline') or contains(@class, 'author-name')"
    " or contains(@class, 'author__name') or contains(@class, 'authorName')]"
)
# What a byline element must look like to be taken as a name: one to five capitalised words (with
# "and", initials, hyphens, apostrophes), not "Follow" or "Posted by admin on 3 May".
_BYLINE_NAME = re.compile(r"^(?:[A-ZÀ-Þ][\w.'’-]*\.?(?: (?:and|&|de|van|von|da|del|der|di|la|le|bin|al)| [A-ZÀ-Þ][\w.'’-]*\.?|,){0,6})$")
# An author longer than this is a bio paragraph or a list of every contributor, not a byline.
MAX_AUTHOR_CHARS = 120


def page_meta(tree: HtmlElement) -> PageMeta:
    """Read the canonical link, title, author and publication-time strings a page declares.

    Args:
        tree: the parsed page (not modified).
    Returns:
        A ``PageMeta``; every field may be None when the page does not say.
    """
    metas = _meta_values(tree)
    ld = list(_json_ld_articles(tree))
    og_url = metas.get("og:url")
    canonical = _canonical_href(tree) or (" ".join(og_url[0].split()) if og_url else None)
    h1 = _h1_text(tree)
    title_tag = _text(tree.find(".//title"))
    site = _first(metas.get("og:site_name"))
    ld_headline = next((_as_text(obj.get("headline")) for obj in ld if obj.get("headline")), None)
    # html.unescape: CMSs often escape twice ("O&#039;Donnell" arrives as text after parsing).
    titles = [html.unescape(t) if t else None for t in [_first(metas.get(k)) for k in TITLE_KEYS[:2]] + [ld_headline, h1]]
    title = next((_without_site(t, site) for t in titles if t), None) or _title_from_tag(title_tag)
    headlines = tuple(dict.fromkeys(
        h[:RAW_FIELD_CHARS] for h in (*titles, *(_first(metas.get(k)) for k in TITLE_KEYS[2:]), title_tag,
                                      *(_TITLE_SEPARATORS.split(title_tag or "")), title)
        if h
    ))
    return PageMeta(
        canonical_href=canonical,
        title=capped_title(title),
        author=_author(metas, ld, tree),
        date_strings=_date_strings(metas, ld, tree),
        headlines=headlines,
    )


def _meta_values(tree: HtmlElement) -> dict[str, list[str]]:
    """``<meta>`` contents keyed by lower-cased name/property/itemprop, in document order."""
    values: dict[str, list[str]] = {}
    for element in tree.iter("meta"):
        content = element.get("content")
        if not content or not content.strip():
            continue
        for attribute in ("property", "name", "itemprop"):
            key = element.get(attribute)
            if key:
                values.setdefault(key.strip().lower(), []).append(content.strip())
    return values


def _canonical_href(tree: HtmlElement) -> str | None:
    for element in tree.iter("link"):
        rel = (element.get("rel") or "").lower().split()
        href = (element.get("href") or "").strip()
        if "canonical" in rel and href:
            return href
    return None


def _json_ld_articles(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """Article objects (and, after them, any object with a publication date) from JSON-LD blocks."""
    fallbacks: list[dict[str, Any]] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except json.JSONDecodeError:  # hand-written JSON-LD is often broken; the other sources remain
            continue
        for obj in _ld_objects(data):
            types = obj.get("@type")
            names = {t.lower() for t in (types if isinstance(types, list) else [types]) if isinstance(t, str)}
            if names & _ARTICLE_TYPES:
                yield obj
            elif obj.get("datePublished"):
                fallbacks.append(obj)
    yield from fallbacks


def _ld_objects(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 3:
        return
    if isinstance(data, list):
        for item in data:
            yield from _ld_objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _ld_objects(data["@graph"], depth + 1)
        if isinstance(data.get("mainEntity"), dict):
            yield from _ld_objects(data["mainEntity"], depth + 1)


def _date_strings(metas: dict[str, list[str]], ld: list[dict[str, Any]], tree: HtmlElement) -> tuple[str, ...]:
    """Every publication-time string the page declares, best source first (the first readable one wins)."""
    candidates: list[str] = []
    for key in PUBLISHED_KEYS[:3]:
        candidates += metas.get(key, [])
    candidates += [v for obj in ld if isinstance(v := obj.get("datePublished"), str)]
    for key in PUBLISHED_KEYS[3:]:
        candidates += metas.get(key, [])
    for element in tree.iter("time"):
        marked = element.get("itemprop") == "datePublished" or element.get("pubdate") is not None
        if marked or "publish" in (element.get("class") or "").lower():
            candidates.append(element.get("datetime") or "")
    return tuple(candidates)


def _author(metas: dict[str, list[str]], ld: list[dict[str, Any]], tree: HtmlElement) -> str | None:
    """JSON-LD author, then author meta tags, then a byline element in the page."""
    for obj in ld:
        author = obj.get("author")
        names = [_person_name(a) for a in (author if isinstance(author, list) else [author])]
        found = [n for n in names if n]
        if found:
            return _clean_author("; ".join(dict.fromkeys(found)))
    for key in AUTHOR_KEYS:
        for value in metas.get(key, []):
            author = _clean_author(value)
            if author:
                return author
    for element in _BYLINE_XPATH(tree):
        named = element.find(".//*[@itemprop='name']") if element.get("itemprop") == "author" else None
        source = named if named is not None else element
        text = source.get("content") or source.text_content()
        author = _clean_author(text)
        if author and _BYLINE_NAME.match(author):
            return author
    return None


def _person_name(value: Any) -> str | None:
    if isinstance(value, str):
        return _clean_author(value)
    if isinstance(value, dict):
        return _clean_author(_as_text(value.get("name")) or "")
    return None


def _clean_author(value: str) -> str | None:
    value = _BY_PREFIX.sub("", " ".join(html.unescape(value).split()))
    if not value or len(value) > MAX_AUTHOR_CHARS or "://" in value or value.startswith("www.") or "@" in value:
        return None
    return value


def _h1_text(tree: HtmlElement) -> str | None:
    body = tree.find(".//body")
    element = (body if body is not None else tree).find(".//h1")
    return _text(element)


def _text(element: HtmlElement | None) -> str | None:
    if element is None:
        return None
    text = " ".join(element.text_content()[:RAW_FIELD_CHARS].split())
    return text or None


def _as_text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return " ".join(value[:RAW_FIELD_CHARS].split())
    return None


def _first(values: list[str] | None) -> str | None:
    """The first value, whitespace-normalised; only its first ``RAW_FIELD_CHARS`` characters are read
    (titles are capped below that, and no real site name is that long)."""
    return " ".join(values[0][:RAW_FIELD_CHARS].split()) if values else None


def _without_site(title: str, site: str | None) -> str:
    """``"Headline | Site"`` -> ``"Headline"`` when the suffix is the site's name."""
    separators = list(_TITLE_SEPARATORS.finditer(title)) if site else []
    if site and separators and title[separators[-1].end():].strip().lower() == site.strip().lower():
        return title[: separators[-1].start()].strip() or title
    return title


def _title_from_tag(title: str | None) -> str | None:
    """The longest separator-delimited part of ``<title>``: the headline, not the site name."""
    if not title:
        return None
    parts = [p for p in _TITLE_SEPARATORS.split(title) if p.strip()]
    return max(parts, key=len) if parts else title
