"""Webhook receivers on 127.0.0.1 for the alert tests: record every POST, answer scripted statuses.

Why: ``demosite.loopback.LoopbackSite`` serves GETs; alerts are POSTed (``json://``), and the tests must
see exactly what a real webhook would (the JSON body, the Idempotency-Key header) and make it misbehave
on demand: fail (500 then 200), redirect elsewhere (307/308 with a ``Location``), or accept the POST and
trickle its answer one byte a second (``TrickleReceiver``), the case a per-read timeout never ends.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]
    status: int  # what the receiver answered
    at: float = 0.0  # time.monotonic() when the request was read

    @property
    def title(self) -> str:
        return str(self.body.get("title", ""))

    @property
    def message(self) -> str:
        return str(self.body.get("message", ""))

    @property
    def key(self) -> str | None:
        return self.headers.get("idempotency-key")


def _parsed(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"raw": raw.decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"raw": value}


class WebhookReceiver:
    """``with WebhookReceiver(statuses=[500]) as r: ... r.url`` — answers 500 once, then 200.

    ``location``: sent as the ``Location`` header with every 3xx status (a redirect to another receiver).
    """

    def __init__(self, statuses: list[int] | None = None, *, location: str | None = None) -> None:
        self.statuses = list(statuses or [])
        self.location = location
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.closing = threading.Event()
        receiver = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _any(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      _parsed(raw), status, time.monotonic()))
                receiver.answer(self, status)

            do_POST = do_PUT = do_GET = _any  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True

    def answer(self, h: BaseHTTPRequestHandler, status: int) -> None:
        h.send_response(status)
        if 300 <= status < 400 and self.location:
            h.send_header("Location", self.location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def url(self) -> str:
        """The apprise URL of this receiver."""
        return f"json://127.0.0.1:{self.port}/hook"

    @property
    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def __enter__(self) -> WebhookReceiver:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()


class TrickleReceiver(WebhookReceiver):
    """Accepts every POST, then trickles ``total_bytes`` of its answer one byte every ``every`` seconds.

    ``part="headers"`` trickles the status line and headers themselves; ``"body"`` sends the headers at
    once and trickles a declared body. ``hung_up`` records, per request, how long after it was read the
    client closed the connection (``None`` while it is still open).
    """

    def __init__(self, *, total_bytes: int = 3600, every: float = 1.0, part: str = "body") -> None:
        super().__init__()
        self.total_bytes, self.every, self.part = total_bytes, every, part
        self.hung_up: list[float | None] = []

    @property
    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for h in self.hung_up if h is None)

    def answer(self, h: BaseHTTPRequestHandler, status: int) -> None:
        with self._lock:
            index = len(self.hung_up)
            self.hung_up.append(None)
            read_at = self.received[-1].at
        head = f"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {self.total_bytes}\r\n\r\n".encode()
        if self.part == "headers":
            data = head + b"x" * self.total_bytes
        else:
            h.wfile.write(head)
            h.wfile.flush()
            data = b"x" * self.total_bytes
        try:
            for i in range(len(data)):
                if self.closing.wait(self.every):
                    break
                h.wfile.write(data[i:i + 1])
                h.wfile.flush()
        except OSError:
            pass
        finally:
            with self._lock:
                self.hung_up[index] = time.monotonic() - read_at
            h.close_connection = True
