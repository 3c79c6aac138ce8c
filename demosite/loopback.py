"""A small HTTP server on 127.0.0.1 for the demo, the tests and the benchmarks.

Why: newswatch must be exercised over real HTTP without touching the internet. Routes are canned
responses (status, headers, body, ETag, delay) or handler callables, and every request is logged so
tests can assert what was asked (conditional headers, how many page fetches).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    """A canned response. ``etag`` enables conditional GET (304 when If-None-Match matches)."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    delay_seconds: float = 0.0  # before answering


@dataclass(frozen=True)
class LoggedRequest:
    path: str
    headers: dict[str, str]
    at: float


Handler = Callable[[BaseHTTPRequestHandler], None]


class LoopbackSite:
    """Serve routes on ``127.0.0.1:<free port>`` from a background thread.

    Use as a context manager, or call ``start()`` / ``stop()``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route | Handler] = {}
        self.requests: list[LoggedRequest] = []
        self._lock = threading.Lock()
        site = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence stderr
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                path = self.path.split("#", 1)[0]
                with site._lock:
                    site.requests.append(
                        LoggedRequest(path, {k.lower(): v for k, v in self.headers.items()}, time.time())
                    )
                route = site.routes.get(path) or site.routes.get(path.split("?", 1)[0])
                if route is None:
                    _send(self, Route(b"not found", status=404, content_type="text/plain"))
                elif callable(route):
                    route(self)
                else:
                    _send(self, route)

        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        if isinstance(host, (bytes, bytearray)):  # the socket API allows bytes hosts; ours are always str
            host = host.decode()
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(self, path: str, route: Route | Handler) -> str:
        """Register a route and return its absolute URL."""
        self.routes[path] = route
        return self.url(path)

    def requests_to(self, path: str) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> LoopbackSite:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LoopbackSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:16] + '"'


def _send(handler: BaseHTTPRequestHandler, route: Route) -> None:
    if route.delay_seconds:
        time.sleep(route.delay_seconds)
    inm = handler.headers.get("If-None-Match")
    ims = handler.headers.get("If-Modified-Since")
    if route.status == 200 and (
        (route.etag and inm == route.etag) or (route.last_modified and ims == route.last_modified and not inm)
    ):
        handler.send_response(304)
        if route.etag:
            handler.send_header("ETag", route.etag)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return
    handler.send_response(route.status)
    handler.send_header("Content-Type", route.content_type)
    if route.etag:
        handler.send_header("ETag", route.etag)
    if route.last_modified:
        handler.send_header("Last-Modified", route.last_modified)
    for k, v in route.headers.items():
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(route.body)))
    handler.end_headers()
    try:
        handler.wfile.write(route.body)
    except (BrokenPipeError, ConnectionResetError):  # the client gave up (size cap, timeout): fine
        pass
