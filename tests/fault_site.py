"""Loopback sites that misbehave in every way the fault suite needs, next to a few honest articles.

Why one site per suite: a cycle costs seconds (a Prefect flow run, extraction, NLP), so the fault tests
put many hostile feeds and pages behind one server and push all of them through one or two real
cycles. Every server listens on 127.0.0.1; other hosts (``news.example``, ``intranet.example``, an
unknown name) exist only in the fake DNS of ``fake_dns`` and are never connected to. Handlers record
how much they sent and when the client hung up, so tests can show that a limit stopped the transfer.
"""

from __future__ import annotations

import gzip
import html
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler

import brotli

from demosite.corpus import synthetic_articles, synthetic_page_html
from demosite.loopback import LoopbackSite, Route

NOW = datetime.now(UTC).replace(microsecond=0)
FEED_TYPE = "application/rss+xml; charset=utf-8"


@dataclass
class Transfer:
    """What a streaming handler sent before the client hung up (or it gave up)."""

    bytes_sent: int = 0
    seconds: float = 0.0
    client_closed: bool = False


@dataclass
class Transfers:
    by_path: dict[str, list[Transfer]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, t: Transfer) -> None:
        with self.lock:
            self.by_path.setdefault(path, []).append(t)


# --- streaming handlers ------------------------------------------------------------------------------

def _head(h: BaseHTTPRequestHandler, headers: list[tuple[str, str]], status: int = 200) -> None:
    h.send_response(status)
    for k, v in headers:
        h.send_header(k, v)
    h.end_headers()


def _streamed(log: Transfers, headers: list[tuple[str, str]], chunks: Callable[[], Iterator[bytes]],
              *, close: bool = False) -> Callable[[BaseHTTPRequestHandler], None]:
    """A handler writing ``chunks()`` until the client hangs up; records what it managed to send."""

    def handle(h: BaseHTTPRequestHandler) -> None:
        if close:
            h.close_connection = True
        t, started = Transfer(), time.monotonic()
        try:
            _head(h, headers)
            for chunk in chunks():
                h.wfile.write(chunk)
                h.wfile.flush()
                t.bytes_sent += len(chunk)
        except OSError:
            t.client_closed = True
        t.seconds = time.monotonic() - started
        log.add(h.path, t)

    return handle


def one_byte_a_second(log: Transfers, content_type: str = "text/html") -> Callable[[BaseHTTPRequestHandler], None]:
    """Declares 10 kB, then sends one byte a second (for at most 30 s): no single read ever times out."""

    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b" "
            time.sleep(1.0)

    return _streamed(log, [("Content-Type", content_type), ("Content-Length", "10000")], chunks)


