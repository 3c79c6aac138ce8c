"""Which addresses newswatch may connect to, a connection layer that only connects to those, and
per-host politeness.

Why: feed and article URLs come from third parties. Without a guard, a feed entry pointing at
``http://169.254.169.254/`` (cloud metadata), ``http://10.0.0.5/admin`` or a name that resolves to
127.0.0.1 turns the poller into a proxy into our own network (SSRF). Checking the URL's host is not
enough: a hostile DNS server can answer "public" to the check and "private" to the connect (DNS
rebinding). So the check and the connect use the *same* resolution: ``GuardedBackend`` is the httpcore
network backend under ``extract.http.HttpClient``; it resolves each host once, drops addresses the policy
refuses, and opens the TCP connection to one of the checked IP addresses. TLS SNI, certificate checks
and the Host header still use the host name, because httpcore passes them separately.

The same backend enforces the per-request budget of ``HttpClient``: every connect, TLS handshake and
read is given at most the time left until the request's deadline (so a server trickling one byte a
second stops at the deadline, not only at a per-read timeout), and raw bytes received are counted
against a cap (so a response that never ends stops even when no decoded byte comes out of it).

``HostGate`` is the other half of "how we may connect": per-host concurrency and a minimum gap
between request starts, so a feed list with many URLs on one site does not hammer it.

Tests inject ``resolver`` (a fake DNS) and ``address_check`` (e.g. treat 127.0.0.1 as public) so that
refusal paths run without a packet leaving loopback.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import typing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore

from newswatch.errors import ItemError, RetriableError

Resolver = Callable[[str, int], list[str]]
AddressCheck = Callable[[str], bool]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# How many resolved addresses to try before giving up on a host; each try gets the remaining budget.
_MAX_CONNECT_ATTEMPTS = 3


def is_public_address(ip: str) -> bool:
    """Whether ``ip`` is a globally routable unicast address (not private, loopback, link-local ...).

    IPv4-mapped (``::ffff:10.0.0.1``) and NAT64 (``64:ff9b::a00:1``) IPv6 forms are judged by the IPv4
    address they carry, so they cannot smuggle a private target past the check. Unparsable input is
    not public.
    """
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0].strip("[]"))
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.teredo is not None or addr.is_site_local or addr in _IPV4_COMPATIBLE:
            # Teredo hides its client address (obfuscated) and reaches it through a relay; site-local
            # (fec0::/10) is deprecated but still routed inside some networks; ::a.b.c.d is deprecated.
            return False
        if addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        elif addr in _NAT64:
            addr = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        elif addr.sixtofour is not None:
            addr = addr.sixtofour  # 2002:AABB:CCDD::/48 routes to the IPv4 address AA.BB.CC.DD
    return (bool(addr.is_global) and not addr.is_multicast and not addr.is_reserved
            and not addr.is_unspecified and not addr.is_loopback and not addr.is_link_local)


def system_resolver(host: str, port: int) -> list[str]:
    """The IP addresses of ``host`` from the operating system's resolver, in its preference order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]), None)
    return list(seen)


# What ``checked_addresses`` uses when a caller passes no resolver or address check. The poll cycle
# builds its own ``HttpClient`` (flows/cycle.py), so a whole-cycle test has no argument to pass a fake
# DNS through: it replaces these two instead (pytest ``monkeypatch``), e.g. to make a name fail to
# resolve or to let a server on 127.0.0.1 play a public host. Production code never reassigns them.
DEFAULT_RESOLVER: Resolver = system_resolver
DEFAULT_ADDRESS_CHECK: AddressCheck = is_public_address


def _ip_literal(host: str) -> str | None:
    """The IP address ``host`` denotes when it is a literal, including the legacy IPv4 spellings.

    ``inet_aton`` (and so the system resolver) reads ``2130706433``, ``0x7f.1``, ``0177.0.0.1`` and
    ``127.1`` as 127.0.0.1; treating them as names would hand the decision to whichever resolver is
    in use, so they are parsed here and checked like any other literal.
    """
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))
    except ValueError:
        return _legacy_ipv4(host)


