"""Notification channels: how one message reaches one notify URL, within a hard deadline, under the
network policy of feeds.

Why an interface of our own: apprise gives up *waiting* at its timeout but leaves its worker thread
running, so a webhook that accepts the POST and trickles its answer one byte a second kept the process
alive for minutes after the delivery (``alerts test`` took 242 s, a ``run`` could not exit, ``serve``'s
next cycle waited for the trickle). Delivery and the outbox depend only on ``Channel``; two
implementations, chosen from the URL scheme by ``pipeline.channel_set.ChannelSet.channel``:

- ``json://`` and ``jsons://`` (generic JSON webhooks): ``pipeline.webhook.WebhookChannel``, httpx in this
  process, every connect, write and read bounded by the time left until the message's deadline, the
  address policy checked on the addresses actually connected to, redirects never followed.
- every other scheme (Slack, e-mail, Telegram, ``form://``, ``xml://`` ...): ``pipeline.apprise_child``,
  apprise in a child process that is killed at the deadline, with the same address policy applied to
  every name it resolves and redirects turned off.

A channel URL is a credential (Slack tokens, SMTP passwords): config validation rejects an unknown
scheme with a hint, and anything stored or logged uses apprise's privacy rendering.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Protocol

from extract.netguard import AddressCheck, Resolver
from newswatch import secrets
from transform.alerts import Message

log = logging.getLogger(__name__)

# Schemes sent by ``WebhookChannel`` (our own httpx client); apprise's ``json://`` grammar is kept.
WEBHOOK_SCHEMES = frozenset({"json", "jsons"})
# Error text of a send refused by the address policy (recorded in the outbox's ``error``).
BLOCKED_PRIVATE = "blocked: private address"


@dataclass(frozen=True, slots=True)
class SendResult:
    """How one send ended: ``error`` is None when the channel accepted the message."""

    error: str | None = None
    reason: str = "sent"  # sent | refused | timeout | blocked | internal_error
    detail: str | None = None  # a traceback, for internal errors (logged, not stored)

    @property
    def ok(self) -> bool:
        return self.error is None

    @staticmethod
    def timed_out(seconds: float) -> SendResult:
        return SendResult(f"timeout after {max(math.ceil(seconds - 0.05), 0)}s", "timeout")

    @staticmethod
    def blocked(host: str) -> SendResult:
        return SendResult(secrets.redacted(f"{BLOCKED_PRIVATE} ({host})"), "blocked")

    @staticmethod
    def refused(error: str) -> SendResult:
        return SendResult(secrets.redacted(error)[:1000], "refused")

    @staticmethod
    def internal(exc: BaseException, traceback_text: str | None = None) -> SendResult:
        return SendResult(secrets.redacted(f"internal_error: {type(exc).__name__}: {exc}")[:1000], "internal_error",
                          secrets.redacted(traceback_text) if traceback_text else None)


class Channel(Protocol):
    """One notify URL. ``send`` returns by ``deadline`` (a ``time.monotonic()`` value) whatever the far end
    does, leaves nothing running behind it, and turns every failure into its result."""

    def send(self, message: Message, *, deadline: float, idempotency_key: str) -> SendResult: ...


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """The network rules every channel obeys: those of feeds (``fetch.allow_private_networks``).

    ``resolver`` and ``address_check`` replace the system resolver and ``is_public_address`` in tests
    (a fake DNS that answers private or public addresses without a packet leaving loopback). For
    apprise channels they are pickled into the child process, so they must be module-level callables.
    """

    allow_private: bool
    user_agent: str = "newswatch"
    resolver: Resolver | None = None
    address_check: AddressCheck | None = None

    @staticmethod
    def from_settings(settings: Any, *, resolver: Resolver | None = None,
                      address_check: AddressCheck | None = None) -> ChannelPolicy:
        return ChannelPolicy(settings.fetch.allow_private_networks, settings.fetch.user_agent, resolver, address_check)


# apprise schemes whose extra ``+Header=value`` URL parameters become HTTP headers (generic webhooks).
HEADER_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})


def url_with_idempotency_key(url: str, key: str) -> str:
    """``url`` with an ``Idempotency-Key`` header parameter when its scheme sends extra headers."""
    scheme = url.split("://", 1)[0].lower()
    if scheme not in HEADER_SCHEMES:
        return url
    base, hash_, fragment = url.partition("#")
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}+Idempotency-Key={key}{hash_}{fragment}"
