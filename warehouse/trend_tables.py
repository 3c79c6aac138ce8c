"""Fold each cycle's new rows into the trend tables the analysts' views read (schema: migration 0021).

Why: the trend views used to aggregate the whole archive on every query, so they slowed down as it grew.
The writer now keeps per-article hits, per-day counts and per-day entity pairs, and a cycle pays for what
it added, not for what the warehouse holds:

- new rows are found by ``lake_seq`` above the high-water marks in ``writer_state`` (DuckDB skips the row
  groups below a mark by their min/max, so this reads only the newest rows);
- a new article's mentions, topic matches and quotes are loaded with it, so they join the batch's new
  articles only. Rows added later to an older article (a topic matched afterwards) join all articles, which
  costs a scan, but only in the cycle that adds them;
- per-day counts of distinct stories are not additive, so each UTC day that received a hit is recomputed
  whole from ``trend_hits`` (that day's hits: proportional to a day's arrivals, never to the archive).

Runs inside the cycle's load transaction, so the trend tables commit with the rows they describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

# The base tables whose high-water marks ``writer_state`` keeps (as ``trend:<table>``).
BASES = ("articles", "mentions", "topic_matches", "quotes")

_DAY = "CAST(a.published_at AT TIME ZONE 'UTC' AS DATE)"
# Up to this many days are recomputed one by one, each by a literal day that DuckDB prunes row groups with;
# more (a backlog) in one set-based pass.
FEW_DAYS = 3


@dataclass(frozen=True, slots=True)
class TrendRefresh:
    """What one refresh folded in: new hits and topic quotes, and the UTC days recomputed."""

    hits: int
    topic_quotes: int
    days: tuple[date, ...]


def _marks(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = dict(con.execute("SELECT name, value FROM writer_state WHERE name LIKE 'trend:%'").fetchall())
    return {b: int(rows.get(f"trend:{b}", 0)) for b in BASES}


def _tops(con: duckdb.DuckDBPyConnection, marks: dict[str, int]) -> dict[str, int]:
    """The highest ``lake_seq`` of each base table, reading only rows above its mark."""
    out = {}
    for b in BASES:
        rows = con.execute(f"SELECT max(lake_seq) FROM {b} WHERE lake_seq > {int(marks[b])}").fetchall()
        out[b] = int(rows[0][0]) if rows and rows[0][0] is not None else marks[b]
    return out


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    con.execute(sql).fetchall()  # fetched to the end: the connection takes no other work before that


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    rows = con.execute(sql).fetchall()  # fetched to the end: the connection takes no other work before that
    return int(rows[0][0]) if rows else 0


def refresh_trend_tables(con: duckdb.DuckDBPyConnection) -> TrendRefresh:
    """Fold the rows added since the last refresh into ``trend_hits``, ``trend_topic_quotes``,
    ``trend_daily``, ``trend_entity_daily`` and ``trend_pairs``, and advance the marks. Call it inside the writer's transaction.
    """
    marks = _marks(con)
    tops = _tops(con, marks)
    if tops == marks:
        return TrendRefresh(0, 0, ())
    lo = {b: int(marks[b]) for b in BASES}
    hi = {b: int(tops[b]) for b in BASES}

    def new(table: str, alias: str) -> str:
        return f"{alias}.lake_seq > {lo[table]} AND {alias}.lake_seq <= {hi[table]}"

    # The new articles (with their keys), the one set every other new row is first joined with.
    _run(con, f"CREATE OR REPLACE TEMP TABLE _trend_articles AS SELECT a.article_id, a.feed_id, a.story_id, "
                f"a.published_at, {_DAY} AS day FROM articles a WHERE {new('articles', 'a')}")
    # Children of older articles: join those with every article (a scan, only in the cycle that adds them).
    orphans = _count(con, f"""
        SELECT count(*) FROM (
            SELECT article_id FROM mentions m WHERE {new('mentions', 'm')}
            UNION ALL SELECT article_id FROM topic_matches t WHERE {new('topic_matches', 't')}
            UNION ALL SELECT article_id FROM quotes q WHERE {new('quotes', 'q')}
        ) c ANTI JOIN _trend_articles n USING (article_id)""")
    if orphans:
        _run(con, f"""
            INSERT INTO _trend_articles
            SELECT a.article_id, a.feed_id, a.story_id, a.published_at, {_DAY}
            FROM articles a
            WHERE a.article_id IN (
                SELECT article_id FROM mentions m WHERE {new('mentions', 'm')}
                UNION SELECT article_id FROM topic_matches t WHERE {new('topic_matches', 't')}
                UNION SELECT article_id FROM quotes q WHERE {new('quotes', 'q')})
              AND a.article_id NOT IN (SELECT article_id FROM _trend_articles)""")
    hits = _count(con, f"""
        INSERT INTO trend_hits (kind, key, article_id, story_id, published_at, day, mentions)
        SELECT 'feed', a.feed_id, a.article_id, a.story_id, a.published_at, {_DAY}, 0
        FROM articles a WHERE {new('articles', 'a')} ORDER BY a.lake_seq""")
    # A topic match is unique per (article, topic) and a quote per quote_id, so every pair below is new.
    hits += _count(con, f"""
        INSERT INTO trend_hits (kind, key, article_id, story_id, published_at, day, mentions)
        SELECT 'topic', t.topic, n.article_id, n.story_id, n.published_at, n.day, 0
        FROM (SELECT DISTINCT article_id, topic FROM topic_matches t WHERE {new('topic_matches', 't')}) t
        JOIN _trend_articles n USING (article_id)
        ORDER BY n.published_at, t.topic""")
    _run(con, f"""
        CREATE OR REPLACE TEMP TABLE _trend_mentions AS
        SELECT m.article_id, m.entity_id, count(*) AS n FROM mentions m WHERE {new('mentions', 'm')} GROUP BY ALL""")
    if orphans:  # mentions added to an article folded in before: add them to its existing rows
        _run(con, """
            UPDATE trend_hits h SET mentions = h.mentions + m.n FROM _trend_mentions m
            WHERE h.kind = 'entity' AND h.article_id = m.article_id AND h.key = m.entity_id""")
        _run(con, """
            DELETE FROM _trend_mentions m USING trend_hits h
            WHERE h.kind = 'entity' AND h.article_id = m.article_id AND h.key = m.entity_id""")
    hits += _count(con, """
        INSERT INTO trend_hits (kind, key, article_id, story_id, published_at, day, mentions)
        SELECT 'entity', m.entity_id, n.article_id, n.story_id, n.published_at, n.day, m.n
        FROM _trend_mentions m JOIN _trend_articles n USING (article_id)
        ORDER BY n.published_at, m.entity_id""")
    # Attributed quotes per topic: new quotes with every topic of their article, new topic matches with
    # every quote of theirs. Without orphans both sides are new rows, which DuckDB finds by their min/max.
    pairs = (f"({new('quotes', 'q')} OR {new('topic_matches', 't')})" if orphans
             else f"{new('quotes', 'q')} AND {new('topic_matches', 't')}")
    topic_quotes = _count(con, f"""
        INSERT INTO trend_topic_quotes (topic, quote_id, article_id, story_id, published_at, speaker,
                                        speaker_entity_id, text, start_char)
        SELECT DISTINCT ON (t.topic, q.quote_id) t.topic, q.quote_id, q.article_id, n.story_id, n.published_at,
               q.speaker, q.speaker_entity_id, q.text, q.start_char
        FROM _trend_articles n
        JOIN quotes q ON q.article_id = n.article_id
        JOIN topic_matches t ON t.article_id = n.article_id
        WHERE q.speaker <> '' AND {pairs}
        ORDER BY n.published_at, t.topic, q.quote_id""")
    days = tuple(sorted(d for (d,) in con.execute("SELECT DISTINCT day FROM _trend_articles").fetchall()))
    if len(days) <= FEW_DAYS:
        for day in days:
            _recompute(con, f"= DATE '{day.isoformat()}'")  # a literal: DuckDB prunes row groups by min/max
    else:  # a backlog (an import, a long outage): one pass over the days, set-based
        _recompute(con, "IN (SELECT DISTINCT day FROM _trend_articles)")
    _run(con, "DROP TABLE _trend_articles")
    _run(con, "DROP TABLE _trend_mentions")
    for b in BASES:
        con.execute("INSERT INTO writer_state VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    [f"trend:{b}", hi[b]]).fetchall()
    return TrendRefresh(hits, topic_quotes, days)


def _recompute(con: duckdb.DuckDBPyConnection, days: str) -> None:
    """Replace the rows of ``trend_daily``, ``trend_entity_daily`` and ``trend_pairs`` of the days ``day <days>`` selects by a
    count over their hits."""
    for table in ("trend_daily", "trend_entity_daily", "trend_pairs"):
        _run(con, f"DELETE FROM {table} WHERE day {days}")
    _run(con, f"""
        INSERT INTO trend_daily (day, kind, key, articles, stories)
        SELECT day, kind, key, count(DISTINCT article_id), count(DISTINCT story_id)
        FROM trend_hits WHERE day {days} AND kind <> 'entity' GROUP BY ALL
        UNION ALL
        SELECT day, 'all', '', count(DISTINCT article_id), count(DISTINCT story_id)
        FROM trend_hits WHERE day {days} AND kind = 'feed' GROUP BY ALL
        ORDER BY 1, 2, 3""")
    _run(con, f"""
        INSERT INTO trend_entity_daily (day, entity_id, mentions, articles, stories)
        SELECT day, key, sum(mentions), count(DISTINCT article_id), count(DISTINCT story_id)
        FROM trend_hits WHERE day {days} AND kind = 'entity' GROUP BY ALL
        ORDER BY 1, 2""")
    _run(con, f"""
        INSERT INTO trend_pairs (day, entity_a, entity_b, articles, stories)
        SELECT x.day, x.key, y.key, count(*), count(DISTINCT x.story_id)
        FROM trend_hits x JOIN trend_hits y ON y.article_id = x.article_id AND y.day = x.day AND x.key < y.key
        WHERE x.kind = 'entity' AND y.kind = 'entity' AND x.day {days} AND y.day {days}
        GROUP BY ALL ORDER BY 1, 2, 3""")