def _legacy_ipv4(host: str) -> str | None:
    """``a``, ``a.b``, ``a.b.c`` or ``a.b.c.d`` with decimal, octal (0-prefixed) or hex (0x) parts."""
    parts = host.rstrip(".").split(".") if host else []
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        p = part.lower()
        try:
            if p.startswith("0x"):
                numbers.append(int(p[2:] or "0", 16))
            elif len(p) > 1 and p.startswith("0"):
                numbers.append(int(p[1:], 8))
            elif p.isdigit():
                numbers.append(int(p))
            else:
                return None
        except ValueError:
            return None
    *head, last = numbers
    if any(n > 0xFF for n in head) or last >= 1 << (8 * (5 - len(numbers))):
        return None
    value = 0
    for n in head:
        value = value << 8 | n
    value = value << (8 * (4 - len(head))) | last
    return str(ipaddress.IPv4Address(value))


def checked_addresses(
    host: str,
    port: int,
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
    address_check: AddressCheck | None = None,
    timeout: float | None = None,
) -> list[str]:
    """Resolve ``host`` and return the addresses newswatch may connect to, in preference order.

    A name that resolves to both public and private addresses keeps only the public ones; the caller
    must connect to one of the returned addresses, never resolve again.

    Args:
        host: a host name or IP literal (IP literals are not resolved).
        port: the port (some resolvers need it).
        allow_private: ``fetch.allow_private_networks``; when true every address is allowed.
        resolver: ``(host, port) -> [ip, ...]``; defaults to ``DEFAULT_RESOLVER`` (the system resolver).
        address_check: ``ip -> allowed``; defaults to ``DEFAULT_ADDRESS_CHECK`` (``is_public_address``).
        timeout: seconds to wait for the resolver (``None``: as long as it takes).
    Returns:
        At least one IP address.
    Raises:
        ItemError: ``private_address`` when no allowed address remains; ``dns_error`` when the name
            does not exist or has no address.
        RetriableError: ``dns_error`` for a temporary resolver failure, ``timeout`` when resolution
            takes longer than ``timeout``.
    """
    literal = _ip_literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        addresses = _resolved(resolver or DEFAULT_RESOLVER, host, port, timeout)
    if allow_private:
        return addresses
    check = address_check or DEFAULT_ADDRESS_CHECK
    allowed = [ip for ip in addresses if check(ip)]
    if not allowed:
        raise ItemError("private_address", f"{host} resolves to a non-public address ({addresses[0]}); "
                        "set fetch.allow_private_networks to allow it")
    return allowed


def _resolved(resolver: Resolver, host: str, port: int, timeout: float | None) -> list[str]:
    """Run the resolver, bounded by ``timeout`` (getaddrinfo itself cannot be interrupted).

    A lookup that overruns is left to finish in a daemon thread: it cannot be cancelled, and a
    daemon thread does not delay interpreter exit.
    """
    outcome: list[list[str] | BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(resolver(host, port))
        except BaseException as exc:  # noqa: BLE001 - handed over to the calling thread below
            outcome.append(exc)
        done.set()

    if timeout is None:
        run()
    else:
        threading.Thread(target=run, name="newswatch-dns", daemon=True).start()
        if not done.wait(max(timeout, 0.0)):
            raise RetriableError("timeout", f"resolving {host} took longer than {timeout:.1f}s")
    result = outcome[0]
    if isinstance(result, socket.gaierror):
        if result.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None)):
            raise RetriableError("dns_error", f"temporary DNS failure for {host}: {result.strerror}") from result
        raise ItemError("dns_error", f"cannot resolve {host}: {result.strerror}") from result
    if isinstance(result, UnicodeError):
        raise ItemError("dns_error", f"invalid host name {host!r}") from result
    if isinstance(result, OSError):
        raise RetriableError("dns_error", f"cannot resolve {host}: {result}") from result
    if isinstance(result, BaseException):
        raise result
    if not result:
        raise ItemError("dns_error", f"{host} has no address")
    return result


