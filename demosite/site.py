"""The bundled offline demo: four fictional outlets, their feeds and article pages, served on 127.0.0.1.

Why: ``newswatch demo`` must show the whole pipeline working with no internet, on content that
exercises what real news does to a pipeline: full-body and summary-only RSS, Atom and RSS 1.0 feeds,
a wire story syndicated by two outlets, the same link in two feeds (once with utm_ parameters), an
"UPDATED" rewrite of a story, an item with no date in its feed, a windows-1252 page, a paywall stub
with no article text, a feed that answers 500 and one that serves an HTML error page.

Content lives in ``content/`` as data (see ``content/site.json``). Dates are written relative to
"now" so the demo warehouse always looks current, and links are written against ``{{BASE}}`` because
the server's port is only known once it is bound. Placeholders, filled when the site is built:

=========================  =====================================================================
``{{BASE}}``               the server's base URL, e.g. ``http://127.0.0.1:40123``
``{{FMT-<n><m|h|d>}}``     now minus an offset, e.g. ``{{RFC822-40m}}``, ``{{ISO-2d}}``
``{{FMT:<page>}}``         a page's publication time, e.g. ``{{RFC822:harbor-courier/kim-talks}}``
``{{FMT:<page>:updated}}`` a page's modification time
``{{BODY:<page>}}``        a page's article body HTML (for content:encoded)
``{{NAME}}``               in templates only: a field of the page being rendered (TITLE, BODY ...)
=========================  =====================================================================

``FMT`` is one of ``RFC822`` (RSS pubDate, GMT), ``ISO`` (UTC, ``Z``), ``ISOLOCAL`` (ISO with a
+10:00 offset, as an RDF feed of a local paper would write it) and ``HUMAN`` (bylines).

Article files are ``content/articles/<outlet>/<slug>.html``: a ``---`` header of ``key: value``
lines (path, title, author, published, updated, section, summary, tags, caption, credit, related,
charset, kind), the body HTML, and optionally ``=== comments ===`` followed by the comments HTML.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from demosite.loopback import LoopbackSite, Route, strong_etag

DEMO_TOPICS: list[dict[str, str]] = [
    {"name": "korea-diplomacy", "query": '"Kim Jong Un" OR ("North Korea" AND (summit OR talks)) NOT sport*'},
    {"name": "central-banks", "query": '"central bank" OR "Reserve Bank" OR ("interest rates" AND inflation)'},
    {"name": "elections", "query": "(election* OR ballot*) AND (mayor* OR parliament*)"},
]
"""Topics for the demo config. The sports story mentions "North Korea" and "talks", so the
``NOT sport*`` clause is what keeps it out of ``korea-diplomacy``."""

DEMO_CASES: dict[str, tuple[str, ...]] = {
    "no_text": ("capital-ledger/mortgage-paywall",),
    "windows_1252": ("daily-meridian/glaciers",),
    "no_feed_date": ("capital-ledger/alder-line-profit",),
    "link_in_two_feeds": ("harbor-courier/kim-talks",),
    "syndicated": ("northern-wire/reserve-bank", "capital-ledger/reserve-bank"),
    "updated": ("harbor-courier/mayor-count", "harbor-courier/mayor-count-update"),
    "topic_excluded_by_not": ("northern-wire/korea-qualifier",),
    "feed_http_500": ("Capital Ledger - Markets",),
    "feed_not_xml": ("Daily Meridian - Sport",),
}
"""What each deliberate trap in the content is, by page key (or feed name), so the demo command and
its tests can say what should have happened without hard-coding paths."""

_CONTENT: Traversable = files("demosite") / "content"
_PLACEHOLDER = re.compile(r"\{\{([A-Z][A-Z0-9_]*)(?:(-\d+[mhd])|:([^{}]+))?\}\}")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_LOCAL_TZ = timezone(timedelta(hours=10))  # the fictional Port Alder's offset, for ISOLOCAL
_WORDS_PER_MINUTE = 230  # the "4 min read" figure; a common newsroom reading speed


@dataclass(frozen=True, slots=True)
class DemoPage:
    """One article page of the demo, as written in ``content/articles``."""

    key: str  # "<outlet>/<slug>"
    outlet: str
    path: str
    title: str
    author: str
    published: datetime
    updated: datetime
    section: str
    summary: str
    tags: tuple[str, ...]
    caption: str
    credit: str
    related: tuple[str, ...]
    charset: str
    kind: str  # article | paywall
    body: str
    comments: str

    @property
    def image_path(self) -> str:
        return f"/{self.outlet}/media/{self.key.split('/', 1)[1]}.svg"


def demo_site(*, now: datetime | None = None) -> LoopbackSite:
    """Build the demo site with every feed, page, image and index route registered.

    The server is bound (so ``base_url`` is known) but not started: call ``start()`` or use it as a
    context manager.

    Args:
        now: the moment the content's relative dates count back from (UTC); defaults to the current
            minute. Pass it to get byte-identical content in tests.
    Returns:
        A bound, not yet started ``LoopbackSite``.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    site = LoopbackSite()
    pages = demo_pages(now)
    manifest = _manifest()
    http_date = format_datetime(now, usegmt=True)
    for feed in manifest["feeds"]:
        body = _filled(_read(feed["file"]), site.base_url, now, pages).encode("utf-8")
        status = int(feed.get("status", 200))
        # ETag/Last-Modified (304 on the next poll) only for real feeds, so a broken one fails every poll.
        conditional = status == 200 and feed.get("conditional", True)
        etag = strong_etag(body) if conditional else None
        last_modified = http_date if conditional else None
        site.add(feed["path"], Route(body, status, content_type=feed["content_type"], etag=etag,
                                     last_modified=last_modified))
    for page in pages.values():
        body = _page_html(page, manifest, site.base_url, now, pages).encode(page.charset)
        # A legacy CMS: the charset is declared only in the page's <meta http-equiv>, not the header.
        ctype = "text/html; charset=utf-8" if page.charset == "utf-8" else "text/html"
        site.add(page.path, Route(body, content_type=ctype, etag=strong_etag(body)))
        site.add(page.image_path, Route(_image_svg(page), content_type="image/svg+xml"))
    for outlet, info in manifest["outlets"].items():
        index = _index_html(info["name"], [p for p in pages.values() if p.outlet == outlet], site.base_url)
        site.add(f"/{outlet}/", Route(index))
        site.add(f"/{outlet}", Route(index))
    site.add("/", Route(_front_html(manifest, pages, site.base_url)))
    return site


