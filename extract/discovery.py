"""Where a site page says its feeds are: ``<link rel="alternate">`` and the paths feeds usually live at.

Why: operators paste a site's address, not its feed's. Pure: takes the fetched page, returns URLs to try.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from lxml import html as lxml_html

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
              "application/rdf+xml", "text/xml", "application/xml")
# Tried, in this order, on the page's site when the page links to no feed.
USUAL_PATHS = ("/feed", "/rss", "/atom.xml", "/feed.xml", "/rss.xml", "/index.xml", "/feed/")


def linked_feed_urls(html: str, base_url: str) -> list[str]:
    """Absolute URLs of the feeds a page links to with ``<link rel="alternate" type="...feed type">``,
    in document order, without repeats."""
    try:
        tree = lxml_html.document_fromstring(html)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return []
    base = next((b.get("href") for b in tree.iter("base") if b.get("href")), None)
    root = urljoin(base_url, base) if base else base_url
    out: list[str] = []
    for link in tree.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rels and kind in FEED_TYPES and href:
            url = urljoin(root, href)
            if urlsplit(url).scheme in ("http", "https") and url not in out:
                out.append(url)
    return out


def usual_feed_urls(page_url: str) -> list[str]:
    """The usual feed locations on ``page_url``'s site."""
    parts = urlsplit(page_url)
    return [f"{parts.scheme}://{parts.netloc}{p}" for p in USUAL_PATHS]
