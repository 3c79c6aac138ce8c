"""Per-feed state: the configured feeds, which are due, and what each feed has already carried.

Why: cursors live next to the data (STYLE §7). Validators (ETag, Last-Modified, body hash) and the
items a feed has carried advance only in the transaction that commits the articles, so a crash
mid-cycle re-polls and loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import duckdb
import pandas as pd

from newswatch import secrets
from pipeline.stages import FeedTarget
from transform.urls import stable_id


def feed_id_for(url: str) -> str:
    """The ``feed_id`` of a feed URL (of its redacted form, so a rotated API key keeps the feed's id)."""
    return stable_id("feed", secrets.redacted(url))


def synced_feeds(con: duckdb.DuckDBPyConnection, feeds: Sequence[tuple[str, str]]) -> None:
    """Insert configured feeds that are new, and refresh the names of known ones.

    Args:
        feeds: (name, url) pairs from the config.
    """
    # The stored URL is redacted: a key in a feed URL comes from ${ENV} and never lands in the warehouse.
    rows = [(feed_id_for(url), name, secrets.redacted(url)) for name, url in feeds]
    if not rows:
        return
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
    con: duckdb.DuckDBPyConnection, feed_ids: Sequence[str], *, now: datetime, respect_schedule: bool
) -> list[FeedTarget]:
    """The configured, enabled feeds to poll now (all of them when ``respect_schedule`` is false)."""
    if not feed_ids:
        return []
    sql = (
        "SELECT feed_id, name, url, etag, last_modified, last_content_hash FROM feeds "
        "WHERE feed_id IN (SELECT unnest(?)) AND NOT disabled"
    )
    params: list[object] = [list(feed_ids)]
    if respect_schedule:
        sql += " AND (next_poll_at IS NULL OR next_poll_at <= ?)"
        params.append(now)
    rows = con.execute(sql + " ORDER BY name", params).fetchall()
    return [FeedTarget(*r) for r in rows]


def known_items(con: duckdb.DuckDBPyConnection, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (feed_id, item_key) pairs the warehouse has already recorded."""
    frame = pd.DataFrame(list(keys), columns=["feed_id", "item_key"])
    if frame.empty:
        return set()
    con.register("_keys", frame)
    try:
        rows = con.execute(
            "SELECT k.feed_id, k.item_key FROM _keys k JOIN feed_items f USING (feed_id, item_key)"
        ).fetchall()
    finally:
        con.unregister("_keys")
    return {(r[0], r[1]) for r in rows}


def existing_articles(con: duckdb.DuckDBPyConnection, article_ids: Iterable[str]) -> set[str]:
    """Which of ``article_ids`` are already loaded."""
    ids = sorted(set(article_ids))
    if not ids:
        return set()
    rows = con.execute("SELECT article_id FROM articles WHERE article_id IN (SELECT unnest(?))", [ids]).fetchall()
    return {r[0] for r in rows}


def feed_rows(con: duckdb.DuckDBPyConnection, feed_ids: Sequence[str]) -> dict[str, dict[str, object]]:
    """Current state of the given feeds, by feed_id."""
    if not feed_ids:
        return {}
    cur = con.execute("SELECT * FROM feeds WHERE feed_id IN (SELECT unnest(?))", [list(feed_ids)])
    cols = [d[0] for d in cur.description]
    return {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}