def demo_feeds(site: LoopbackSite) -> list[dict[str, str]]:
    """The demo's feeds as ``config.yaml`` entries, broken ones included.

    Args:
        site: the site from ``demo_site()`` (its base URL makes the feed URLs absolute).
    Returns:
        ``[{"name": ..., "url": ...}]`` in the order of ``content/site.json``.
    """
    return [{"name": f["name"], "url": site.url(f["path"])} for f in _manifest()["feeds"]]


def demo_page_url(site: LoopbackSite, key: str) -> str:
    """The absolute URL of the demo page ``key`` (e.g. ``"harbor-courier/kim-talks"``) on ``site``."""
    return site.url(_parsed_page(key, datetime.now(UTC)).path)


def demo_pages(now: datetime) -> dict[str, DemoPage]:
    """Every article page of the demo, keyed ``"<outlet>/<slug>"``, dated relative to ``now``."""
    articles = _CONTENT / "articles"
    keys = sorted(
        f"{outlet.name}/{f.name.removesuffix('.html')}"
        for outlet in articles.iterdir()
        if outlet.is_dir()
        for f in outlet.iterdir()
        if f.name.endswith(".html")
    )
    return {key: _parsed_page(key, now) for key in keys}


def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(_read("site.json"))
    return manifest


def _read(relpath: str) -> str:
    return (_CONTENT / relpath).read_text(encoding="utf-8")


