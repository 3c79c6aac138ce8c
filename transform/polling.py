"""When to poll a feed next: adaptive intervals for healthy feeds, capped back-off for failing ones.

Why: polling every feed at the same rate either wastes requests on quiet feeds or misses stories on
busy ones. A feed that brought new items is polled sooner (interval halves), one that did not is
polled later (interval grows by half), always within ``[min, max]``. A failing feed backs off
exponentially from the minimum up to ``max_backoff`` and is retried, never abandoned, unless the
server says it is gone (404/410) ``disable_after_gone`` times in a row. ``Retry-After`` wins when it asks
for a longer wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# Growth factors for the adaptive interval. Halving on news and growing by 1.5x on silence converges
# within a few cycles to roughly the feed's own publishing rhythm without oscillating.
SPEEDUP_ON_NEWS = 0.5
SLOWDOWN_ON_SILENCE = 1.5
GONE_REASONS = frozenset({"http_404", "http_410"})


@dataclass(frozen=True, slots=True)
class PollBounds:
    min_seconds: float
    max_seconds: float
    max_backoff_seconds: float
    disable_after_gone: int


@dataclass(frozen=True, slots=True)
class NextPoll:
    interval_seconds: float
    next_poll_at: datetime
    disable: bool = False


def next_poll_after_success(now: datetime, interval: float | None, new_items: int, bounds: PollBounds) -> NextPoll:
    """Schedule after a successful poll (including 304 / unchanged)."""
    current = interval or bounds.min_seconds
    factor = SPEEDUP_ON_NEWS if new_items > 0 else SLOWDOWN_ON_SILENCE
    nxt = min(max(current * factor, bounds.min_seconds), bounds.max_seconds)
    return NextPoll(nxt, now + timedelta(seconds=nxt))


def next_poll_after_failure(
    now: datetime,
    interval: float | None,
    consecutive_failures: int,
    reason: str | None,
    retry_after: float | None,
    bounds: PollBounds,
) -> NextPoll:
    """Schedule after a failed poll. ``consecutive_failures`` already counts this failure."""
    backoff = min(bounds.min_seconds * (2 ** max(consecutive_failures - 1, 0)), bounds.max_backoff_seconds)
    if retry_after is not None:
        backoff = max(backoff, min(retry_after, bounds.max_backoff_seconds))
    disable = reason in GONE_REASONS and consecutive_failures >= bounds.disable_after_gone
    return NextPoll(interval or bounds.min_seconds, now + timedelta(seconds=backoff), disable)