@dataclass
class RequestBudget:
    """The limits of one request in the current thread: its deadline and raw-byte cap."""

    deadline: float  # time.monotonic() value
    max_raw_bytes: int
    raw_bytes: int = 0

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that connects only to checked addresses, within a request budget.

    httpx's sync client runs connect and reads in the calling thread, so the budget of the request
    being served is kept in a thread-local set by ``budget()``. Connections pooled by one request and
    reused by another are charged to whichever request is reading.
    """

    def __init__(self, *, allow_private: bool, resolver: Resolver | None = None,
                 address_check: AddressCheck | None = None) -> None:
        self._allow_private = allow_private
        self._resolver = resolver
        self._address_check = address_check
        self._inner = httpcore.SyncBackend()
        self._local = threading.local()

    @contextmanager
    def budget(self, deadline: float, max_raw_bytes: int) -> Iterator[RequestBudget]:
        """Apply ``deadline`` and ``max_raw_bytes`` to every network operation in this block."""
        previous = getattr(self._local, "budget", None)
        self._local.budget = RequestBudget(deadline, max_raw_bytes)
        try:
            yield self._local.budget
        finally:
            self._local.budget = previous

    def current(self) -> RequestBudget | None:
        return typing.cast(RequestBudget | None, getattr(self._local, "budget", None))

    def clamped(self, timeout: float | None, on_expiry: type[Exception]) -> float | None:
        """``timeout`` shortened to the time left in the current budget; raise when none is left."""
        budget = self.current()
        if budget is None:
            return timeout
        left = budget.remaining()
        if left <= 0:
            raise on_expiry("the request's total time limit was reached")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        budget = self.current()
        addresses = checked_addresses(
            host, port, allow_private=self._allow_private, resolver=self._resolver,
            address_check=self._address_check, timeout=budget.remaining() if budget else None,
        )
        failure: Exception | None = None
        for ip in addresses[:_MAX_CONNECT_ATTEMPTS]:
            try:
                stream = self._inner.connect_tcp(ip, port, self.clamped(timeout, httpcore.ConnectTimeout),
                                                 local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return _GuardedStream(stream, self)
        assert failure is not None  # addresses is never empty
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedStream(httpcore.NetworkStream):
    """A connected stream whose reads and TLS handshake obey the current request budget."""

    def __init__(self, inner: httpcore.NetworkStream, backend: GuardedBackend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, self._backend.clamped(timeout, httpcore.ReadTimeout))
        budget = self._backend.current()
        if budget is not None:
            budget.raw_bytes += len(data)
            if budget.raw_bytes > budget.max_raw_bytes:
                raise ItemError("too_large", f"more than {budget.max_raw_bytes} bytes received")
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._backend.clamped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: typing.Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname,
                                    self._backend.clamped(timeout, httpcore.ConnectTimeout))
        return _GuardedStream(tls, self._backend)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class HostGate:
    """Politeness per host: at most ``concurrency`` requests at once and ``delay_seconds`` between starts.

    Hosts are keyed by name; the tables grow by one small entry per distinct host a process contacts.
    """

    def __init__(self, concurrency: int, delay_seconds: float) -> None:
        self._concurrency = max(1, concurrency)
        self._delay = max(0.0, delay_seconds)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str, wait_seconds: float | None) -> Iterator[None]:
        """Hold one of ``host``'s slots for this block; wait at most ``wait_seconds`` (``None``: no limit)."""
        with self._lock:
            sem = self._slots.setdefault(host, threading.BoundedSemaphore(self._concurrency))
        if not sem.acquire(timeout=None if wait_seconds is None else max(wait_seconds, 0.0)):
            raise RetriableError("timeout", f"no free connection slot for {host} before the deadline")
        try:
            if self._delay:
                with self._lock:
                    now = time.monotonic()
                    start = max(now, self._next_start.get(host, 0.0))
                    self._next_start[host] = start + self._delay
                time.sleep(start - now)
            yield
        finally:
            sem.release()