def _parsed_page(key: str, now: datetime) -> DemoPage:
    """Parse ``content/articles/<key>.html`` (header, body, comments)."""
    text = _read(f"articles/{key}.html")
    _, header, rest = text.split("---\n", 2)
    meta = dict(line.split(": ", 1) for line in header.strip().splitlines())
    body, _, comments = rest.partition("=== comments ===\n")
    published = now - _offset(meta["published"])
    return DemoPage(
        key=key,
        outlet=key.split("/", 1)[0],
        path=meta["path"],
        title=meta["title"],
        author=meta["author"],
        published=published,
        updated=now - _offset(meta["updated"]) if "updated" in meta else published,
        section=meta["section"],
        summary=meta["summary"],
        tags=tuple(t.strip() for t in meta["tags"].split(",")),
        caption=meta["caption"],
        credit=meta["credit"],
        related=tuple(r.strip() for r in meta.get("related", "").split(",") if r.strip()),
        charset=meta.get("charset", "utf-8"),
        kind=meta.get("kind", "article"),
        body=body.strip(),
        comments=comments.strip(),
    )


def _offset(spec: str) -> timedelta:
    """``"-1d2h"`` -> 26 hours: how long before now something happened."""
    parts = re.fullmatch(r"-((?:\d+[dhm])+)", spec.strip())
    if parts is None:
        raise ValueError(f"bad relative date {spec!r}: expected e.g. -3h, -1d2h, -45m")
    return sum(
        (timedelta(**{_UNITS[u]: int(n)}) for n, u in re.findall(r"(\d+)([dhm])", parts.group(1))),
        timedelta(),
    )


def _formatted(fmt: str, dt: datetime) -> str:
    if fmt == "RFC822":
        return format_datetime(dt, usegmt=True)
    if fmt == "ISO":
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "ISOLOCAL":
        return dt.astimezone(_LOCAL_TZ).isoformat()
    if fmt == "HUMAN":
        return f"{dt.day} {dt:%B %Y, %H:%M} GMT"
    raise ValueError(f"unknown date format {fmt!r}")


def _filled(text: str, base: str, now: datetime, pages: dict[str, DemoPage],
            fields: dict[str, str] | None = None) -> str:
    """Replace every placeholder in ``text``; an unknown or leftover placeholder is a content bug."""

    def one(m: re.Match[str]) -> str:
        name, rel, arg = m.group(1), m.group(2), m.group(3)
        if fields is not None and name in fields and rel is None and arg is None:
            return fields[name]
        if name == "BASE" and rel is None and arg is None:
            return base
        if name == "BODY" and arg:
            return pages[arg].body
        if rel:
            return _formatted(name, now - _offset(rel))
        if arg:
            key, _, which = arg.partition(":")
            page = pages[key]
            return _formatted(name, page.updated if which == "updated" else page.published)
        raise ValueError(f"unknown placeholder {m.group(0)}")

    for _ in range(3):  # BODY brings in {{BASE}} links, so fill until nothing is left
        text = _PLACEHOLDER.sub(one, text)
        if "{{" not in text:
            return text
    raise ValueError(f"unfilled placeholder near {text[text.index('{{'):][:60]!r}")


