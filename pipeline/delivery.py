"""Alert delivery: send what the outbox holds, after the load committed, never holding the warehouse open.

One delivery (``deliver_alerts``; the cycle flow calls it right after the load task):

1. Claim, in one short transaction: queue operator incidents (``pipeline/feed_health.py``), then pick
   the due rows: ``pending`` rows whose ``next_attempt_at`` has come (for a digest rule, every unsent
   row of that (rule, channel) once one of them is due), and ``sending`` rows whose lease ran out
   (their sender died). Mark them ``sending`` with one more attempt and a lease of ``LEASE``. Commit
   and close the file.
2. Send each message through its ``pipeline.channels.Channel``, with no connection open (DuckDB locks
   the file for the whole process; a slow webhook must not lock out the next cycle or an operator).
   Each send has a hard deadline (``MESSAGE_DEADLINE_SECONDS``) and the delivery as a whole another
   (``DELIVERY_DEADLINE_SECONDS``), which no server behaviour can extend and which nothing started by a
   send outlives; each send runs inside a boundary (``sent``) that turns any exception into that
   alert's error. Channels obey ``fetch.allow_private_networks`` and never follow redirects.
3. Settle: a message a channel accepted is recorded ``sent`` right after its send, in its own short
   transaction; a failure becomes ``pending`` again with ``next_attempt_at`` backed off exponentially
   (``RETRY_BASE`` doubling up to ``RETRY_MAX``) and the redacted ``error``, or ``failed`` after
   ``MAX_ATTEMPTS`` (at once when the rule or channel is no longer configured). Failures are recorded
   with the next success or at the end (losing one in a crash only means an earlier retry). After a
   failure, the same channel is not tried again in this delivery (its other rows wait, unused
   attempts given back): a dead webhook costs one timeout per cycle, not one per alert.
   ``newswatch alerts list`` shows all of it.

Crash windows, and what the next delivery does:

- Before the load commit: the outbox rows roll back with the articles; the next cycle loads and
  queues them again.
- After the load commit, before the claim (``NEWSWATCH_FAULT=exit_before_send``): the rows are
  ``pending``; the next delivery (the next cycle) sends them. Exactly once.
- After the claim, before a send: the rows are ``sending``; once their lease has run out (``LEASE``,
  less than a default cycle interval), the next delivery sends them. Exactly once, a little late.
- After a channel accepted a message, before its settle committed (``NEWSWATCH_FAULT=exit_after_send``):
  the outbox cannot know the message went out, so after the lease it is sent again. This duplicate
  cannot be ruled out (a webhook and a DuckDB file do not commit together); recording each accepted
  message at once keeps the window to one short transaction (~60 ms measured). Every message carries an idempotency key (the
  ``alert_id``; for a digest, a hash of its alert_ids), sent as the ``Idempotency-Key`` header to generic
  webhooks (``json://``, ``form://``, ``xml://`` and their ``s`` variants), so a receiver that honours it
  drops the copy. Slack, e-mail, Telegram, Matrix, ntfy ... have no such key: there the subscriber may
  see the message twice.
- A sender that is merely slow never overlaps a second sender: it starts no send after
  ``DELIVERY_DEADLINE_SECONDS`` (the rest are released unsent, without using an attempt), far less
  than ``LEASE``, and each send ends by its deadline.

A rerun sends nothing new: rows are keyed on (rule, story, channel) and only unsent rows are claimed.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from extract.netguard import AddressCheck, Resolver
from newswatch.errors import FatalError
from newswatch.faults import crash_point
from pipeline.alert_routes import alert_rule
from pipeline.channel_set import ChannelSet
from pipeline.channels import Channel, ChannelPolicy, SendResult
from pipeline.feed_health import operator_incidents
from transform.alerts import Message, StoryAlert, alert_message, digest_message, rule_test_message
from transform.urls import stable_id
from warehouse import db
from warehouse.outbox import (
    OPERATOR_RULE,
    OutboxRow,
    Outcome,
    channel_identities,
    claim_rows,
    queue_operator_alerts,
    settle_rows,
    unsent_rows,
)

log = logging.getLogger(__name__)

# Retry schedule: 1, 2, 4 ... minutes, at most an hour apart, 10 attempts. With 15-minute cycles a
# channel may be down ~5 hours before an alert is given up as ``failed`` (and stays visible).
RETRY_BASE = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 10
# How long a claim holds a row. Shorter than the default 15-minute cycle, so rows claimed by a process
# that died are sent by the next cycle; far longer than DELIVERY_DEADLINE_SECONDS, so a live sender never loses its rows.
LEASE = timedelta(minutes=10)
# Hard deadlines, whatever the far end does (a webhook trickling its answer a byte a second included):
# one message to one channel, everything included (name resolution, connect, TLS, request, answer;
# an apprise channel's child process start, ~1 s, too), and one delivery's sending as a whole (no send
# starts after it, and a send never runs past it). A healthy webhook answers in well under a second and
# apprise's own socket timeouts are 4 s each; 10 s leaves room for a slow SMTP handshake. 30 s keeps a
# delivery, with up to three dead channels, inside the 30 s a stopping ``serve`` gives a cycle in flight
# (flows/serve.py CYCLE_FINISH_SECONDS), and far below the 10-minute lease.
MESSAGE_DEADLINE_SECONDS = 10.0
DELIVERY_DEADLINE_SECONDS = 30.0
# Messages per delivery; the rest wait for the next one (a flood should become a digest, not 1,000 pings).
MAX_MESSAGES_PER_DELIVERY = 100



@dataclass(frozen=True, slots=True)
class Batch:
    """One message to send: one row (instant, operator) or every claimed row of a digest."""

    rows: tuple[OutboxRow, ...]
    digest: bool

    @property
    def idempotency_key(self) -> str:
        if len(self.rows) == 1 and not self.digest:
            return self.rows[0].alert_id
        return stable_id("digest", *sorted(r.alert_id for r in self.rows))


def _is_due(row: OutboxRow, now: datetime) -> bool:
    return row.next_attempt_at is None or row.next_attempt_at <= now


def due_batches(rows: Sequence[OutboxRow], digest_rules: set[str], *, now: datetime,
                limit: int = MAX_MESSAGES_PER_DELIVERY) -> list[Batch]:
    """The messages due now, oldest first: digests grouped per (rule, channel), the rest one row each."""
    groups: dict[tuple[str, str], list[OutboxRow]] = {}
    batches: list[Batch] = []
    for r in rows:
        if r.status == "sending" and not _is_due(r, now):
            continue  # another live delivery holds it
        if r.table == "alerts" and r.rule in digest_rules:
            groups.setdefault((r.rule, r.channel), []).append(r)
        elif _is_due(r, now):
            batches.append(Batch((r,), digest=False))
    for members in groups.values():
        if any(_is_due(r, now) for r in members):
            batches.append(Batch(tuple(members), digest=True))
    batches.sort(key=lambda b: min((r.next_attempt_at or r.created_at, r.created_at) for r in b.rows))
    return batches[:limit]


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the ``attempts``-th failed attempt: 1, 2, 4 ... minutes, capped at ``RETRY_MAX``."""
    return min(RETRY_BASE * (2 ** max(attempts - 1, 0)), RETRY_MAX)


