"""Numbered migrations, each applied in one transaction together with its ``_migrations`` record.

Why: tests and production build the database through the same ``migrate()``, so they cannot drift;
a database always knows which migrations it has. Add a migration by appending to ``MIGRATIONS``;
never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from warehouse.outbox import OUTBOX_SQL
from warehouse.schema import SCHEMA_SQL
from warehouse.stories import STORY_FETCHED_AT_SQL, STORY_SIGNATURES_SQL
from warehouse.views import create_trend_views, replace_top_speakers

Migration = tuple[str, Callable[[duckdb.DuckDBPyConnection], None]]


def _m0001_initial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(SCHEMA_SQL)


def _m0002_story_signatures(con: duckdb.DuckDBPyConnection) -> None:
    """Stored story fingerprints (the index is rebuilt from them at start) and the ``story_copies`` view."""
    con.execute(STORY_SIGNATURES_SQL)


def _m0004_alerts_outbox(con: duckdb.DuckDBPyConnection) -> None:
    """The alert outbox's message payload, per-channel subscriptions, the operator outbox and ``alert_outbox``."""
    con.execute(OUTBOX_SQL)


def _m0008_story_fetched_at(con: duckdb.DuckDBPyConnection) -> None:
    """``story_signatures.fetched_at``: rows are pruned by fetch time too, not only by article time."""
    con.execute(STORY_FETCHED_AT_SQL)


MIGRATIONS: list[Migration] = [
    ("0001_initial", _m0001_initial),
    ("0002_story_signatures", _m0002_story_signatures),
    ("0003_trend_views", create_trend_views),
    ("0004_alerts_outbox", _m0004_alerts_outbox),
    ("0005_top_speakers_spelling", replace_top_speakers),
    ("0008_story_fetched_at", _m0008_story_fetched_at),
]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply pending migrations in order.

    Returns:
        The names of the migrations applied now (empty when the database was current).
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT name FROM _migrations").fetchall()}
    applied: list[str] = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            fn(con)
            con.execute("INSERT INTO _migrations VALUES (?, now())", [name])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
