"""The state of every configured feed, for ``newswatch feeds``: one row each, from the warehouse.

Why: an operator must see which feeds work without writing SQL: ok, failing, backing off or disabled
(with the reason), when each was polled and is due, and whether it still brings anything new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One line of ``newswatch feeds``."""

    name: str
    url: str  # redacted
    state: str  # new | ok | failing | backing off | disabled | paused
    reason: str | None
    last_polled_at: datetime | None
    next_poll_at: datetime | None
    consecutive_failures: int
    new_24h: int
    new_7d: int
    last_new_item_at: datetime | None


def feed_state(*, enabled: bool, polled: bool, disabled: bool, disabled_reason: str | None, failures: int,
               last_status: str | None, last_error: str | None, next_poll_at: datetime | None,
               now: datetime) -> tuple[str, str | None]:
    """The state word and its reason, from a feed's stored state."""
    if not enabled:
        return "paused", "enabled: false in the config"
    if disabled:
        return "disabled", disabled_reason or last_status
    if not polled:
        return "new", None
    if failures > 0:
        why = last_error or last_status
        if next_poll_at is not None and next_poll_at > now:
            return "backing off", why
        return "failing", why
    return "ok", None


def feed_statuses(con: duckdb.DuckDBPyConnection, feeds: Sequence[tuple[str, str, str, bool]], *,
                  now: datetime) -> list[FeedStatus]:
    """The status of each configured feed.

    Args:
        feeds: (feed_id, name, redacted url, enabled) in the config's order.
    """
    if not feeds:
        return []
    ids = [f[0] for f in feeds]
    rows = con.execute(
        "SELECT f.feed_id, f.last_polled_at, f.next_poll_at, f.consecutive_failures, f.last_status, f.last_error,"
        " f.disabled, f.disabled_reason, f.last_new_item_at,"
        " count(i.item_key) FILTER (WHERE i.first_seen_at >= $day) AS new_24h,"
        " count(i.item_key) FILTER (WHERE i.first_seen_at >= $week) AS new_7d"
        " FROM feeds f LEFT JOIN feed_items i ON i.feed_id = f.feed_id AND i.first_seen_at >= $week"
        " WHERE f.feed_id IN (SELECT unnest($ids)) GROUP BY ALL",
        {"day": now - timedelta(days=1), "week": now - timedelta(days=7), "ids": ids},
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    out: list[FeedStatus] = []
    for feed_id, name, url, enabled in feeds:
        r = by_id.get(feed_id)
        if r is None:  # configured since the last cycle
            state, reason = feed_state(enabled=enabled, polled=False, disabled=False, disabled_reason=None, failures=0,
                                       last_status=None, last_error=None, next_poll_at=None, now=now)
            out.append(FeedStatus(name, url, state, reason, None, None, 0, 0, 0, None))
            continue
        _, polled_at, next_at, failures, status, error, disabled, dis_reason, last_new, n24, n7 = r
        state, reason = feed_state(enabled=enabled, polled=polled_at is not None, disabled=bool(disabled),
                                   disabled_reason=dis_reason, failures=int(failures or 0), last_status=status,
                                   last_error=error, next_poll_at=next_at, now=now)
        out.append(FeedStatus(name, url, state, reason, polled_at, next_at, int(failures or 0), int(n24), int(n7),
                              last_new))
    return out