def sent(channel: Channel, message: Message, *, deadline: float, idempotency_key: str) -> SendResult:
    """Send one message inside a boundary: whatever the channel raises becomes this message's outcome.

    Third-party code runs here (apprise plugins, URL and encoding handling); a bug in it must cost one
    alert an attempt, not the delivery or the cycle. It is logged with its traceback (secrets masked).
    """
    try:
        return channel.send(message, deadline=deadline, idempotency_key=idempotency_key)
    except Exception as e:  # noqa: BLE001 - the boundary: recorded, counted and logged below
        result = SendResult.internal(e, traceback.format_exc())
    log.error("alert channel raised %s; recorded as this alert's error\n%s", result.error, result.detail)
    return result


def _channel_urls(settings: Any) -> dict[tuple[str, str], str]:
    """(rule, channel identity) -> the real URL, for every configured channel."""
    out: dict[tuple[str, str], str] = {}
    for a in settings.alerts:
        out.update({(a.rule, ident): url for ident, url in zip(channel_identities(a.notify), a.notify, strict=True)})
    ops = settings.operator.notify
    out.update({(OPERATOR_RULE, ident): url for ident, url in zip(channel_identities(ops), ops, strict=True)})
    return out


def _message(batch: Batch) -> Message:
    first = batch.rows[0]
    if first.table == "operator_alerts":
        return Message(first.title or "", first.body or "")
    alerts = [StoryAlert.from_json(r.payload or "{}") for r in batch.rows]
    return digest_message(first.rule, alerts) if batch.digest else alert_message(alerts[0])


