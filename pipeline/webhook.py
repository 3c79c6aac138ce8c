"""``json://`` and ``jsons://`` webhooks sent with httpx, bounded by a deadline no server can extend.

Why not apprise for these: its send runs in a thread it abandons at its timeout, and requests' read
timeout is per read, so a server trickling one byte a second keeps it alive indefinitely. Here the
connection goes through ``extract.netguard.GuardedBackend``, the same backend feeds use: it resolves
each host once, refuses addresses the policy forbids (``fetch.allow_private_networks``), connects only
to the checked addresses, and gives every connect, TLS handshake, write and read at most the time left
until the message's deadline. So the send ends at the deadline, in this thread, with nothing left
running.

What is sent is apprise's JSON payload (``version``, ``title``, ``message``, ``attachments``, ``type``),
with apprise's URL grammar (``user:password@``, ``+Header=value``, ``-param=value``, ``:field=rename``,
``method=``, ``verify=``), so existing receivers and URLs keep working, plus an ``Idempotency-Key``
header. The message counts as accepted as soon as a 2xx status line arrives: its body is not waited
for (a receiver that trickles it has already accepted, and waiting would only turn a delivered message
into a retried duplicate). Redirects are never followed: a 3xx is recorded as a refusal, so the body and
the key never reach a host other than the configured one.
"""

from __future__ import annotations

import json
import logging
import time
from http import HTTPStatus
from typing import Any

import httpcore
import httpx

from extract.netguard import GuardedBackend
from newswatch.channel_urls import apprise_plugin, numeric_host
from newswatch.errors import ItemError, RetriableError
from pipeline.channels import ChannelPolicy, SendResult
from transform.alerts import Message

log = logging.getLogger(__name__)

# apprise's limits for generic webhooks (NotifyBase.title_maxlen / body_maxlen), kept so payloads match.
TITLE_MAX_CHARS = 250
BODY_MAX_CHARS = 32768
# How much of a refusal's body is read for the error message, and the raw-byte cap of one response.
ERROR_DETAIL_BYTES = 2000
MAX_RESPONSE_BYTES = 64_000


class WebhookChannel:
    """One ``json://`` / ``jsons://`` URL (see the module docstring)."""

    def __init__(self, url: str, policy: ChannelPolicy) -> None:
        self._policy = policy
        plugin = apprise_plugin(url)
        if plugin is None:
            raise ValueError("not a valid json:// webhook URL")
        self._plugin: Any = plugin
        host = numeric_host(str(plugin.host))
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        port = f":{plugin.port}" if isinstance(plugin.port, int) else ""
        self._url = f"{'https' if plugin.secure else 'http'}://{host}{port}{plugin.fullpath or ''}"
        self._host = host
        self._ssl = httpx.create_ssl_context(verify=bool(plugin.verify_certificate), trust_env=False)

    def _payload(self, message: Message) -> bytes:
        payload: dict[str, Any] = {"version": "1.0", "title": message.title[:TITLE_MAX_CHARS],
                                   "message": message.body[:BODY_MAX_CHARS], "attachments": [], "type": "info"}
        for key, value in dict(self._plugin.payload_extras).items():  # apprise's ``:field=`` rules
            if key in payload:
                moved = payload.pop(key)
                if value:
                    payload[value] = moved
            else:
                payload[key] = value
        return json.dumps(payload).encode()

    def send(self, message: Message, *, deadline: float, idempotency_key: str) -> SendResult:
        """POST the message; see ``pipeline.channels.Channel``."""
        started = time.monotonic()
        if deadline <= started:
            return SendResult.timed_out(0)
        backend = GuardedBackend(allow_private=self._policy.allow_private, resolver=self._policy.resolver,
                                 address_check=self._policy.address_check)
        headers = {"User-Agent": self._policy.user_agent, "Content-Type": "application/json",
                   **{str(k): str(v) for k, v in dict(self._plugin.headers).items()},
                   "Idempotency-Key": idempotency_key}
        auth = (str(self._plugin.user), str(self._plugin.password or "")) if self._plugin.user else None
        seconds = deadline - started
        try:
            with httpx.Client(transport=_transport(backend, self._ssl), follow_redirects=False, trust_env=False) as client, \
                    backend.budget(deadline, MAX_RESPONSE_BYTES):
                request = client.build_request(self._plugin.method, self._url, content=self._payload(message),
                                               params=dict(self._plugin.params), headers=headers,
                                               timeout=httpx.Timeout(seconds))
                response = client.send(request, stream=True, auth=httpx.BasicAuth(*auth) if auth else None)
                try:
                    return self._outcome(response, deadline)
                finally:
                    response.close()
        except (httpx.TimeoutException, httpcore.TimeoutException):
            return SendResult.timed_out(seconds)
        except ItemError as e:
            if e.reason == "private_address":
                return SendResult.blocked(self._host)
            return SendResult.refused(f"{e.reason}: {e}")
        except RetriableError as e:
            if e.reason == "timeout":
                return SendResult.timed_out(seconds)
            return SendResult.refused(f"{e.reason}: {e}")
        except httpx.HTTPError as e:
            return SendResult.refused(f"cannot deliver to {self._host}: {type(e).__name__} ({e})")

    def _outcome(self, response: httpx.Response, deadline: float) -> SendResult:
        status = response.status_code
        if 200 <= status < 300:
            return SendResult()
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "unexpected status"
        if 300 <= status < 400:
            where = httpx.URL(self._url).join(response.headers.get("location", "")).host or "?"
            return SendResult.refused(f"HTTP {status} {phrase}: redirect to {where} not followed "
                                      "(webhooks never follow redirects; configure the final URL)")
        detail = bytearray()
        try:
            for chunk in response.iter_raw():
                detail += chunk
                if len(detail) >= ERROR_DETAIL_BYTES or time.monotonic() >= deadline:
                    break
        except (httpx.HTTPError, ItemError, RetriableError):
            pass  # the status is the answer; its body is only a detail
        text = detail[:ERROR_DETAIL_BYTES].decode("utf-8", "replace").strip()
        return SendResult.refused(f"HTTP {status} {phrase}" + (f": {text[:200]}" if text else ""))


def _transport(backend: GuardedBackend, ssl_context: Any) -> httpx.HTTPTransport:
    """An httpx transport whose pool connects through ``backend`` (httpx exposes no such parameter)."""
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(  # noqa: SLF001 - the only way to give httpx a network backend
        ssl_context=ssl_context, max_connections=1, max_keepalive_connections=0, network_backend=backend)
    return transport

