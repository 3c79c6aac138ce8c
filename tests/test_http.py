"""The HTTP client against loopback servers: limits, decoding, redirects, address policy, classification.

Every server here listens on 127.0.0.1; other addresses and DNS answers are simulated with an injected
resolver and address check, and the refusal tests make sure no socket is even opened.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from datetime import UTC, datetime

import brotli
import httpx
import pytest

from demosite.loopback import LoopbackSite, Route
from extract.http import FetchPolicy, HttpClient, redacted_url, retry_after_seconds
from newswatch.errors import ItemError, RetriableError

pytestmark = pytest.mark.timeout(30)

LOCAL = FetchPolicy(allow_private_networks=True, timeout_seconds=2, max_bytes=1_000_000)


def local(**changes) -> HttpClient:
    fields = {**LOCAL.__dict__, **changes}
    return HttpClient(FetchPolicy(**fields))


def head(h, status=200, headers=()):
    h.send_response(status)
    for k, v in headers:
        h.send_header(k, v)
    h.end_headers()


def trickle(h):
    head(h, headers=[("Content-Type", "text/html"), ("Content-Length", "1000")])
    for _ in range(100):
        try:
            h.wfile.write(b"x")
            h.wfile.flush()
        except OSError:
            return
        time.sleep(0.05)


def endless_chunked(h):
    head(h, headers=[("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")])
    chunk = b"x" * 16384
    for _ in range(20_000):
        try:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            return


def endless_empty_gzip_members(h):
    head(h, headers=[("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")])
    member = gzip.compress(b"") * 500
    for _ in range(20_000):
        try:
            h.wfile.write(b"%x\r\n%s\r\n" % (len(member), member))
        except OSError:
            return


def huge_declared(h):
    head(h, headers=[("Content-Type", "text/html"), ("Content-Length", str(50_000_000))])
    try:
        h.wfile.write(b"x" * 65536)
    except OSError:
        pass


def close_delimited_50mb(h):
    h.close_connection = True
    head(h, headers=[("Content-Type", "text/html"), ("Connection", "close")])
    block = b"<p>" + b"x" * 65530 + b"</p>"
    for _ in range(50_000_000 // len(block)):
        try:
            h.wfile.write(block)
        except OSError:
            return


PAGE_1252 = "<html><body><p>\u201cCaf\u00e9 cr\u00e8me\u201d \u2013 \u20ac3</p></body></html>".encode("cp1252")
TEXT = b"<html><body>" + b"<p>All the news that fits.</p>" * 200 + b"</body></html>"


def raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.fixture(scope="module")
def site():
    with LoopbackSite() as s:
        s.add("/page", Route(TEXT, etag='"v1"', last_modified="Fri, 20 Nov 2026 09:00:00 GMT"))
        s.add("/slow", Route(b"late", delay_seconds=3))
        s.add("/trickle", trickle)
        s.add("/endless", endless_chunked)
        s.add("/empty-members", endless_empty_gzip_members)
        s.add("/huge", huge_declared)
        s.add("/close-delimited", close_delimited_50mb)
        s.add("/gzip-bomb", Route(gzip.compress(b"\0" * 30_000_000, 1), headers={"Content-Encoding": "gzip"}))
        s.add("/br-bomb", Route(brotli.compress(b"\0" * 100_000_000, quality=1), headers={"Content-Encoding": "br"}))
        s.add("/gzip", Route(gzip.compress(TEXT), headers={"Content-Encoding": "gzip"}))
        s.add("/br", Route(brotli.compress(TEXT), headers={"Content-Encoding": "br"}))
        s.add("/deflate", Route(zlib.compress(TEXT), headers={"Content-Encoding": "deflate"}))
        s.add("/raw-deflate", Route(raw_deflate(TEXT), headers={"Content-Encoding": "deflate"}))
        s.add("/corrupt-gzip", Route(b"\x1f\x8bnot really gzip", headers={"Content-Encoding": "gzip"}))
        s.add("/zstd", Route(b"whatever", headers={"Content-Encoding": "zstd"}))
        s.add("/cp1252", Route(PAGE_1252, content_type="text/html; charset=windows-1252"))
        s.add("/e500", Route(b"oops", status=500, headers={"Retry-After": "120"}))
        s.add("/e503", Route(b"busy", status=503, headers={"Retry-After": "Fri, 20 Nov 2099 09:00:00 GMT"}))
        s.add("/e429", Route(b"slow down", status=429, headers={"Retry-After": "30"}))
        s.add("/e404", Route(b"gone?", status=404))
        s.add("/e410", Route(b"gone", status=410))
        s.add("/e403", Route(b"no", status=403))
        s.add("/moved", Route(status=301, headers={"Location": "/page"}))
        for i in range(1, 4):
            s.add(f"/hop{i}", Route(status=302, headers={"Location": f"/hop{i + 1}" if i < 3 else "/page"}))
        s.add("/loop-a", Route(status=302, headers={"Location": "/loop-b"}))
        s.add("/loop-b", Route(status=307, headers={"Location": "/loop-a"}))
        s.add("/to-ftp", Route(status=302, headers={"Location": "ftp://files.example/x"}))
        s.add("/to-file", Route(status=302, headers={"Location": "file:///etc/passwd"}))
        yield s


# --- ordinary fetches and conditional GET -------------------------------------------------------

def test_a_page_is_fetched_with_our_user_agent_and_lower_cased_headers(site):
    with local(user_agent="newswatch-test/1") as client:
        res = client.get(site.url("/page"), accept="text/html")
    assert res.status == 200 and res.body == TEXT and res.final_url == site.url("/page")
    assert res.headers["etag"] == '"v1"' and "content-length" not in res.headers
    sent = site.requests_to("/page")[-1].headers
    assert sent["user-agent"] == "newswatch-test/1" and sent["accept"] == "text/html"
    assert sent["accept-encoding"] == "gzip, deflate, br"


def test_a_matching_etag_gives_304_with_an_empty_body(site):
    with local() as client:
        res = client.get(site.url("/page"), etag='"v1"')
    assert res.status == 304 and res.not_modified and res.body == b""
    assert site.requests_to("/page")[-1].headers["if-none-match"] == '"v1"'


def test_a_matching_last_modified_gives_304(site):
    with local() as client:
        res = client.get(site.url("/page"), last_modified="Fri, 20 Nov 2026 09:00:00 GMT")
    assert res.status == 304 and res.body == b""


@pytest.mark.parametrize("path", ["/gzip", "/br", "/deflate", "/raw-deflate"])
def test_compressed_bodies_are_decoded(site, path):
    with local() as client:
        assert client.get(site.url(path)).body == TEXT


def test_a_windows_1252_page_keeps_its_bytes_and_charset(site):
    with local() as client:
        res = client.get(site.url("/cp1252"))
    assert res.body == PAGE_1252
    assert "windows-1252" in res.headers["content-type"]
    assert "\u20ac3" in res.body.decode("cp1252")


@pytest.mark.parametrize("path", ["/corrupt-gzip", "/zstd"])
def test_undecodable_bodies_are_bad_encoding(site, path):
    with local() as client, pytest.raises(ItemError) as err:
        client.get(site.url(path))
    assert err.value.reason == "bad_encoding"


# --- time and size limits -------------------------------------------------------------------------

def test_a_server_that_never_answers_times_out_at_the_deadline(site):
    started = time.monotonic()
    with local(timeout_seconds=0.5) as client, pytest.raises(RetriableError) as err:
        client.get(site.url("/slow"))
    assert err.value.reason == "timeout"
    assert time.monotonic() - started < 1.0


def test_a_server_trickling_bytes_stops_at_the_total_deadline_not_a_per_read_timeout(site):
    started = time.monotonic()
    with local(timeout_seconds=0.5) as client, pytest.raises(RetriableError) as err:
        client.get(site.url("/trickle"))
    assert err.value.reason == "timeout"
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("path", ["/endless", "/close-delimited", "/huge"])
def test_oversized_and_endless_bodies_stop_at_the_byte_cap(site, path):
    started = time.monotonic()
    with local(max_bytes=200_000) as client, pytest.raises(ItemError) as err:
        client.get(site.url(path))
    assert err.value.reason == "too_large"
    assert time.monotonic() - started < 1.0


def test_a_stream_that_decodes_to_nothing_stops_at_the_raw_byte_cap(site):
    with local(max_bytes=50_000) as client, pytest.raises(ItemError) as err:
        client.get(site.url("/empty-members"))
    assert err.value.reason == "too_large"


@pytest.mark.parametrize("path", ["/gzip-bomb", "/br-bomb"])
def test_decompression_bombs_stop_at_the_cap_after_decompression_in_bounded_memory(site, path):
    tracemalloc.start()
    try:
        with local(max_bytes=1_000_000) as client, pytest.raises(ItemError) as err:
            client.get(site.url(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.value.reason == "too_large"
    assert peak < 10_000_000  # the bombs expand to 30 MB and 100 MB


# --- status classification ------------------------------------------------------------------------

def test_500_with_retry_after_is_retriable_with_the_delay(site):
    with local() as client, pytest.raises(RetriableError) as err:
        client.get(site.url("/e500"))
    assert err.value.reason == "http_500" and err.value.retry_after == 120
    assert "HTTP 500" in err.value.message


def test_503_with_an_http_date_retry_after_and_429_with_seconds(site):
    with local() as client:
        with pytest.raises(RetriableError) as e503:
            client.get(site.url("/e503"))
        with pytest.raises(RetriableError) as e429:
            client.get(site.url("/e429"))
    assert e503.value.reason == "http_503" and e503.value.retry_after > 86_400
    assert e429.value.reason == "http_429" and e429.value.retry_after == 30


@pytest.mark.parametrize("path,reason", [("/e404", "http_404"), ("/e410", "http_410"), ("/e403", "http_403")])
def test_client_errors_are_item_errors_with_their_status(site, path, reason):
    with local() as client, pytest.raises(ItemError) as err:
        client.get(site.url(path))
    assert err.value.reason == reason


def test_error_messages_carry_no_query_string_or_credentials(site):
    url = site.url("/e404?token=SECRET123").replace("http://", "http://alice:pw456@")
    with local() as client, pytest.raises(ItemError) as err:
        client.get(url)
    assert "SECRET123" not in str(err.value) and "pw456" not in str(err.value)
    assert "/e404?[redacted]" in err.value.message


# --- redirects ----------------------------------------------------------------------------------

def test_redirects_are_followed_and_final_url_reported(site):
    with local() as client:
        res = client.get(site.url("/moved"))
    assert res.status == 200 and res.url == site.url("/moved") and res.final_url == site.url("/page")


def test_redirects_beyond_the_cap_fail(site):
    with local(max_redirects=3) as client:
        assert client.get(site.url("/hop1")).status == 200
    with local(max_redirects=2) as client, pytest.raises(ItemError) as err:
        client.get(site.url("/hop1"))
    assert err.value.reason == "too_many_redirects"


def test_a_redirect_loop_fails_as_too_many_redirects(site):
    with local(max_redirects=10) as client, pytest.raises(ItemError) as err:
        client.get(site.url("/loop-a"))
    assert err.value.reason == "too_many_redirects" and "loop" in err.value.message
    assert len(site.requests_to("/loop-a")) <= 2


@pytest.mark.parametrize("path", ["/to-ftp", "/to-file"])
def test_redirects_to_other_schemes_are_refused(site, path):
    with local() as client, pytest.raises(ItemError) as err:
        client.get(site.url(path))
    assert err.value.reason == "bad_url"


@pytest.mark.parametrize("url", ["ftp://files.example/feed", "not a url", "http:///nohost", "javascript:alert(1)", ""])
def test_unusable_urls_are_bad_url(url):
    with local() as client, pytest.raises(ItemError) as err:
        client.get(url)
    assert err.value.reason == "bad_url"


# --- address policy -------------------------------------------------------------------------------

def only_loopback_is_public(ip: str) -> bool:
    """Stands in for the real check: 127.0.0.1 plays a public server, everything else is private."""
    return ip == "127.0.0.1"


@pytest.fixture
def no_sockets(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("answer", ["10.0.0.5", "169.254.169.254", "127.0.0.1", "::1", "::ffff:192.168.0.1"])
def test_names_resolving_to_private_addresses_are_refused_before_connecting(no_sockets, answer):
    with HttpClient(FetchPolicy(), resolver=lambda host, port: [answer]) as client, pytest.raises(ItemError) as err:
        client.get("http://feeds.example/rss.xml")
    assert err.value.reason == "private_address"


def test_a_private_ip_literal_is_refused_before_connecting(no_sockets):
    with HttpClient(FetchPolicy()) as client, pytest.raises(ItemError) as err:
        client.get("http://169.254.169.254/latest/meta-data/")
    assert err.value.reason == "private_address"


def test_a_redirect_from_a_public_host_to_a_private_one_is_refused(site):
    port = site.url("/").split(":")[2].split("/")[0]
    site.add("/bounce", Route(status=302, headers={"Location": f"http://intranet.example:{port}/secret"}))
    site.add("/secret", Route(b"internal"))
    dns = {"news.example": ["127.0.0.1"], "intranet.example": ["127.0.0.2"]}
    with HttpClient(FetchPolicy(timeout_seconds=2), resolver=lambda h, p: dns[h],
                    address_check=only_loopback_is_public) as client, pytest.raises(ItemError) as err:
        client.get(f"http://news.example:{port}/bounce")
    assert err.value.reason == "private_address"
    assert site.requests_to("/secret") == [] and len(site.requests_to("/bounce")) == 1


def test_the_connection_goes_only_to_a_checked_address_resolved_once(site, monkeypatch):
    port = int(site.url("/").split(":")[2].split("/")[0])
    lookups, connected = [], []
    original = socket.create_connection

    def spy(address, *args, **kwargs):
        connected.append(address[0])
        return original(address, *args, **kwargs)

    def rebinding_dns(host, port):
        lookups.append(host)
        return ["10.0.0.5", "127.0.0.1"]  # a private answer first, hoping the client connects to it

    monkeypatch.setattr(socket, "create_connection", spy)
    with HttpClient(FetchPolicy(timeout_seconds=2), resolver=rebinding_dns,
                    address_check=only_loopback_is_public) as client:
        res = client.get(f"http://news.example:{port}/page")
    assert res.status == 200
    assert connected == ["127.0.0.1"] and lookups == ["news.example"]
    assert site.requests_to("/page")[-1].headers["host"] == f"news.example:{port}"


def test_an_injected_transport_still_gets_the_address_policy_on_every_hop():
    def app(request):
        if request.url.path == "/moved":
            return httpx.Response(302, headers={"Location": "http://intranet.example/admin"})
        return httpx.Response(200, content=b"<rss/>")

    dns = {"news.example": ["93.184.216.34"], "intranet.example": ["10.0.0.5"]}
    with HttpClient(FetchPolicy(), resolver=lambda h, p: dns[h], transport=httpx.MockTransport(app)) as client:
        assert client.get("http://news.example/feed").body == b"<rss/>"
        with pytest.raises(ItemError) as err:
            client.get("http://news.example/moved")
    assert err.value.reason == "private_address"


# --- network failures -------------------------------------------------------------------------------

def test_an_unknown_name_is_a_dns_error():
    def nxdomain(host, port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with HttpClient(FetchPolicy(), resolver=nxdomain) as client, pytest.raises(ItemError) as err:
        client.get("http://nowhere.example/feed")
    assert err.value.reason == "dns_error" and "nowhere.example" in err.value.message


def test_a_closed_port_is_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with local() as client, pytest.raises(RetriableError) as err:
        client.get(f"http://127.0.0.1:{port}/feed")
    assert err.value.reason == "connection_refused"


def test_https_to_a_plain_http_server_is_a_tls_error(site):
    with local() as client, pytest.raises(RetriableError) as err:
        client.get(site.url("/page").replace("http://", "https://"))
    assert err.value.reason == "tls_error"


# --- politeness and concurrency ---------------------------------------------------------------------

def counting_handler(state):
    def handle(h):
        with state["lock"]:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.1)
        with state["lock"]:
            state["now"] -= 1
        body = b"ok"
        head(h, headers=[("Content-Length", str(len(body)))])
        h.wfile.write(body)

    return handle


def test_per_host_concurrency_is_limited_across_threads(site):
    state = {"lock": threading.Lock(), "now": 0, "max": 0}
    url = site.add("/counted", counting_handler(state))
    with local(per_host_concurrency=1) as client:
        threads = [threading.Thread(target=client.get, args=(url,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert state["max"] == 1


def test_many_threads_share_one_client(site):
    results = []
    with local(per_host_concurrency=4) as client:
        def work(path):
            results.append(client.get(site.url(path)).body == TEXT)

        threads = [threading.Thread(target=work, args=(p,)) for p in ["/page", "/gzip", "/br", "/deflate"] * 4]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == [True] * 16


def test_per_host_delay_spaces_request_starts(site):
    # A lower bound measured on the client side: the gate must hold each start back, whatever the load.
    # (The server's own timestamps are taken when a handler thread runs, which a busy box can bunch up.)
    with local(per_host_delay_seconds=0.15) as client:
        client.get(site.url("/cp1252"))
        started = time.monotonic()
        for _ in range(2):
            client.get(site.url("/cp1252"))
        assert time.monotonic() - started >= 0.29


# --- helpers --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://user:pw@news.example/feed.xml?key=abc#top", "https://news.example/feed.xml?[redacted]"),
        ("https://news.example:8443/a/b", "https://news.example:8443/a/b"),
        ("http://[::1]:8080/x?y=1", "http://[::1]:8080/x?[redacted]"),
        ("user:pw@host/path?q=1", "host/path"),
        ("http://bad:port/", "<invalid URL>"),
    ],
)
def test_redacted_url_drops_credentials_queries_and_fragments(url, expected):
    assert redacted_url(url) == expected


def test_retry_after_reads_seconds_and_http_dates():
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Fri, 20 Nov 2026 09:02:00 GMT", now) == 120
    assert retry_after_seconds("Fri, 20 Nov 2026 08:00:00 GMT", now) == 0
    assert retry_after_seconds(None, now) is None
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("-5", now) is None