@dataclass
class DeliveryReport:
    """What one delivery did, by outcome (logged as one line at its end)."""

    delivered: int = 0  # outbox rows accepted by their channel (a digest counts each story)
    failed: int = 0  # sends refused by the channel or the network
    timeouts: int = 0  # sends stopped at their deadline
    blocked: int = 0  # sends refused by the address policy
    internal_errors: int = 0  # sends that raised (a bug in a plugin or in newswatch): logged with the traceback
    released: int = 0  # rows not tried this time (deadline reached, or their channel already failed)
    feed_health_seconds: float = 0.0  # the operator check's share of the delivery (it reads feeds and runs)

    def count(self, result: SendResult) -> None:
        if result.reason == "timeout":
            self.timeouts += 1
        elif result.reason == "blocked":
            self.blocked += 1
        elif result.reason == "internal_error":
            self.internal_errors += 1
        else:
            self.failed += 1


def deliver_alerts(settings: Any, *, now: datetime | None = None, resolver: Resolver | None = None,
                     address_check: AddressCheck | None = None) -> int:
    """Send every due alert and operator notice; record each outcome in the outbox.

    Args:
        settings: the validated config.
        now: the delivery clock (tests pass a later time to reach retries and digests); default: now.
        resolver, address_check: replace the system resolver and the public-address check (tests).

    Returns:
        How many outbox rows were delivered (a digest counts each story it carried).
    """
    return delivery_report(settings, now=now, resolver=resolver, address_check=address_check).delivered


def delivery_report(settings: Any, *, now: datetime | None = None, resolver: Resolver | None = None,
                    address_check: AddressCheck | None = None) -> DeliveryReport:
    """``deliver_alerts``, returning the counts per outcome."""
    crash_point("exit_before_send")

    def clock() -> datetime:
        return now if now is not None else datetime.now(UTC)

    start = clock()
    path = settings.warehouse.path
    digest_rules = {a.rule for a in settings.alerts if a.mode == "digest"}
    report = DeliveryReport()
    with db.writer(path) as con, db.transaction(con):
        if settings.operator.notify:
            checked = time.monotonic()
            queue_operator_alerts(con, operator_incidents(con, settings, now=start),
                                  channel_identities(settings.operator.notify), now=start)
            report.feed_health_seconds = time.monotonic() - checked
        batches = due_batches(unsent_rows(con), digest_rules, now=start)
        claim_rows(con, [r for b in batches for r in b.rows], now=start, lease=LEASE)
    if not batches:
        return report
    urls = _channel_urls(settings)
    broken: dict[str, tuple[str, datetime]] = {}  # url -> (error, retry time) of a channel failing this delivery
    ends_at = time.monotonic() + DELIVERY_DEADLINE_SECONDS
    unsettled: list[Outcome] = []  # failures wait for the next settle: a lost failure is merely retried
    with ChannelSet(ChannelPolicy.from_settings(settings, resolver=resolver, address_check=address_check)) as channels:
        for batch in batches:
            first = batch.rows[0]
            url = urls.get((first.rule, first.channel))
            if url is None:
                what = "operator channel" if first.rule == OPERATOR_RULE else f"rule {first.rule!r} or its channel"
                unsettled += _ended(batch, "failed", f"{what} is no longer configured", None)
                continue
            if time.monotonic() >= ends_at:
                report.released += len(batch.rows)
                unsettled += _released(batch, f"not sent: the delivery reached its {DELIVERY_DEADLINE_SECONDS:g}s deadline",
                                       start)
                continue
            if url in broken:
                err, retry_at = broken[url]
                report.released += len(batch.rows)
                unsettled += _released(batch, f"not sent: the channel failed earlier in this delivery ({err})", retry_at)
                continue
            result = _sent_batch(channels, url, batch, deadline=min(time.monotonic() + MESSAGE_DEADLINE_SECONDS, ends_at))
            if result.ok:
                crash_point("exit_after_send")
                report.delivered += len(batch.rows)
                with db.writer(path) as con, db.transaction(con):  # at once: this is the duplicate window
                    settle_rows(con, [*unsettled, *_ended(batch, "sent", None, clock())])
                unsettled = []
                continue
            report.count(result)
            error = result.error or "failed"
            outcomes = _failed(batch, error, clock())
            broken[url] = (error, min(o.next_attempt_at or start for o in outcomes))
            log.warning("alert to %s failed: %s", first.channel, error)
            unsettled += outcomes
    if unsettled:
        with db.writer(path) as con, db.transaction(con):
            settle_rows(con, unsettled)
    level = logging.WARNING if report.internal_errors else logging.INFO
    log.log(level, "alert delivery: %d delivered, %d failed, %d timed out, %d blocked, %d internal errors, %d postponed",
            report.delivered, report.failed, report.timeouts, report.blocked, report.internal_errors, report.released)
    return report


