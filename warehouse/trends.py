"""Daily series of one topic or entity, with spike days marked, read from the trend views.

Why a separate module: ``newswatch trends`` and notebooks need the same dense, zero-filled series with
the same spike rule as the ``spikes`` view; the charting code (flows/charts.py) only draws what this
returns. Queries go through a read-only connection (``warehouse.analyst.connect``) and the views of
migration 0003, never the raw tables, so the numbers on the chart are the numbers in SQL.

Chart spikes are per UTC calendar day (a day against the mean of the 14 days before it), while the
``spikes`` view scores the rolling 24 hours before ``now()``; both use ``warehouse.views.spike_score``'s
formula and thresholds. ``TrendSeries.now`` carries the view's verdict for the latest 24 hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from newswatch.errors import FatalError
from warehouse.views import SPIKE_BASELINE_DAYS, is_spike, spike_score

# ``--days`` beyond this is almost certainly a typo, and would draw an unreadable chart.
MAX_DAYS = 3660


@dataclass(frozen=True, slots=True)
class DayVolume:
    """One UTC day of a series, scored against the days before it."""

    day: date
    articles: int
    stories: int
    share: float | None  # articles / all articles that day; None when unknown (no view row that day)
    baseline: float  # mean stories per day over the SPIKE_BASELINE_DAYS days before
    score: float
    spike: bool
    story_share: float | None = None  # stories / all distinct stories that day (None: no article that day)


@dataclass(frozen=True, slots=True)
class SpikeNow:
    """The ``spike_scores`` row of the series' key: its latest 24 hours against the baseline."""

    current_stories: int
    current_articles: int
    baseline_stories: float
    score: float
    is_spike: bool
    window_end: datetime


@dataclass(frozen=True, slots=True)
class TrendSeries:
    """A topic's or entity's daily volume over the requested days (oldest first)."""

    kind: str  # topic | entity
    key: str  # the topic name or the entity_id
    name: str
    entity_type: str | None
    days: tuple[DayVolume, ...]
    now: SpikeNow | None  # None when the key had nothing in the last 15 days
    alternatives: tuple[str, ...] = ()  # other entity_ids the requested name also matched
    as_of: datetime | None = None  # the moment the series was read; its UTC day is the last, partial, day
    measure: str = "count"  # what a chart plots: count (articles and stories) or share (of all stories)


def scored_days(counts: Sequence[tuple[date, int, int, float | None]], shown: int) -> tuple[DayVolume, ...]:
    """Score each of the last ``shown`` days of a dense, oldest-first daily series.

    Args:
        counts: one ``(day, articles, stories, share)`` per consecutive day; the entries before the last
            ``shown`` serve only as baseline (days before the series count as zero).
        shown: how many days to return.

    Returns:
        The last ``shown`` days, each scored on stories against the mean of the previous
        ``SPIKE_BASELINE_DAYS`` days, with ``warehouse.views.is_spike``.
    """
    out: list[DayVolume] = []
    for i in range(max(0, len(counts) - shown), len(counts)):
        window = counts[max(0, i - SPIKE_BASELINE_DAYS):i]
        baseline = sum(c[2] for c in window) / SPIKE_BASELINE_DAYS
        day, articles, stories, share = counts[i]
        out.append(DayVolume(day, articles, stories, share, baseline, spike_score(stories, baseline),
                             is_spike(stories, baseline)))
    return tuple(out)


def _dense(rows: dict[date, tuple[int, int, float | None]], first: date, last: date) -> list[tuple[date, int, int, float | None]]:
    out: list[tuple[date, int, int, float | None]] = []
    d = first
    while d <= last:
        articles, stories, share = rows.get(d, (0, 0, None))
        out.append((d, articles, stories, share))
        d += timedelta(days=1)
    return out


def _checked_days(days: int) -> int:
    if not 1 <= days <= MAX_DAYS:
        raise FatalError("bad_days", f"--days must be between 1 and {MAX_DAYS}, got {days}")
    return days


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    try:
        return con.execute(sql, params).fetchall()
    except duckdb.CatalogException as e:
        raise FatalError("warehouse_outdated",
                         f"{e} (hint: the trend views arrive with migration 0003; run `newswatch run` once)") from e


def _as_of(as_of: datetime | None) -> datetime:
    return (as_of or datetime.now(UTC)).astimezone(UTC)


def _spike_now(con: duckdb.DuckDBPyConnection, kind: str, key: str, as_of: datetime) -> SpikeNow | None:
    rows = _fetch(con, "SELECT current_stories, current_articles, baseline_stories, score, is_spike, window_end "
                       "FROM spike_scores_at(?) WHERE kind = ? AND key = ?", [as_of, kind, key])
    if not rows:
        return None
    cs, ca, base, score, spike, end = rows[0]
    return SpikeNow(int(cs), int(ca), float(base), float(score), bool(spike), end)


def _series(con: duckdb.DuckDBPyConnection, sql: str, key: str, days: int, as_of: datetime) -> tuple[DayVolume, ...]:
    last = as_of.date()
    first = last - timedelta(days=days + SPIKE_BASELINE_DAYS - 1)
    fetched = _fetch(con, sql, [key, first, last])
    rows = {r[0]: (int(r[1]), int(r[2]), None if r[3] is None else float(r[3])) for r in fetched}
    story_shares = {r[0]: None if r[4] is None else float(r[4]) for r in fetched}
    # A day without a row still had articles when the view is dense for it; without one it is unknown.
    return tuple(replace(d, story_share=story_shares.get(d.day)) for d in scored_days(_dense(rows, first, last), days))


