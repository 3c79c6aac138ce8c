"""The one HTTP client of newswatch: bounded, polite, and explicit about why a fetch failed.

Why: feeds and article pages come from servers we do not control. Every request here is bounded in
time (one deadline for the whole request, redirects included, enforced on every connect and read by
``extract.netguard.GuardedBackend``), in size (a byte cap on the raw stream *and* on the decompressed
body, so a gzip or brotli bomb stops at the cap), and in redirects (followed by hand, each hop checked
against the address policy, never to a non-http(s) scheme). Servers are treated politely: a
User-Agent, conditional GET, a per-host concurrency limit and an optional minimum gap between request
starts to one host. Every failure becomes an ``ItemError`` or ``RetriableError`` with a short
``reason`` the warehouse stores and backs off on (``Retry-After`` is passed along); messages go through
``redacted_url`` because tokens often live in query strings.

DNS rebinding: the connection is made to an address that was checked, because the check happens in the
network backend at connect time, on the same resolution (see ``extract/netguard.py``). Environment
proxies are ignored (``trust_env=False``): a proxy would make the connection target unverifiable.
"""

from __future__ import annotations

import email.utils
import re
import ssl
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType

import httpx

from extract.decoding import ACCEPT_ENCODING, DECODE_ERRORS, decoded, decoders_for
from extract.netguard import AddressCheck, GuardedBackend, HostGate, Resolver, checked_addresses
from newswatch.errors import ItemError, PipelineError, RetriableError
from newswatch.models import FetchResult
from newswatch.secrets import redacted_url as redacted_url  # the one redactor; re-exported for callers

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# What httpx and the URL machinery under it raise on a URL they cannot use. None of these is an
# ``httpx.HTTPError``: ``InvalidURL`` and ``CookieConflict`` derive from ``Exception``, ``StreamError``
# from ``RuntimeError``, and IDNA errors (``http://xn--zz/``) are ``UnicodeError``, a ``ValueError``.
_URL_ERRORS = (httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError, ValueError, TypeError)
# Raw-stream slack over max_bytes: response headers, chunk framing and the few bytes gzip adds to
# incompressible data. The decoded cap is the real limit; the raw cap stops streams that decode to nothing.
_RAW_SLACK_BYTES = 256 * 1024


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and manners of every request (``fetch:`` in config.yaml).

    ``timeout_seconds`` bounds a whole request (connect, TLS, headers, body, redirects), not one read;
    ``max_bytes`` bounds the decoded body; ``connect_timeout_seconds`` bounds each TCP connect.
    """

    timeout_seconds: float = 20
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    user_agent: str = "newswatch/0.1"
    allow_private_networks: bool = False
    per_host_concurrency: int = 2
    per_host_delay_seconds: float = 0.0
    connect_timeout_seconds: float = 10


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header (delta-seconds or an HTTP-date).

    Returns ``None`` when the header is absent or unreadable and ``0.0`` for a date in the past. The
    value is not capped here: the warehouse's backoff bounds decide how long a feed may rest.
    """
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class _Hop:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    location: httpx.URL | None = None