def _sent_batch(channels: ChannelSet, url: str, batch: Batch, *, deadline: float) -> SendResult:
    """Render and send one batch inside the boundary (a payload that does not render is its outcome too)."""
    try:
        channel = channels.channel(url)
        message = _message(batch)
    except Exception as e:  # noqa: BLE001 - the boundary, as in ``sent``
        result = SendResult.internal(e, traceback.format_exc())
        log.error("alert %s could not be prepared: %s\n%s", batch.rows[0].alert_id, result.error, result.detail)
        return result
    return sent(channel, message, deadline=deadline, idempotency_key=batch.idempotency_key)


def _ended(batch: Batch, status: str, error: str | None, sent_at: datetime | None) -> list[Outcome]:
    return [Outcome(r.table, r.alert_id, status, error, None, sent_at) for r in batch.rows]


def _released(batch: Batch, error: str, retry_at: datetime) -> list[Outcome]:
    return [Outcome(r.table, r.alert_id, "pending", error, retry_at, attempt_used=False) for r in batch.rows]


def _failed(batch: Batch, error: str, at: datetime) -> list[Outcome]:
    out = []
    for r in batch.rows:
        attempts = r.attempts + 1  # the claim counted this attempt
        if attempts >= MAX_ATTEMPTS:
            out.append(Outcome(r.table, r.alert_id, "failed", f"gave up after {attempts} attempts: {error}", None))
        else:
            out.append(Outcome(r.table, r.alert_id, "pending", error, at + retry_delay(attempts)))
    return out


def send_test_alert(settings: Any, rule: str, *, now: datetime | None = None, resolver: Resolver | None = None,
                    address_check: AddressCheck | None = None) -> list[tuple[str, str | None]]:
    """Send a test message to every channel of ``rule`` (or of the operator, for ``operator``).

    Each channel gets ``MESSAGE_DEADLINE_SECONDS``, all of them together ``DELIVERY_DEADLINE_SECONDS``
    (channels not reached by then are reported as not tried).

    Returns:
        (masked channel, error or None) per channel.

    Raises:
        FatalError: no rule of that name.
    """
    now = now or datetime.now(UTC)
    cfg = next((a for a in settings.alerts if a.rule == rule), None)
    if cfg is not None:
        urls, message = cfg.notify, rule_test_message(alert_rule(cfg), now=now)
    elif rule in ("operator", OPERATOR_RULE) and settings.operator.notify:
        urls = settings.operator.notify
        message = Message("[newswatch] operator test", f"A test of the operator channels, sent at {now:%Y-%m-%d %H:%M} UTC.")
    else:
        names = [a.rule for a in settings.alerts] + (["operator"] if settings.operator.notify else [])
        raise FatalError("unknown_rule", f"no alert rule named {rule!r} (hint: one of {names})")
    key = stable_id("test", rule, now.isoformat())
    ends_at = time.monotonic() + DELIVERY_DEADLINE_SECONDS
    out: list[tuple[str, str | None]] = []
    with ChannelSet(ChannelPolicy.from_settings(settings, resolver=resolver, address_check=address_check)) as channels:
        for ident, url in zip(channel_identities(urls), urls, strict=True):
            if time.monotonic() >= ends_at:
                out.append((ident, f"not tried: the test reached its {DELIVERY_DEADLINE_SECONDS:g}s deadline"))
                continue
            try:
                channel = channels.channel(url)
            except Exception as e:  # noqa: BLE001 - the boundary, as in ``sent``
                out.append((ident, SendResult.internal(e).error))
                continue
            result = sent(channel, message, deadline=min(time.monotonic() + MESSAGE_DEADLINE_SECONDS, ends_at),
                          idempotency_key=key)
            out.append((ident, result.error))
    return out
