"""Quarantine: every item that could not be loaded, with its stage and reason, upserted on (stage, item_key).

Why: nothing is dropped silently. A retried item updates its row (attempts, last_seen_at) instead of
adding another, so the table is a list of problems, not a log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pandas as pd

from newswatch import secrets
from newswatch.models import Rejection


def quarantined(
    con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[str | None, Rejection]], *, run_id: str, now: datetime
) -> int:
    """Upsert rejections (with the feed they came from). Returns how many rows were written."""
    if not rows:
        return 0
    frame = pd.DataFrame(
        [(r.stage, r.item_key, run_id, secrets.redacted(r.url), feed_id, r.reason, secrets.redacted(r.message)[:2000], now)
         for feed_id, r in rows],
        columns=["stage", "item_key", "run_id", "url", "feed_id", "reason", "message", "now"],
    ).drop_duplicates(subset=["stage", "item_key"], keep="last")
    con.register("_q", frame)
    try:
        con.execute(
            "UPDATE quarantine SET run_id=q.run_id, url=q.url, reason=q.reason, message=q.message, "
            "attempts=quarantine.attempts + 1, last_seen_at=q.now, lake_seq=nextval('lake_seq') FROM _q q "
            "WHERE quarantine.stage=q.stage AND quarantine.item_key=q.item_key"
        ).fetchall()
        con.execute(
            "INSERT INTO quarantine (stage, item_key, run_id, url, feed_id, reason, message, attempts, first_seen_at, last_seen_at) "
            "SELECT stage, item_key, run_id, url, feed_id, reason, message, 1, now, now FROM _q q "
            "WHERE NOT EXISTS (SELECT 1 FROM quarantine t WHERE t.stage=q.stage AND t.item_key=q.item_key)"
        ).fetchall()
    finally:
        con.unregister("_q")
    return len(frame)


def attempts_of(con: duckdb.DuckDBPyConnection, stage: str, item_keys: Sequence[str]) -> dict[str, int]:
    """How often each item has already failed at ``stage``."""
    if not item_keys:
        return {}
    rows = con.execute(
        "SELECT item_key, attempts FROM quarantine WHERE stage=? AND item_key IN (SELECT unnest(?))",
        [stage, list(item_keys)],
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}