class HttpClient:
    """Bounded GETs for feeds and pages. Thread-safe: share one instance between worker threads.

    Args:
        policy: limits and manners.
        resolver: ``(host, port) -> [ip, ...]``, for tests (fake DNS); defaults to
            ``netguard.DEFAULT_RESOLVER`` (the system resolver).
        transport: an httpx transport for tests (e.g. ``httpx.MockTransport``). With it, the address
            policy is still checked on every hop but the connection is the transport's business, and
            the deadline is checked between chunks only.
        address_check: ``ip -> allowed`` replacing ``netguard.DEFAULT_ADDRESS_CHECK`` (tests only).
    """

    def __init__(self, policy: FetchPolicy, *, resolver: Resolver | None = None,
                 transport: httpx.BaseTransport | None = None, address_check: AddressCheck | None = None) -> None:
        self._policy = policy
        self._resolver = resolver
        self._address_check = address_check
        self._gate = HostGate(policy.per_host_concurrency, policy.per_host_delay_seconds)
        self._backend: GuardedBackend | None = None
        if transport is None:
            self._backend = GuardedBackend(allow_private=policy.allow_private_networks, resolver=resolver,
                                           address_check=address_check)
            transport = _guarded_transport(self._backend)
        self._client = httpx.Client(
            transport=transport, follow_redirects=False, trust_env=False,
            headers={"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
            accept: str | None = None) -> FetchResult:
        """GET ``url``, following redirects, and return the decoded body.

        Args:
            url: an absolute http(s) URL.
            etag: the last ETag seen, sent as ``If-None-Match``.
            last_modified: the last Last-Modified seen, sent as ``If-Modified-Since``.
            accept: the ``Accept`` header (e.g. feed or HTML media types).
        Returns:
            A ``FetchResult``: status 2xx with the decoded body, or 304 with ``b""``. ``headers`` are the
            final response's, lower-cased, without ``content-encoding``/``content-length`` (the body is
            decoded).
        Raises:
            RetriableError: ``timeout``, ``dns_error`` (temporary), ``connection_refused``,
                ``connection_error``, ``tls_error`` (handshake), ``protocol_error``, ``http_429``,
                ``http_408``, ``http_5xx``; ``retry_after`` from the server's ``Retry-After``.
            ItemError: ``bad_url``, ``bad_redirect`` (a 3xx whose Location is missing or unusable),
                ``private_address``, ``dns_error`` (no such name), ``tls_error``
                (certificate rejected), ``too_many_redirects``, ``too_large``, ``bad_encoding``,
                ``http_4xx`` (``http_404``, ``http_410`` ...).
        """
        started = time.monotonic()
        current = _checked_url(url)
        headers = {"If-None-Match": etag, "If-Modified-Since": last_modified, "Accept": accept}
        sent = {k: v for k, v in headers.items() if v}
        seen = {str(current)}
        deadline: float | None = None
        for _ in range(self._policy.max_redirects + 1):
            host = current.host
            wait = None if deadline is None else deadline - time.monotonic()
            with self._gate.slot(host, wait):
                if deadline is None:
                    deadline = time.monotonic() + self._policy.timeout_seconds
                hop = self._hop(current, sent, deadline)
            if hop.location is None:
                return FetchResult(url=url, final_url=str(current), status=hop.status, body=hop.body,
                                   headers=hop.headers, elapsed_seconds=time.monotonic() - started)
            current = hop.location
            if str(current) in seen:
                raise ItemError("too_many_redirects", f"{redacted_url(url)}: redirect loop")
            seen.add(str(current))
        raise ItemError("too_many_redirects",
                        f"{redacted_url(url)}: more than {self._policy.max_redirects} redirects")

    def _hop(self, url: httpx.URL, headers: dict[str, str], deadline: float) -> _Hop:
        where = redacted_url(str(url))
        max_raw = self._policy.max_bytes + _RAW_SLACK_BYTES
        if self._backend is None:
            checked_addresses(url.host, url.port or (443 if url.scheme == "https" else 80),
                              allow_private=self._policy.allow_private_networks, resolver=self._resolver,
                              address_check=self._address_check, timeout=deadline - time.monotonic())
        budget = self._backend.budget(deadline, max_raw) if self._backend else nullcontext()
        total = self._policy.timeout_seconds
        timeout = httpx.Timeout(total, connect=min(self._policy.connect_timeout_seconds, total))
        try:
            request = self._client.build_request("GET", url, headers=headers, timeout=timeout)
        except _URL_ERRORS as exc:
            raise ItemError("bad_url", f"not a usable URL: {where}") from exc
        try:
            with budget:
                response = self._client.send(request, stream=True)
                try:
                    return self._reply(response, url, deadline)
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            raise _network_error(exc, where, total) from exc
        except _URL_ERRORS as exc:
            # The request's own URL was parsed above, so what httpx could not parse while sending is the
            # response's Location (httpx works out the next request even when it does not follow it).
            raise ItemError("bad_redirect", f"{where}: unusable redirect target ({type(exc).__name__})") from exc

    def _reply(self, response: httpx.Response, url: httpx.URL, deadline: float) -> _Hop:
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()
                   if k.lower() not in ("content-encoding", "content-length")}
        if status in _REDIRECTS:
            location = response.headers.get("location", "").strip()
            if not location:
                raise ItemError("bad_redirect", f"{redacted_url(str(url))}: HTTP {status} without a Location")
            try:
                target = url.join(location)
            except _URL_ERRORS as exc:
                raise ItemError("bad_redirect", f"{redacted_url(str(url))}: unusable redirect target") from exc
            return _Hop(status, headers, location=_checked_url(target))
        if status == 304:
            return _Hop(status, headers)
        if 200 <= status < 300:
            return _Hop(status, headers, self._body(response, url, deadline))
        raise _status_error(status, str(url), response.headers.get("retry-after"))

    def _body(self, response: httpx.Response, url: httpx.URL, deadline: float) -> bytes:
        cap = self._policy.max_bytes
        where = redacted_url(str(url))
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > cap:
            raise ItemError("too_large", f"{where}: declared {int(declared)} bytes, over the {cap}-byte cap")
        decoders = decoders_for(response.headers.get("content-encoding", ""))
        body = bytearray()
        try:
            # A response built in memory (a test transport) is already read; a real one is streamed.
            chunks = [response.content] if response.is_stream_consumed else response.iter_raw()
            for raw in chunks:
                body += decoded(decoders, raw, cap - len(body), final=False)
                if len(body) > cap:
                    raise ItemError("too_large", f"{where}: body over the {cap}-byte cap")
                if time.monotonic() > deadline:
                    raise RetriableError("timeout", f"{where}: body not complete within "
                                         f"{self._policy.timeout_seconds:g}s")
            body += decoded(decoders, b"", cap - len(body), final=True)
        except DECODE_ERRORS as exc:
            raise ItemError("bad_encoding", f"{where}: corrupt compressed body ({exc})") from exc
        if len(body) > cap:
            raise ItemError("too_large", f"{where}: body over the {cap}-byte cap")
        return bytes(body)

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _guarded_transport(backend: GuardedBackend) -> httpx.HTTPTransport:
    """An httpx transport whose connection pool connects through ``backend``.

    httpx does not expose httpcore's ``network_backend`` parameter, so the pool is replaced after
    construction; ``tests/test_http.py`` proves the backend is in use (refused and filtered addresses).
    """
    import httpcore

    transport = httpx.HTTPTransport(trust_env=False)
    limits = httpx.Limits()
    transport._pool = httpcore.ConnectionPool(  # noqa: SLF001 - see docstring
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=backend,
    )
    return transport