def known_topics(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every topic with at least one match, alphabetically."""
    return [str(r[0]) for r in _fetch(con, "SELECT DISTINCT topic FROM topic_matches ORDER BY topic", [])]


def resolved_topic(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The stored topic name for ``name`` (exact, else case-insensitive).

    Raises:
        FatalError: no topic of that name has any match; the message lists the known topics.
    """
    topics = known_topics(con)
    if name in topics:
        return name
    folded = [t for t in topics if t.lower() == name.lower()]
    if folded:
        return folded[0]
    listed = ", ".join(topics[:20]) or "none yet"
    raise FatalError("unknown_topic", f"no matches for topic {name!r} (topics with matches: {listed})")


def resolved_entities(con: duckdb.DuckDBPyConnection, name: str) -> list[tuple[str, str, str, int]]:
    """Entities ``name`` may mean, best first: ``(entity_id, name, type, mentions)``.

    Order: the exact ``entity_id``, then a case-insensitive match of the name, then of an alias; within
    each, the most mentioned first. The same name often exists under two types (spaCy calls a person an
    ORG now and then), which is why this returns a list rather than guessing silently.
    """
    sql = """
        SELECT e.entity_id, e.name, e.type, (SELECT count(*) FROM mentions m WHERE m.entity_id = e.entity_id) AS n,
               CASE WHEN e.entity_id = $1 THEN 0 WHEN lower(e.name) = lower($1) THEN 1 ELSE 2 END AS how
        FROM entities e
        WHERE e.entity_id = $1 OR lower(e.name) = lower($1) OR lower($1) IN (SELECT lower(unnest(e.aliases)))
        ORDER BY how, n DESC, e.entity_id
    """
    return [(str(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in _fetch(con, sql, [name])]


def topic_series(con: duckdb.DuckDBPyConnection, topic: str, days: int = 30, *, as_of: datetime | None = None,
                 share: bool = False) -> TrendSeries:
    """The daily volume of ``topic`` over the ``days`` UTC days ending on ``as_of``'s day (default now).

    ``share`` makes a chart of the series plot its share of all stories (``measure="share"``).

    Raises:
        FatalError: unknown topic, bad ``days``, or a warehouse without the trend views.
    """
    days, when = _checked_days(days), _as_of(as_of)
    key = resolved_topic(con, topic)
    sql = "SELECT day, articles, stories, share, story_share FROM topic_daily WHERE topic = ? AND day BETWEEN ? AND ?"
    return TrendSeries("topic", key, key, None, _series(con, sql, key, days, when), _spike_now(con, "topic", key, when),
                       as_of=when, measure="share" if share else "count")


def entity_series(con: duckdb.DuckDBPyConnection, entity: str, days: int = 30, *, as_of: datetime | None = None,
                  share: bool = False) -> TrendSeries:
    """The daily volume of the entity ``entity`` (an entity_id, name or alias) over ``days`` UTC days.

    When the name matches several entities the best one (see ``resolved_entities``) is charted and the
    others are listed in ``alternatives``.

    Raises:
        FatalError: unknown entity, bad ``days``, or a warehouse without the trend views.
    """
    days, when = _checked_days(days), _as_of(as_of)
    matches = resolved_entities(con, entity)
    if not matches:
        raise FatalError("unknown_entity", f"no entity named {entity!r} (hint: newswatch sql \"SELECT entity_id, name, "
                                           "type FROM entities WHERE name ILIKE '%part of the name%'\")")
    key, name, etype, _ = matches[0]
    sql = ("SELECT day, articles, stories, share, story_share FROM entity_daily "
           "WHERE entity_id = ? AND day BETWEEN ? AND ?")
    return TrendSeries("entity", key, name, etype, _series(con, sql, key, days, when),
                       _spike_now(con, "entity", key, when), tuple(m[0] for m in matches[1:]), when,
                       "share" if share else "count")


def summary_lines(series: TrendSeries) -> list[str]:
    """A few lines of text for the terminal: totals, spike days, and whether the key is spiking now."""
    label = f"{series.kind} {series.name}" + (f" ({series.key}, {series.entity_type})" if series.kind == "entity" else "")
    articles = sum(d.articles for d in series.days)
    busiest = max(series.days, key=lambda d: (d.stories, d.articles, d.day))
    spikes = [d.day.isoformat() for d in series.days if d.spike]
    lines = [f"{label}: {articles} articles over the last {len(series.days)} days (UTC); busiest day "
             f"{busiest.day.isoformat()} with {busiest.stories} stories ({busiest.articles} articles)",
             f"  spike days: {', '.join(spikes) if spikes else 'none'}"]
    n = series.now
    if n is None:
        lines.append("  last 24 h: nothing in the last 15 days")
    else:
        verdict = "SPIKING" if n.is_spike else "not a spike"
        lines.append(f"  last 24 h: {n.current_stories} stories ({n.current_articles} articles) vs "
                     f"{n.baseline_stories:.2f}/day baseline, score {n.score:.1f}: {verdict}")
    if series.alternatives:
        lines.append(f"  the name also matches: {', '.join(series.alternatives[:5])} (pass --entity ID to chart one)")
    return lines
