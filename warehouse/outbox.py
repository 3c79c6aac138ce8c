"""The alert outbox: rows queued in the load transaction, claimed and settled by delivery.

Why an outbox: an alert must go out exactly when its story is committed, never for a story a crash
rolled back, and never twice. So ``queue_alerts`` runs *inside* the load transaction (pipeline/cycle.py)
and writes one ``pending`` row per (rule, story, channel) with a deterministic ``alert_id``; the row
commits or vanishes with the articles. ``pipeline/delivery.py`` sends after the commit, in its own
short transactions (``claim_rows`` before sending, ``settle_rows`` after). Delivery semantics and the
crash windows are described there.

Which stories are (re-)examined: every story that gained a copy (a ``feed_items`` row) since the last
examination with the same routes (``writer_state`` ``alert_examined_at``, written in the same
transaction), or in the last ``ACTIVITY_LOOKBACK`` when the routes changed or none was recorded. A story
that reaches ``min_sources`` in a later cycle is therefore alerted then (its new copy makes it active); one
that was alerted is never queued again for the same channel (the anti-join on ``alert_id``). Why not a day
every time: with the same routes, a story without a new copy decides as it did (time only ages stories out
of ``max_age``), so re-reading a day of stories and their copies in every cycle is work for nothing.

Which stories a channel hears about: ``alert_channels`` records when each (rule, channel) was first
configured (``since``); only stories with activity at or after that moment alert it. A rule or channel
added to a running installation starts with the next new story instead of replaying the archive.
A channel is identified by its masked URL (``newswatch.channel_urls.masked_channel``): no secret reaches the
warehouse, and a rotated token (same masked form) keeps its history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd

from newswatch.channel_urls import masked_channel
from newswatch.config import WarehousePaths
from transform.alerts import AlertRule, QuoteRow, StoryCopy, digest_due_at, story_alert
from transform.urls import stable_id
from warehouse.frames import insert_rows
from warehouse.keys import lookup_keys

# How far back a load looks for stories with new copies when the routes changed (or were never recorded):
# a config change (a lowered min_sources, a new language) applies to the stories still in the news. With
# unchanged routes a load looks back only to the last examination.
ACTIVITY_LOOKBACK = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The rule name operator channels are recorded under in ``alert_channels`` (not a valid topic name).
OPERATOR_RULE = "@operator"

_COLUMNS = ["alert_id", "rule", "topic", "story_id", "article_id", "channel", "channel_index", "status", "attempts",
            "created_at", "next_attempt_at", "payload"]
_OP_COLUMNS = ["alert_id", "kind", "subject", "incident", "channel", "channel_index", "status", "attempts",
               "created_at", "next_attempt_at", "title", "body"]


def channel_identities(urls: Sequence[str]) -> list[str]:
    """How each channel of a rule is recorded: its masked URL, with ``#2``, ``#3`` ... when two mask alike."""
    out: list[str] = []
    for url in urls:
        base = masked_channel(url)
        ident, n = base, 1
        while ident in out:
            n += 1
            ident = f"{base}#{n}"
        out.append(ident)
    return out


@dataclass(frozen=True, slots=True)
class AlertRoute:
    """One alert rule and the channels it notifies, as the outbox takes them.

    ``channels`` are the channel identities (``channel_identities``), never the URLs: the warehouse
    layer receives no secret.
    """

    rule: AlertRule
    channels: tuple[str, ...]


def record_subscriptions(con: duckdb.DuckDBPyConnection, pairs: Sequence[tuple[str, str]], *, now: datetime) -> dict[tuple[str, str], datetime]:
    """Record the (rule, channel) pairs seen for the first time as starting ``now``; when each pair was first configured."""
    if not pairs:
        return {}
    insert_rows(con, "alert_channels", ["rule", "channel", "since"], [(r, c, now) for r, c in pairs],
                anti_join_on=["rule", "channel"])
    rows = con.execute("SELECT rule, channel, since FROM alert_channels WHERE rule IN (SELECT unnest(?))",
                       [sorted({r for r, _ in pairs})]).fetchall()
    return {(r, c): s for r, c, s in rows}