def endless_chunked(log: Transfers) -> Callable[[BaseHTTPRequestHandler], None]:
    """A chunked response that never ends (stops by itself after 1 GB)."""
    piece = b"<p>" + b"endless " * 2000 + b"</p>"

    def chunks() -> Iterator[bytes]:
        for _ in range(1_000_000_000 // len(piece)):
            yield b"%x\r\n%s\r\n" % (len(piece), piece)

    return _streamed(log, [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")], chunks)


def fifty_megabytes(log: Transfers) -> Callable[[BaseHTTPRequestHandler], None]:
    """A 50 MB page with no Content-Length (delimited by closing the connection)."""
    block = b"<p>" + b"x" * 65530 + b"</p>"

    def chunks() -> Iterator[bytes]:
        for _ in range(50_000_000 // len(block)):
            yield block

    return _streamed(log, [("Content-Type", "text/html"), ("Connection", "close")], chunks, close=True)


def gzip_bomb(megabytes: int = 40) -> Route:
    """~40 KB on the wire, ``megabytes`` MB of zeros once decompressed."""
    return Route(gzip.compress(b"\0" * (megabytes * 1_000_000), 1), headers={"Content-Encoding": "gzip"})


def brotli_bomb(megabytes: int = 200) -> Route:
    return Route(brotli.compress(b"\0" * (megabytes * 1_000_000), quality=1), headers={"Content-Encoding": "br"})


# --- documents -----------------------------------------------------------------------------------------

def rss(items: list[str], *, title: str = "Fault Gazette", encoding: str = "utf-8", prolog: str = "") -> str:
    return (f'<?xml version="1.0" encoding="{encoding}"?>{prolog}<rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
            f"<title>{title}</title><link>http://x/</link><description>d</description>{''.join(items)}"
            "</channel></rss>")


def item(title: str, link: str | None, guid: str | None = None, *, hours_ago: float = 1, body: str | None = None) -> str:
    parts = [f"<title>{html.escape(title)}</title>"]
    if link is not None:
        parts.append(f"<link>{html.escape(link)}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{html.escape(guid)}</guid>')
    parts.append(f"<pubDate>{format_datetime(NOW - timedelta(hours=hours_ago))}</pubDate>")
    if body is not None:
        parts.append(f"<content:encoded><![CDATA[{body}]]></content:encoded>")
    return "<item>" + "".join(parts) + "</item>"


XXE = rss([item("&xxe;", "http://x/1", "xxe-1")],
          prolog='<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')
BILLION_LAUGHS = rss(
    [item("&lol9;", "http://x/1", "lol-1")],
    prolog="<!DOCTYPE rss [<!ENTITY lol \"lol\">"
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>",
)

# Hand-written paragraphs with the characters that charset mistakes break.
ACCENTED = ("\u201cWe will not close the caf\u00e9,\u201d said Jos\u00e9 Fern\u00e1ndez, who has run the "
            "stall on the Pla\u00e7a Nova for twenty years \u2013 longer than anyone else on the square.")


def articles(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` distinct synthetic articles as (title, full HTML page) with about 150-250 words each."""
    plan = synthetic_articles(n, n_feeds=1, seed=seed, words_per_article=(150, 250), now=NOW)
    return [(a.title, synthetic_page_html(a, "http://fault.example")) for a in plan]


def with_paragraph(page: str, paragraph_html: str) -> str:
    """The page with one more paragraph at the top of its body."""
    return page.replace('<div class="article-body">', f'<div class="article-body">\n<p>{paragraph_html}</p>', 1)


def full_body_html(seed: int) -> str:
    """An article body long enough (> 150 words) to be taken from the feed without fetching a page."""
    page = articles(1, seed)[0][1]
    start = page.index('<div class="article-body">')
    return page[start: page.index("</div>", start) + 6]


def million_character_page() -> bytes:
    """An "article" of over a million characters of prose: under the byte cap, over what NLP can take."""
    from demosite.corpus import synthetic_paragraphs

    plan = synthetic_articles(190, n_feeds=1, seed=803, words_per_article=(900, 900), now=NOW)
    body = "".join(f"<p>{html.escape(p)}</p>" for a in plan for p in synthetic_paragraphs(a))
    return f"<html><head><title>Everything</title></head><body><article>{body}</article></body></html>".encode()


NO_TEXT_PAGE = (b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Subscribe</title></head><body>'
                b'<nav><a href="/">Home</a> <a href="/world">World</a></nav>'
                b'<div class="paywall"><h1>Subscribe to continue</h1><button>Log in</button></div>'
                b"<footer>Copyright Fault Gazette</footer></body></html>")


# --- fake DNS and a socket guard ------------------------------------------------------------------------

def fake_dns(answers: dict[str, list[str]], temporary_failures: frozenset[str] = frozenset()) -> Callable[[str, int], list[str]]:
    """A resolver that knows only ``answers``; names in ``temporary_failures`` fail with EAI_AGAIN and
    every other name does not exist (EAI_NONAME). It never asks a real DNS server."""

    def resolve(host: str, port: int) -> list[str]:
        if host in temporary_failures:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(answers[host])

    return resolve


def loopback_plays_public(ip: str) -> bool:
    """The address check of the network faults: 127.0.0.1 plays a public server, all else is private."""
    return ip == "127.0.0.1"


@contextmanager
def only_loopback_connections(mp) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]  # mp: pytest's monkeypatch
    """Make any attempt by the fetcher to connect outside 127.0.0.1 fail loudly (and be recorded)."""
    attempts: list[str] = []
    original = socket.create_connection

    def guarded(address, *args, **kwargs):  # type: ignore[no-untyped-def]  # socket.create_connection's signature
        if address[0] not in ("127.0.0.1", "localhost"):
            attempts.append(str(address[0]))
            raise ConnectionRefusedError(f"test guard: refused to connect to {address[0]}")
        return original(address, *args, **kwargs)

    mp.setattr(socket, "create_connection", guarded)
    yield attempts


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the two sites ----------------------------------------------------------------------------------------

@dataclass
class FaultSite:
    """A started site plus what a test needs to check it: feeds for the config and expected outcomes."""

    site: LoopbackSite
    feeds: list[dict[str, str]]
    transfers: Transfers
    expected_pages: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (stage, reason)
    expected_feeds: dict[str, str] = field(default_factory=dict)  # feed name -> last_status
    loaded_paths: list[str] = field(default_factory=list)


def document_site() -> FaultSite:
    """Hostile documents: entity tricks, bombs, endless and trickling bodies, bad charsets, no text,
    a 10,000-item feed, repeated GUIDs and items without links. Not started."""
    site, log = LoopbackSite(), Transfers()
    u = site.url
    pages = articles(10, seed=801)
    for i, (_, page) in enumerate(pages[:5]):
        site.add(f"/p/a{i}", Route(page.encode()))
    # Invalid UTF-8 inside a UTF-8 page, and a windows-1252 page labelled UTF-8 in header and <meta>.
    bad_utf8 = with_paragraph(pages[6][1], ACCENTED).encode().replace(b"twenty years", b"twenty \xff\xfe years")
    site.add("/p/bad-utf8", Route(bad_utf8, content_type="text/html; charset=utf-8"))
    site.add("/p/mislabelled", Route(with_paragraph(pages[7][1], ACCENTED).encode("cp1252"),
                                     content_type="text/html; charset=utf-8"))
    site.add("/p/big-target", Route(pages[8][1].encode()))
    site.add("/p/latin1-feed-target", Route(pages[9][1].encode()))
    site.add("/p/paywall", Route(NO_TEXT_PAGE))
    site.add("/p/million", Route(million_character_page()))
    site.add("/p/huge", fifty_megabytes(log))
    site.add("/p/endless", endless_chunked(log))
    site.add("/p/trickle", one_byte_a_second(log))
    site.add("/p/gzip-bomb", gzip_bomb())
    site.add("/p/br-bomb", brotli_bomb())

    main = [
        item(pages[0][0], u("/p/a0"), "main-a0"),
        item(pages[0][0], u("/p/a0"), "main-a0"),  # the same item twice in one document
        item("Accents broken by a bad byte", u("/p/bad-utf8"), "main-bad-utf8"),
        item("Accents in a mislabelled page", u("/p/mislabelled"), "main-mislabelled"),
        item("Subscribers only", u("/p/paywall"), "main-paywall"),
        item("A million characters", u("/p/million"), "main-million"),
        item("A 50 MB page", u("/p/huge"), "main-huge"),
        item("A page that never ends", u("/p/endless"), "main-endless"),
        item("A page at one byte a second", u("/p/trickle"), "main-trickle"),
        item("A gzip bomb", u("/p/gzip-bomb"), "main-gzip"),
        item("A brotli bomb", u("/p/br-bomb"), "main-br"),
        item("A letter with neither link nor body", None, "main-no-link"),
        item("A full story carried in the feed, with no link", None, "main-body-only", body=full_body_html(802)),
        item("A teaser with no link", None, "main-teaser-only", body="<p>Two lines of teaser, no more.</p>"),
        item(pages[1][0], u("/p/a1"), "main-a1-first"),
        item(pages[1][0] + " (updated)", u("/p/a1"), "main-a1-second"),  # new GUID, same article
    ]
    # A feed that gives every item the same GUID: the items are still different articles.
    same_guid = [item(pages[i][0], u(f"/p/a{i}"), "every-item-has-this-guid") for i in (2, 3, 4)]
    big = [item(f"Archive item {i}", u("/p/big-target"), f"big-{i}") for i in range(10_000)]
    latin1 = rss([item("Caf\u00e9 soci\u00e9t\u00e9 \u2013 \u201cnews\u201d", u("/p/latin1-feed-target"), "l1-1")])

    site.add("/feeds/main.xml", Route(rss(main).encode(), content_type=FEED_TYPE))
    site.add("/feeds/same-guid.xml", Route(rss(same_guid).encode(), content_type=FEED_TYPE))
    site.add("/feeds/big.xml", Route(rss(big).encode(), content_type=FEED_TYPE))
    site.add("/feeds/latin1.xml", Route(latin1.encode("cp1252"), content_type=FEED_TYPE))
    site.add("/feeds/xxe.xml", Route(XXE.encode(), content_type=FEED_TYPE))
    site.add("/feeds/laughs.xml", Route(BILLION_LAUGHS.encode(), content_type=FEED_TYPE))
    site.add("/feeds/gzip-bomb.xml", gzip_bomb())
    site.add("/feeds/trickle.xml", one_byte_a_second(log, FEED_TYPE))

    names = {"main": "Main", "same-guid": "Same GUID", "big": "Ten thousand items", "latin1": "Mislabelled feed",
             "xxe": "External entity", "laughs": "Billion laughs", "gzip-bomb": "Gzip bomb feed",
             "trickle": "Trickling feed"}
    return FaultSite(
        site, [{"name": n, "url": u(f"/feeds/{k}.xml")} for k, n in names.items()], log,
        expected_pages={
            "/p/paywall": ("extract", "no_text"), "/p/million": ("extract", "too_long"),
            "/p/huge": ("fetch", "too_large"),
            "/p/endless": ("fetch", "too_large"), "/p/trickle": ("fetch", "timeout"),
            "/p/gzip-bomb": ("fetch", "too_large"), "/p/br-bomb": ("fetch", "too_large"),
        },
        expected_feeds={"External entity": "xml_entities", "Billion laughs": "xml_entities",
                        "Gzip bomb feed": "too_large", "Trickling feed": "timeout"},
        loaded_paths=["/p/a0", "/p/a1", "/p/a2", "/p/a3", "/p/a4", "/p/bad-utf8", "/p/mislabelled",
                      "/p/big-target", "/p/latin1-feed-target"],
    )


NEWS = "news.example"  # resolves to 127.0.0.1, which the network faults' address check calls public
INTRANET = "intranet.example"  # resolves to 127.0.0.2: private
NO_SUCH_HOST = "nxdomain.example"  # does not exist
FLAKY_DNS = "flaky-dns.example"  # the resolver fails temporarily


def network_dns() -> Callable[[str, int], list[str]]:
    return fake_dns({NEWS: ["127.0.0.1"], INTRANET: ["127.0.0.2"]}, frozenset({FLAKY_DNS}))


def network_site() -> FaultSite:
    """Broken networks: unknown and failing names, refused connections, TLS to a plain server, redirect
    loops, redirects to private addresses, 429/503 with Retry-After, 404 and 410, for feeds and pages.
    URLs use ``news.example``: run it with ``network_dns`` and ``loopback_plays_public``. Not started."""
    site, log = LoopbackSite(), Transfers()
    port = int(site.base_url.rsplit(":", 1)[1])
    dead = closed_port()

    def at(path: str, host: str = NEWS, scheme: str = "http", p: int = port) -> str:
        return f"{scheme}://{host}:{p}{path}"

    pages = articles(2, seed=901)
    site.add("/p/fine", Route(pages[0][1].encode()))
    site.add("/p/moved-here", Route(pages[1][1].encode()))
    site.add("/p/moved", Route(status=301, headers={"Location": at("/p/moved-here")}))
    site.add("/p/secret", Route(b"<html><body><p>internal admin page</p></body></html>"))
    for kind in ("p", "feeds"):
        site.add(f"/{kind}/to-private", Route(status=302, headers={"Location": at("/p/secret", INTRANET)}))
        site.add(f"/{kind}/loop-a", Route(status=302, headers={"Location": f"/{kind}/loop-b"}))
        site.add(f"/{kind}/loop-b", Route(status=307, headers={"Location": f"/{kind}/loop-a"}))
        site.add(f"/{kind}/busy", Route(b"busy", status=503, headers={"Retry-After": "7200"}))
        site.add(f"/{kind}/slow-down", Route(b"slow down", status=429, headers={"Retry-After": "3600"}))
        site.add(f"/{kind}/gone", Route(b"gone", status=410))
        site.add(f"/{kind}/missing", Route(b"missing", status=404))
    later = format_datetime(datetime.now(UTC) + timedelta(hours=3), usegmt=True)
    site.add("/feeds/busy-until", Route(b"busy", status=503, headers={"Retry-After": later}))

    page_faults = {  # link -> (stage, reason) in quarantine
        at("/p/x", NO_SUCH_HOST): ("fetch", "dns_error"),
        at("/p/x", FLAKY_DNS): ("fetch", "dns_error"),
        at("/p/refused", "127.0.0.1", p=dead): ("fetch", "connection_refused"),
        at("/p/tls", scheme="https"): ("fetch", "tls_error"),
        at("/p/to-private"): ("fetch", "private_address"),
        at("/p/loop-a"): ("fetch", "too_many_redirects"),
        at("/p/busy"): ("fetch", "http_503"),
        at("/p/slow-down"): ("fetch", "http_429"),
        at("/p/gone"): ("fetch", "http_410"),
        at("/p/missing"): ("fetch", "http_404"),
        "http://169.254.169.254/latest/meta-data/": ("fetch", "private_address"),
    }
    items = [item(pages[0][0], at("/p/fine"), "fine"), item(pages[1][0], at("/p/moved"), "moved")]
    items += [item(f"Fault {i}", link, f"fault-{i}") for i, link in enumerate(page_faults)]
    site.add("/feeds/pages.xml", Route(rss(items).encode(), content_type=FEED_TYPE))

    feed_faults = {  # name -> (url, last_status)
        "Unknown host": (at("/feeds/x.xml", NO_SUCH_HOST), "dns_error"),
        "Flaky DNS": (at("/feeds/x.xml", FLAKY_DNS), "dns_error"),
        "Refused": (at("/feeds/x.xml", "127.0.0.1", p=dead), "connection_refused"),
        "TLS to plain HTTP": (at("/feeds/pages.xml", scheme="https"), "tls_error"),
        "Redirect loop": (at("/feeds/loop-a"), "too_many_redirects"),
        "Redirect to intranet": (at("/feeds/to-private"), "private_address"),
        "Private literal": ("http://10.0.0.5/feeds/x.xml", "private_address"),
        "Rate limited": (at("/feeds/slow-down"), "http_429"),
        "Busy": (at("/feeds/busy"), "http_503"),
        "Busy until": (at("/feeds/busy-until"), "http_503"),
        "Gone": (at("/feeds/gone"), "http_410"),
        "Missing": (at("/feeds/missing"), "http_404"),
    }
    feeds = [{"name": "Pages", "url": at("/feeds/pages.xml")}]
    feeds += [{"name": n, "url": url} for n, (url, _) in feed_faults.items()]
    return FaultSite(site, feeds, log, expected_pages=page_faults,
                     expected_feeds={n: status for n, (_, status) in feed_faults.items()},
                     loaded_paths=["/p/fine", "/p/moved-here"])