def _page_html(page: DemoPage, manifest: dict[str, Any], base: str, now: datetime,
               pages: dict[str, DemoPage]) -> str:
    """Render one article page in its outlet's template."""
    outlet_name = manifest["outlets"][page.outlet]["name"]
    url = base + page.path
    text_words = len(re.sub(r"<[^>]+>", " ", page.body).split())
    esc = {
        "TITLE": page.title,
        "AUTHOR": page.author,
        "SUMMARY": page.summary,
        "SECTION": page.section,
        "CAPTION": page.caption,
        "CREDIT": page.credit,
        "KEYWORDS": ", ".join(page.tags),
        "URL": url,
        "IMAGE_URL": base + page.image_path,
        "OUTLET_HOME": f"{base}/{page.outlet}/",
        "SECTION_SLUG": _slug(page.section),
        "AUTHOR_SLUG": _slug(page.author.split(",")[0]),
        "PUBLISHED_ISO": page.published.isoformat(),
        "MODIFIED_ISO": page.updated.isoformat(),
        "PUBLISHED_HUMAN": _formatted("HUMAN", page.published),
        "MODIFIED_HUMAN": _formatted("HUMAN", page.updated),
        "TODAY_HUMAN": f"{now.day} {now:%B %Y}",
        "READ_MINUTES": str(max(1, math.ceil(text_words / _WORDS_PER_MINUTE))),
        "CHARSET": page.charset,
        "KIND": page.kind,
    }
    jsonld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": page.title,
        "description": page.summary,
        "datePublished": page.published.isoformat(),
        "dateModified": page.updated.isoformat(),
        "author": [{"@type": "Person", "name": page.author}],
        "publisher": {"@type": "Organization", "name": outlet_name},
        "image": [base + page.image_path],
        "mainEntityOfPage": url,
        "isAccessibleForFree": page.kind != "paywall",
    }
    fields = {k: html.escape(v, quote=True) for k, v in esc.items()}
    fields["BODY"] = page.body
    fields["COMMENTS"] = page.comments or '<p class="no-comments">No comments yet.</p>'
    fields["JSONLD"] = json.dumps(jsonld, ensure_ascii=False).replace("</", "<\\/")
    fields["TAGS"] = "\n".join(
        f'<li><a href="{base}/{page.outlet}/topic/{_slug(t)}" rel="tag">{html.escape(t)}</a></li>'
        for t in page.tags
    )
    fields["RELATED"] = "\n".join(
        f'<li><a href="{base}{pages[k].path}">{html.escape(pages[k].title)}</a></li>' for k in page.related
    )
    outlet = manifest["outlets"][page.outlet]
    template = _read(outlet["paywall_template"] if page.kind == "paywall" else outlet["template"])
    return _filled(template, base, now, pages, fields)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _image_svg(page: DemoPage) -> bytes:
    """A small placeholder picture, so the pages look complete in a browser."""
    label = html.escape(page.caption[:80])
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="675" viewBox="0 0 1200 675">'
        f"<title>{label}</title>"
        '<rect width="1200" height="675" fill="#8aa3b8"/>'
        '<text x="600" y="350" font-size="28" text-anchor="middle" fill="#fff" font-family="sans-serif">'
        f"{label}</text></svg>"
    ).encode()


def _index_html(outlet_name: str, pages: list[DemoPage], base: str) -> bytes:
    """An outlet's front page: a plain list of its stories, newest first."""
    items = "".join(
        f'<li><a href="{base}{p.path}">{html.escape(p.title)}</a> <small>{_formatted("HUMAN", p.published)}'
        "</small></li>"
        for p in sorted(pages, key=lambda p: p.published, reverse=True)
    )
    return (
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(outlet_name)}"
        f"</title></head><body><h1>{html.escape(outlet_name)}</h1><ul>{items}</ul></body></html>"
    ).encode()


def _front_html(manifest: dict[str, Any], pages: dict[str, DemoPage], base: str) -> bytes:
    """The demo's own front page: every outlet and feed, for a human poking at the server."""
    outlets = "".join(
        f'<li><a href="{base}/{key}/">{html.escape(info["name"])}</a></li>'
        for key, info in manifest["outlets"].items()
    )
    feeds = "".join(
        f'<li><a href="{base}{f["path"]}">{html.escape(f["name"])}</a>: {html.escape(f["about"])}</li>'
        for f in manifest["feeds"]
    )
    return (
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>newswatch demo</title></head>"
        f"<body><h1>newswatch demo site</h1><p>{len(pages)} article pages.</p><h2>Outlets</h2><ul>{outlets}"
        f"</ul><h2>Feeds</h2><ul>{feeds}</ul></body></html>"
    ).encode()