def queue_alerts(con: duckdb.DuckDBPyConnection, routes: Sequence[AlertRoute], *, now: datetime,
                 new_items: bool = True) -> int:
    """Queue a ``pending`` outbox row for every (rule, story, channel) that matches now and has none yet.

    Runs inside the load transaction, after articles, stories, topic matches and feed items are written.
    ``new_items``: whether this load wrote feed items. Without them, and with the routes the last
    examination used, nothing can match now that did not then (no story gained a copy, and time only ages
    stories out of ``max_age``), so the stories are not read again: a cycle without news costs nothing here
    however large the archive.

    Returns:
        The number of rows queued.
    """
    if not routes:
        return 0
    digest = routes_digest(routes)
    same_routes = _writer_value(con, "alert_routes") == digest
    if not new_items and same_routes:
        return 0
    examined_at = _writer_value(con, "alert_examined_at") if same_routes else None
    after = _EPOCH + timedelta(microseconds=examined_at) if examined_at is not None else None
    queued = _queued_alerts(con, routes, now=now, after=after)
    con.execute("INSERT INTO writer_state VALUES ('alert_routes', ?), ('alert_examined_at', ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                [digest, (now - _EPOCH) // timedelta(microseconds=1)]).fetchall()  # exact, unlike a float
    return queued


def routes_digest(routes: Sequence[AlertRoute]) -> int:
    """A stable 64-bit digest of the rules and channels (their identities, never URLs)."""
    def plain(value: Any) -> Any:  # sets sorted: their repr's order changes from one process to the next
        return sorted(value) if isinstance(value, frozenset) else value

    text = repr(sorted((tuple((f, plain(getattr(r.rule, f))) for f in r.rule.__dataclass_fields__), r.channels)
                       for r in routes))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big", signed=True)


def _writer_value(con: duckdb.DuckDBPyConnection, name: str) -> int | None:
    rows = con.execute("SELECT value FROM writer_state WHERE name = ?", [name]).fetchall()
    return int(rows[0][0]) if rows else None


def _queued_alerts(con: duckdb.DuckDBPyConnection, routes: Sequence[AlertRoute], *, now: datetime,
                   after: datetime | None) -> int:
    rules = [r.rule for r in routes]
    channels = {r.rule.name: r.channels for r in routes}
    since = record_subscriptions(con, [(r, c) for r, cs in channels.items() for c in cs], now=now)
    horizon = max(now - ACTIVITY_LOOKBACK, min(since.values()))
    if after is not None:  # the same routes examined the stories up to then: only newer copies can change a decision
        horizon = max(horizon, min(after, now))
    copies, found = _active_story_copies(con, sorted({r.topic for r in rules}), horizon)
    if not copies:
        return 0
    story_ids = sorted(copies)
    quotes = _story_quotes(con, copies, found)
    existing = {(r, s, c) for r, s, c in con.execute(
        "SELECT rule, story_id, channel FROM alerts WHERE story_id IN (SELECT unnest(?))", [story_ids]).fetchall()}
    rows = []
    for story_id in story_ids:
        story = copies[story_id]
        last_activity = max(c.seen_at for c in story)
        for rule in rules:
            todo = [(i, ch) for i, ch in enumerate(channels[rule.name])
                    if (rule.name, story_id, ch) not in existing and last_activity >= since[(rule.name, ch)]]
            if not todo:
                continue
            alert = story_alert(rule, story, quotes.get(story_id, ()), now=now)
            if alert is None:
                continue
            due = digest_due_at(now, rule.digest_every) if rule.mode == "digest" else now
            rows += [(stable_id("alert", rule.name, story_id, ch), rule.name, rule.topic, story_id, alert.article_id,
                      ch, i, "pending", 0, now, due, alert.to_json()) for i, ch in todo]
    return insert_rows(con, "alerts", _COLUMNS, rows, anti_join_on=["alert_id"])


@dataclass(frozen=True, slots=True)
class _Stories:
    """The stories examined and their articles."""

    story_ids: list[str]
    story_of: dict[str, str]  # article_id -> story_id


def _active_stories(con: duckdb.DuckDBPyConnection, horizon: datetime) -> _Stories | None:
    """The stories that gained a copy (a ``feed_items`` row) since ``horizon``, with all their articles.

    Why by key: a story's articles were found by joins over the text ids of whole tables. The active
    articles come through the ``article_key`` index; the stories' rows (thousands a day, above DuckDB's
    index-scan threshold) through a scan of an 8-byte key column instead of a 16-character text
    (``warehouse.keys``). The text ids are compared after each lookup.
    """
    active = {r[0] for r in con.execute(
        "SELECT DISTINCT article_id FROM feed_items WHERE first_seen_at >= ? AND article_id IS NOT NULL",
        [horizon]).fetchall()}
    if not active:
        return None
    stories = {sid for aid, sid in con.execute(
        "SELECT article_id, story_id FROM articles WHERE article_key IN (SELECT unnest(?::UBIGINT[]))",
        [lookup_keys(active)]).fetchall() if aid in active}
    story_of = {aid: sid for aid, sid in con.execute(
        "SELECT article_id, story_id FROM articles WHERE story_key IN (SELECT unnest(?::UBIGINT[]))",
        [lookup_keys(stories)]).fetchall() if sid in stories}
    return _Stories(sorted(stories), story_of) if story_of else None


def _active_story_copies(con: duckdb.DuckDBPyConnection, topics: list[str],
                         horizon: datetime) -> tuple[dict[str, list[StoryCopy]], _Stories | None]:
    """Every copy of every story that gained a copy since ``horizon`` and matched one of ``topics``.

    Each table is read by key in a MATERIALIZED step (a text comparison in the same scan would make DuckDB
    read the text column as well), then joined on the text ids.
    """
    found = _active_stories(con, horizon)
    if found is None:
        return {}, None
    rows = con.execute(
        """
        WITH keyed AS MATERIALIZED (
            SELECT story_id, article_id, title, url, published_at, language FROM articles
            WHERE story_key IN (SELECT unnest($story_keys::UBIGINT[]))
        ), keyed_matches AS MATERIALIZED (
            SELECT article_id, topic, matched_terms FROM topic_matches
            WHERE article_key IN (SELECT unnest($article_keys::UBIGINT[]))
        ), keyed_items AS MATERIALIZED (
            SELECT feed_id, article_id, first_seen_at FROM feed_items
            WHERE article_key IN (SELECT unnest($article_keys::UBIGINT[]))
        ), copies AS (
            SELECT * FROM keyed WHERE story_id IN (SELECT unnest($stories))
        ), matches AS (
            SELECT m.* FROM keyed_matches m JOIN copies c USING (article_id) WHERE m.topic IN (SELECT unnest($topics))
        )
        SELECT c.story_id, c.article_id, fi.feed_id, coalesce(f.name, fi.feed_id), c.title, c.url, c.published_at,
               c.language, fi.first_seen_at, t.topic, t.matched_terms
        FROM copies c
        JOIN keyed_items fi ON fi.article_id = c.article_id
        LEFT JOIN feeds f ON f.feed_id = fi.feed_id
        LEFT JOIN matches t ON t.article_id = c.article_id
        WHERE c.story_id IN (SELECT c2.story_id FROM copies c2 JOIN matches m ON m.article_id = c2.article_id)
        ORDER BY c.story_id, c.published_at, c.article_id, fi.feed_id
        """,
        {"story_keys": lookup_keys(found.story_ids), "stories": found.story_ids,
         "article_keys": lookup_keys(found.story_of), "topics": topics},
    ).fetchall()
    out: dict[str, list[StoryCopy]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(StoryCopy(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], topic=r[9],
                                                     matched_terms=tuple(r[10] or ())))
    return out, found


def _story_quotes(con: duckdb.DuckDBPyConnection, copies: dict[str, list[StoryCopy]],
                  found: _Stories | None) -> dict[str, list[QuoteRow]]:
    """The quotes of the stories' articles, read by key."""
    if found is None:
        return {}
    story_of = {a: s for a, s in found.story_of.items() if s in copies}
    if not story_of:
        return {}
    rows = con.execute(
        "SELECT article_id, text, speaker, start_char, speaker_confidence FROM quotes "
        "WHERE article_key IN (SELECT unnest(?::UBIGINT[])) ORDER BY article_id, start_char",
        [lookup_keys(story_of)]).fetchall()
    out: dict[str, list[QuoteRow]] = {}
    for q in rows:
        if q[0] in story_of:
            out.setdefault(story_of[q[0]], []).append(QuoteRow(q[0], q[1], q[2] or "", int(q[3]), q[4] or ""))
    return out


def queue_operator_alerts(con: duckdb.DuckDBPyConnection, incidents: Sequence[Any], channels: Sequence[str], *,
                          now: datetime) -> int:
    """Queue one ``operator_alerts`` row per (incident, operator channel) not queued before.

    ``channels`` are the operator channels' identities (``channel_identities``), not their URLs.

    An incident that is an event (a failed cycle) is not sent to a channel configured after it happened.
    """
    if not incidents or not channels:
        return 0
    idents = list(channels)
    since = record_subscriptions(con, [(OPERATOR_RULE, c) for c in idents], now=now)
    rows = [(stable_id("operator", inc.kind, inc.subject, inc.key, ch), inc.kind, inc.subject, inc.key, ch, i,
             "pending", 0, now, now, inc.title, inc.body)
            for inc in incidents for i, ch in enumerate(idents)
            if inc.occurred_at is None or inc.occurred_at >= since[(OPERATOR_RULE, ch)]]
    return insert_rows(con, "operator_alerts", _OP_COLUMNS, rows, anti_join_on=["alert_id"])


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One unsent outbox row, as delivery sees it."""

    table: str  # alerts | operator_alerts
    alert_id: str
    rule: str  # the rule's name, or OPERATOR_RULE
    channel: str
    channel_index: int
    status: str  # pending | sending
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    payload: str | None = None  # story alerts: StoryAlert JSON
    title: str | None = None  # operator alerts: the rendered message
    body: str | None = None


def unsent_rows(con: duckdb.DuckDBPyConnection) -> list[OutboxRow]:
    """Every row still to send (``pending``) or being sent (``sending``, possibly by a dead process)."""
    story = con.execute(
        "SELECT alert_id, rule, channel, channel_index, status, attempts, created_at, next_attempt_at, payload "
        "FROM alerts WHERE status IN ('pending', 'sending') ORDER BY created_at, alert_id").fetchall()
    ops = con.execute(
        "SELECT alert_id, channel, channel_index, status, attempts, created_at, next_attempt_at, title, body "
        "FROM operator_alerts WHERE status IN ('pending', 'sending') ORDER BY created_at, alert_id").fetchall()
    return ([OutboxRow("alerts", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], payload=r[8]) for r in story]
            + [OutboxRow("operator_alerts", r[0], OPERATOR_RULE, r[1], r[2], r[3], r[4], r[5], r[6], title=r[7], body=r[8])
               for r in ops])


def claim_rows(con: duckdb.DuckDBPyConnection, rows: Sequence[OutboxRow], *, now: datetime, lease: timedelta) -> None:
    """Mark rows ``sending`` (one more attempt) until ``now + lease``; run in the claiming transaction."""
    for table in ("alerts", "operator_alerts"):
        ids = [r.alert_id for r in rows if r.table == table]
        if ids:
            con.execute(f"UPDATE {table} SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?, "
                        "lake_seq = nextval('lake_seq') "
                        "WHERE alert_id IN (SELECT unnest(?)) AND status IN ('pending', 'sending')", [now + lease, ids])


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one claimed row ended this delivery."""

    table: str
    alert_id: str
    status: str  # sent | pending (retry later) | failed (given up)
    error: str | None
    next_attempt_at: datetime | None
    sent_at: datetime | None = None
    attempt_used: bool = True  # False: released unsent (the claim's attempt is given back)


def settle_rows(con: duckdb.DuckDBPyConnection, outcomes: Sequence[Outcome]) -> None:
    """Record what happened to claimed rows (in one short transaction after sending)."""
    for table in ("alerts", "operator_alerts"):
        mine = [o for o in outcomes if o.table == table]
        if not mine:
            continue
        frame = pd.DataFrame(
            [(o.alert_id, o.status, o.error, o.next_attempt_at, o.sent_at, 0 if o.attempt_used else 1) for o in mine],
            columns=["alert_id", "status", "error", "next_attempt_at", "sent_at", "give_back"])
        frame["next_attempt_at"] = pd.to_datetime(frame["next_attempt_at"], utc=True)
        frame["sent_at"] = pd.to_datetime(frame["sent_at"], utc=True)
        con.register("_outcomes", frame)
        try:
            con.execute(
                f"UPDATE {table} SET status = o.status, error = o.error, next_attempt_at = o.next_attempt_at, "
                f"sent_at = coalesce(o.sent_at, {table}.sent_at), attempts = {table}.attempts - o.give_back, "
                f"lake_seq = nextval('lake_seq') "
                f"FROM _outcomes o WHERE {table}.alert_id = o.alert_id")
        finally:
            con.unregister("_outcomes")


# ``alerts list`` waits this long for a running cycle's short transaction before reading the snapshot.
LIVE_READ_WAIT_SECONDS = 2.0


def outbox_reader(warehouse: WarehousePaths) -> tuple[duckdb.DuckDBPyConnection, str | None]:
    """A read-only connection for ``alerts list``: the live file when free, else the analysts' snapshot.

    Returns:
        The connection, and a note to print when it is the snapshot (statuses as of the last cycle).
    """
    from newswatch.errors import FatalError
    from warehouse.analyst import connect
    from warehouse.db import open_connection

    try:
        return open_connection(warehouse.path, read_only=True, wait_seconds=LIVE_READ_WAIT_SECONDS), None
    except FatalError as e:
        if e.reason != "warehouse_locked":
            raise
    return connect(warehouse), "(a cycle is running: showing the snapshot published by the last cycle)"


def _has_outbox(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'alert_outbox'").fetchall()[0][0])


def recent_alerts(con: duckdb.DuckDBPyConnection, *, limit: int, problems_only: bool = False) -> pd.DataFrame:
    """The latest outbox rows (story alerts and operator notices), newest first."""
    if not _has_outbox(con):
        return pd.DataFrame()
    where = "WHERE status = 'failed' OR (status <> 'sent' AND error IS NOT NULL)" if problems_only else ""
    return con.execute(
        "SELECT strftime(created_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') AS created, kind, rule, status, attempts, "
        "channel, left(coalesce(title, subject), 60) AS what, "
        "strftime(coalesce(sent_at, next_attempt_at) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') AS sent_or_next, "
        f"coalesce(left(error, 120), '') AS error FROM alert_outbox {where} "
        "ORDER BY created_at DESC, alert_id LIMIT ?", [limit]).df()


def status_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """How many outbox rows are in each status."""
    if not _has_outbox(con):
        return []
    rows = con.execute("SELECT status, count(*) FROM alert_outbox GROUP BY status ORDER BY status").fetchall()
    return [(s, int(n)) for s, n in rows]
