"""The SQL console: any read-only query on the snapshot, bounded in rows and time.

Why it is safe to accept arbitrary SQL: the connection it runs on (``webui/snapshots.py``) is opened
read-only, with ``enable_external_access`` off and the configuration locked, so ``COPY ... TO``,
``EXPORT DATABASE``, ``ATTACH``, ``read_csv('/etc/passwd')`` and ``INSTALL`` fail with a permission
error, and no statement can switch that back on. What is left is reading the warehouse, which is what
the console is for. The time limit keeps one runaway cross join from holding a server thread forever.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb

from warehouse.lake import refused_statement
from webui.reads import records

# Rows rendered on the page; the CSV download has up to MAX_CSV_ROWS (a browser table of 100k rows is
# unusable, and a spreadsheet wants everything).
MAX_PAGE_ROWS = 500
MAX_CSV_ROWS = 1_000_000
# A query still running after this is interrupted: the console is for questions, `newswatch sql` and
# notebooks for long jobs.
QUERY_SECONDS = 20.0

# The documented tables and views, in the order the README presents them, with one line each.
DOCUMENTED = {
    "articles": "one row per article: url, canonical_url, title, author, published_at, language, text, story_id",
    "stories": "one row per story: first_seen_at, last_seen_at, title, article_count",
    "story_copies": "every copy of a story with why it joined (method, similarity)",
    "story_links": "why each article joined its story",
    "feeds": "configured feeds and their polling state",
    "feed_items": "every item each feed carried, loaded, duplicate or quarantined",
    "runs": "one row per cycle",
    "topic_matches": "which article matched which topic, with the matched terms",
    "entities": "one row per real-world entity: name, type, aliases",
    "mentions": "one row per entity mention (offsets index articles.text)",
    "quotes": "direct quotes with their resolved speaker",
    "topic_daily": "per topic and UTC day: articles, stories, shares",
    "topic_share_daily": "per topic and UTC day: distinct stories over all distinct stories",
    "feed_share_daily": "per feed and UTC day: distinct stories over all distinct stories",
    "entity_daily": "per entity and UTC day with a mention",
    "spike_scores": "every topic and entity of the last 15 days, scored against 14 days",
    "spikes": "the spike_scores rows that are spikes",
    "cooccurrence": "pairs of entities in the same article, per day",
    "top_speakers": "who is quoted about each topic, ranked",
    "alerts": "the alert outbox",
    "alert_outbox": "both outboxes (story alerts and operator notices)",
    "quarantine": "everything that could not be loaded, with the reason",
}


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The first rows of one query, or the error that stopped it."""

    columns: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    truncated: bool = False  # more rows existed than were kept
    seconds: float = 0.0
    error: str | None = None
    kind: str = field(default="ok")  # ok | error | timeout | empty


def query_result(con: duckdb.DuckDBPyConnection, sql: str, *, max_rows: int = MAX_PAGE_ROWS,
                 seconds: float = QUERY_SECONDS) -> QueryResult:
    """Run ``sql`` and keep at most ``max_rows`` rows; a DuckDB error becomes ``error`` (never raised)."""
    if not sql.strip():
        return QueryResult(kind="empty")
    timer = threading.Timer(seconds, con.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        refused_statement(con, sql)
        cur = con.execute(sql)
        cols = tuple(d[0] for d in cur.description or ())
        rows = cur.fetchmany(max_rows + 1) if cols else []
    except duckdb.InterruptException:
        return QueryResult(error=f"stopped after {seconds:.0f} s (hint: add a WHERE or a LIMIT)", kind="timeout",
                           seconds=time.perf_counter() - started)
    except duckdb.Error as e:
        return QueryResult(error=str(e).strip(), kind="error", seconds=time.perf_counter() - started)
    finally:
        timer.cancel()
    return QueryResult(cols, tuple(rows[:max_rows]), len(rows) > max_rows, time.perf_counter() - started)


def documented_relations(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The documented tables and views present in this snapshot, with their columns and description."""
    present = records(con, """
        SELECT table_name AS name, 'table' AS kind FROM duckdb_tables() WHERE NOT internal AND schema_name = 'main'
        UNION ALL SELECT view_name, 'view' FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'""")
    kinds = {r["name"]: r["kind"] for r in present}
    columns: dict[str, list[str]] = {}
    for r in records(con, "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'main' "
                          "ORDER BY table_name, column_index"):
        columns.setdefault(r["table_name"], []).append(r["column_name"])
    return [{"name": n, "kind": kinds[n], "about": about, "columns": columns.get(n, [])}
            for n, about in DOCUMENTED.items() if n in kinds]
