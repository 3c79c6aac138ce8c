"""Per-feed state: the configured feeds, which are due, and what each feed has already carried.

Why: cursors live next to the data (STYLE §7). Validators (ETag, Last-Modified, body hash) and the
items a feed has carried advance only in the transaction that commits the articles, so a crash
mid-cycle re-polls and loses nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import duckdb
import pandas as pd

from newswatch import secrets
from newswatch.records import FeedTarget
from transform.urls import stable_id
from warehouse.keys import lookup_key, lookup_keys

log = logging.getLogger(__name__)

# Tables whose rows name a feed, and the column that does; a feed whose id changes takes them along.
_FEED_REFERENCES = (("feeds", "feed_id"), ("feed_items", "feed_id"), ("articles", "feed_id"),
                    ("quarantine", "feed_id"), ("operator_alerts", "subject"))
# Tables whose updated rows take a new load number, so the lake republishes them (migration 0022); the
# append-only ones keep theirs (a new number would publish the row twice).
_CHANGED_IN_PLACE = frozenset({"quarantine", "operator_alerts"})
# The trend tables key a feed's rows (kind 'feed') by its id too; a day's counts take a new load number so
# the lake republishes their week.
_FEED_TREND_KEYS = (("trend_hits", ""), ("trend_daily", ", lake_seq = nextval('lake_seq')"))


def feed_id_for(url: str) -> str:
    """The ``feed_id`` of a feed URL: distinct URLs get distinct ids, secrets included.

    A URL without userinfo or ``${VAR}`` secrets keeps the id of its text (as it always had). One
    with secrets is keyed on its redacted form plus a SHA-256 of the full URL: the id itself reveals
    nothing, and two feeds differing only in a password or key no longer collide.
    """
    shown = secrets.redacted(url)
    if shown == url:
        return stable_id("feed", url)
    return stable_id("feed", shown, hashlib.sha256(url.encode("utf-8")).hexdigest())


def _adopted_ids(con: duckdb.DuckDBPyConnection, feeds: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Existing rows that a configured feed with secrets takes over, as {old feed_id: new feed_id}.

    Why: a feed with a secret in its URL had its id from the redacted URL in earlier versions, and a
    rotated key changes the id now; in both cases the warehouse holds the feed's history under another
    id. A row is taken over only when the match is unambiguous: exactly one configured feed has that
    redacted URL, its new id is not in the table yet, and exactly one unclaimed row has that URL.
    """
    stored = dict(con.execute("SELECT feed_id, url FROM feeds").fetchall())
    wanted = {feed_id_for(url) for _, url in feeds}
    by_shown: dict[str, list[str]] = {}
    for _, url in feeds:
        by_shown.setdefault(secrets.redacted(url), []).append(url)
    renames: dict[str, str] = {}
    for shown, urls in by_shown.items():
        new_id = feed_id_for(urls[0])
        if len(urls) != 1 or shown == urls[0] or new_id in stored:
            continue
        candidates = [fid for fid, u in stored.items() if u == shown and fid not in wanted and fid not in renames]
        if len(candidates) == 1:
            renames[candidates[0]] = new_id
        elif candidates:
            log.warning("feed %s: %d earlier feeds have the same redacted URL; starting a new feed history",
                        shown, len(candidates))
    return renames


