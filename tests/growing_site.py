"""A loopback news site whose feeds publish new articles as they are polled, for unattended-operation tests.

Why: ``serve``, concurrent-reader and memory tests need every cycle to do real work (new pages to
fetch, extract and load in one transaction, a new snapshot to publish), not just 304s. Each feed
reveals ``per_poll`` more of its planned articles every time it is fetched with a changed document,
until its plan is exhausted; after that it answers conditional requests with 304 like a quiet feed.
Article pages come from the synthetic corpus (``demosite.corpus``), rendered on request.
"""

from __future__ import annotations

import threading
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler

from demosite.corpus import SyntheticArticle, synthetic_articles, synthetic_page_html
from demosite.loopback import LoopbackSite, strong_etag


def rss_document(feed: int, articles: list[SyntheticArticle], base_url: str) -> bytes:
    """An RSS 2.0 document listing ``articles`` (newest first, as given)."""
    items = "".join(
        f"<item><title>{escape(a.title)}</title><link>{base_url}{a.path}</link>"
        f'<guid isPermaLink="false">grow-{a.seed}-{a.index}</guid>'
        f"<pubDate>{format_datetime(a.published, usegmt=True)}</pubDate></item>"
        for a in articles
    )
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Feed {feed}</title>'
            f"<link>{base_url}/</link><description>growing feed {feed}</description>{items}</channel></rss>").encode()


def growing_site(n_articles: int, *, n_feeds: int = 4, per_poll: int = 2, seed: int = 7,
                 words: tuple[int, int] = (250, 450)) -> LoopbackSite:
    """A bound, not started site with feeds at ``/grow/<k>.xml`` that gain ``per_poll`` items per poll."""
    plan = synthetic_articles(n_articles, n_feeds=n_feeds, seed=seed, words_per_article=words)
    site = LoopbackSite()
    lock = threading.Lock()
    shown = dict.fromkeys(range(n_feeds), 0)
    # Newest first in a real feed; reveal from the newest so every poll adds the next ones.
    per_feed = {k: sorted((a for a in plan if a.feed_index == k), key=lambda a: a.published, reverse=True)
                for k in range(n_feeds)}

    def feed_handler(k: int):
        def handle(h: BaseHTTPRequestHandler) -> None:
            with lock:
                before = rss_document(k, per_feed[k][: shown[k]], site.base_url)
                if h.headers.get("If-None-Match") == strong_etag(before) and shown[k] >= len(per_feed[k]):
                    body = b""
                else:
                    shown[k] = min(shown[k] + per_poll, len(per_feed[k]))
                    body = rss_document(k, per_feed[k][: shown[k]], site.base_url)
            if not body:
                h.send_response(304)
                h.send_header("ETag", strong_etag(before))
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(200)
            h.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            h.send_header("ETag", strong_etag(body))
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        return handle

    def page_handler(article: SyntheticArticle):
        def handle(h: BaseHTTPRequestHandler) -> None:
            body = synthetic_page_html(article, site.base_url).encode()
            h.send_response(200)
            h.send_header("Content-Type", "text/html; charset=utf-8")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            try:
                h.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        return handle

    for k in range(n_feeds):
        site.add(f"/grow/{k}.xml", feed_handler(k))
    for a in plan:
        site.add(a.path, page_handler(a))
    return site


def growing_feeds(site: LoopbackSite) -> list[dict[str, str]]:
    """The config ``feeds:`` entries of a growing site."""
    paths = sorted(p for p in site.routes if p.startswith("/grow/"))
    return [{"name": f"Growing {p[6:-4]}", "url": site.url(p)} for p in paths]