def _checked_url(url: str | httpx.URL) -> httpx.URL:
    """``url`` as an httpx URL when it is an absolute http(s) URL with a host; ``bad_url`` otherwise."""
    try:
        parsed = httpx.URL(str(url).strip()) if isinstance(url, str) else url
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise ItemError("bad_url", f"not a usable URL: {redacted_url(str(url))}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ItemError("bad_url", f"only absolute http(s) URLs are fetched: {redacted_url(str(url))}")
    return parsed


def _status_error(status: int, url: str, retry_after: str | None) -> PipelineError:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "unexpected status"
    message = f"{redacted_url(url)}: HTTP {status} {phrase}"
    if status in (408, 429) or status >= 500:
        wait = retry_after_seconds(retry_after)
        if wait is not None:
            message += f" (Retry-After {wait:g}s)"
        return RetriableError(f"http_{status}", message, retry_after=wait)
    return ItemError(f"http_{status}", message)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        yield node
        node = node.__cause__ or node.__context__


def _network_error(exc: httpx.HTTPError, where: str, timeout: float) -> PipelineError:
    """Classify an httpx failure into a short reason and a readable message without the URL's secrets."""
    if isinstance(exc, httpx.TimeoutException):
        return RetriableError("timeout", f"{where}: no complete response within {timeout:g}s")
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return ItemError("tls_error", f"{where}: certificate rejected ({cause.verify_message})")
        if isinstance(cause, ssl.SSLError):
            return RetriableError("tls_error", f"{where}: TLS handshake failed ({cause.reason or cause})")
        if isinstance(cause, ConnectionRefusedError):
            return RetriableError("connection_refused", f"{where}: connection refused")
    if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc).lower():
        # httpx's own reading of a Location it could not parse ("http://[::1"): the server will send the
        # same one next time, so this is the item's fault, not a transient one.
        return ItemError("bad_redirect", f"{where}: unusable redirect target")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ItemError("bad_url", f"{where}: unsupported URL")
    if isinstance(exc, httpx.ConnectError):
        return RetriableError("connection_error", f"{where}: cannot connect ({exc})")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return RetriableError("protocol_error", f"{where}: broken HTTP response ({exc})")
    if isinstance(exc, httpx.DecodingError):
        return ItemError("bad_encoding", f"{where}: undecodable body ({exc})")
    return RetriableError("network_error", f"{where}: {type(exc).__name__} ({exc})")