def sync_feeds(con: duckdb.DuckDBPyConnection, feeds: Sequence[tuple[str, str]]) -> None:
    """Insert configured feeds that are new, and refresh the names of known ones.

    A feed whose id changed (see ``_adopted_ids``) keeps its row, items, articles and quarantine
    under the new id.

    Args:
        feeds: (name, url) pairs from the config.
    """
    # The stored URL is redacted: a key in a feed URL comes from ${ENV} and never lands in the warehouse.
    rows = [(feed_id_for(url), name, secrets.redacted(url)) for name, url in feeds]
    if not rows:
        return
    for old, new in _adopted_ids(con, feeds).items():
        for table, column in _FEED_REFERENCES:
            renumber = ", lake_seq = nextval('lake_seq')" if table in _CHANGED_IN_PLACE else ""
            con.execute(f"UPDATE {table} SET {column} = ?{renumber} WHERE {column} = ?", [new, old]).fetchall()
        for table, renumber in _FEED_TREND_KEYS:
            con.execute(f"UPDATE {table} SET key = ?{renumber} WHERE kind = 'feed' AND key = ?", [new, old]).fetchall()
        log.info("feed %s now has id %s (its URL carries a secret)", old, new)
    frame = pd.DataFrame(rows, columns=["feed_id", "name", "url"])
    con.register("_cfg_feeds", frame)
    try:
        con.execute(
            "INSERT INTO feeds (feed_id, name, url) SELECT feed_id, name, url FROM _cfg_feeds c "
            "WHERE NOT EXISTS (SELECT 1 FROM feeds f WHERE f.feed_id = c.feed_id)"
        ).fetchall()
        con.execute("UPDATE feeds SET name = c.name FROM _cfg_feeds c WHERE feeds.feed_id = c.feed_id AND feeds.name <> c.name").fetchall()
    finally:
        con.unregister("_cfg_feeds")


def due_feeds(
    con: duckdb.DuckDBPyConnection, feed_ids: Sequence[str], *, now: datetime, respect_schedule: bool,
    lookahead: timedelta = timedelta(0),
) -> list[FeedTarget]:
    """The configured, enabled feeds to poll now (all of them when ``respect_schedule`` is false).

    ``lookahead``: a feed falling due that soon after ``now`` is polled now, because the next chance
    to poll it is a whole schedule interval away (the caller bounds it by that interval).
    """
    if not feed_ids:
        return []
    sql = (
        "SELECT feed_id, name, url, etag, last_modified, last_content_hash FROM feeds "
        "WHERE feed_id IN (SELECT unnest(?)) AND NOT disabled"
    )
    params: list[object] = [list(feed_ids)]
    if respect_schedule:
        sql += " AND (next_poll_at IS NULL OR next_poll_at <= ?)"
        params.append(now + lookahead)
    rows = con.execute(sql + " ORDER BY name", params).fetchall()
    return [FeedTarget(*r) for r in rows]


def known_items(con: duckdb.DuckDBPyConnection, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (feed_id, item_key) pairs the warehouse has already recorded (an index lookup per item key)."""
    frame = pd.DataFrame(list(keys), columns=["feed_id", "item_key"])
    if frame.empty:
        return set()
    frame["item_hash"] = pd.Series([lookup_key(k) for k in frame["item_key"]], dtype="uint64")
    con.register("_keys", frame)
    try:
        # MATERIALIZED: the rows with the batch's keys come from the index; joining on the text columns in
        # the same scan would read the whole table.
        rows = con.execute(
            "WITH f AS MATERIALIZED (SELECT feed_id, item_key FROM feed_items WHERE item_hash IN (SELECT item_hash FROM _keys)) "
            "SELECT k.feed_id, k.item_key FROM _keys k JOIN f USING (feed_id, item_key)"
        ).fetchall()
    finally:
        con.unregister("_keys")
    return {(r[0], r[1]) for r in rows}


def existing_articles(con: duckdb.DuckDBPyConnection, article_ids: Iterable[str]) -> set[str]:
    """Which of ``article_ids`` are already loaded."""
    ids = sorted(set(article_ids))
    if not ids:
        return set()
    # The text ids are compared here, not in the statement: a second filter on the scan turns the index
    # lookup back into a scan of the whole column.
    rows = con.execute("SELECT article_id FROM articles WHERE article_key IN (SELECT unnest(?::UBIGINT[]))",
                       [lookup_keys(ids)]).fetchall()
    return {r[0] for r in rows} & set(ids)


def feed_rows(con: duckdb.DuckDBPyConnection, feed_ids: Sequence[str]) -> dict[str, dict[str, object]]:
    """Current state of the given feeds, by feed_id."""
    if not feed_ids:
        return {}
    cur = con.execute("SELECT * FROM feeds WHERE feed_id IN (SELECT unnest(?))", [list(feed_ids)])
    cols = [d[0] for d in cur.description]
    return {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}
