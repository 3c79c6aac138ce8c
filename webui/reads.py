"""What each page of the workbench shows, read from one snapshot connection.

Why one function per page, returning plain records: the HTML page, its JSON twin under ``/api`` and the
CSV download of each of its tables must show the same numbers, so they all render the dict returned
here. Every function only reads (the connection is read-only with external access disabled anyway) and
takes ``now`` explicitly, so a page is a pure function of the snapshot and the clock.

Shares follow the contract's definition: a topic's distinct stories that day over all distinct stories
that day. They come from ``topic_share_daily`` when the warehouse has it, else from ``topic_daily``'s
``story_share``, which is the same ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from newswatch import secrets
from warehouse.trends import MAX_DAYS, scored_days
from warehouse.views import SPIKE_BASELINE_DAYS

Row = dict[str, Any]

# Rows per table on a page: enough to answer "who / what / where" at a glance, small enough to render
# in a few milliseconds; the CSV link of each table has the same rows (the SQL console has everything).
TOP_N = 20
LATEST_N = 30
QUOTES_PAGE = 50
# Days drawn on the home page (the contract: "each topic's volume and share over 30 days").
HOME_DAYS = 30
# Days drawn on a topic or entity page by default.
DETAIL_DAYS = 90

# How each copy joined its story (``story_links.method``), in the words the story page uses.
JOIN_LABELS = {"first": "first", "exact": "exact", "near": "near", "url_update": "update"}


class NotFound(LookupError):
    """The page's subject (a story, entity or topic) is not in this snapshot."""


def records(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """The rows of ``sql`` as dicts keyed by column name."""
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description or ()]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _has_relation(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "SELECT 1 FROM duckdb_tables() WHERE table_name = $1 UNION ALL SELECT 1 FROM duckdb_views() WHERE view_name = $1",
        [name]).fetchall()
    return bool(rows)


def checked_days(days: int) -> int:
    """``days`` if it is a sensible chart width, else ValueError (a bad ``?days=``)."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    return days


def _share_sql(con: duckdb.DuckDBPyConnection) -> str:
    """Per topic and day: articles, stories, all stories and the story share, in one relation."""
    if _has_relation(con, "topic_share_daily"):
        return ("SELECT d.topic, d.day, d.articles, d.stories, s.all_stories, s.share FROM topic_daily d "
                "LEFT JOIN topic_share_daily s ON s.topic = d.topic AND s.day = d.day")
    return "SELECT topic, day, articles, stories, all_stories, story_share AS share FROM topic_daily"


def _scored_series(rows: list[Row], first: date, last: date, shown: int) -> list[Row]:
    """Dense daily rows from ``first`` to ``last`` (zero-filled), the last ``shown`` scored for spikes."""
    by_day = {r["day"]: r for r in rows}
    counts: list[tuple[date, int, int, float | None]] = []
    extra: dict[date, Row] = {}
    d = first
    while d <= last:
        r = by_day.get(d, {})
        counts.append((d, int(r.get("articles") or 0), int(r.get("stories") or 0),
                       None if r.get("share") is None else float(r["share"])))
        extra[d] = r
        d += timedelta(days=1)
    out = []
    for v in scored_days(counts, shown):
        row: Row = {"day": v.day, "articles": v.articles, "stories": v.stories, "share": v.share,
                    "baseline": round(v.baseline, 3), "score": round(v.score, 2), "spike": v.spike,
                    "partial": v.day == last}
        for k in ("mentions", "all_stories"):
            if k in extra[v.day]:
                row[k] = int(extra[v.day][k] or 0)
        out.append(row)
    return out


def _window(now: datetime, days: int) -> tuple[date, date]:
    last = now.date()
    return last - timedelta(days=days + SPIKE_BASELINE_DAYS - 1), last


def topic_series(con: duckdb.DuckDBPyConnection, now: datetime, days: int, topic: str | None = None) -> dict[str, list[Row]]:
    """Each topic's (or one topic's) dense daily series over ``days`` UTC days ending today, spikes scored."""
    first, last = _window(now, days)
    sql = f"SELECT * FROM ({_share_sql(con)}) WHERE day BETWEEN ? AND ?"
    params: list[Any] = [first, last]
    if topic is not None:
        sql += " AND topic = ?"
        params.append(topic)
    per_topic: dict[str, list[Row]] = {}
    for r in records(con, sql + " ORDER BY topic, day", params):
        per_topic.setdefault(r["topic"], []).append(r)
    return {t: _scored_series(rows, first, last, days) for t, rows in per_topic.items()}


def _spikes(con: duckdb.DuckDBPyConnection, now: datetime, *, kind: str | None = None, key: str | None = None,
            only_spikes: bool = True) -> list[Row]:
    sql = ("SELECT kind, key, name, type, current_stories, current_articles, round(baseline_stories, 2) AS baseline_stories, "
           "round(score, 2) AS score, is_spike FROM spike_scores_at(?) WHERE true")
    params: list[Any] = [now]
    if only_spikes:
        sql += " AND is_spike"
    if kind is not None:
        sql += " AND kind = ?"
        params.append(kind)
    if key is not None:
        sql += " AND key = ?"
        params.append(key)
    return records(con, sql + f" ORDER BY score DESC, kind, key LIMIT {TOP_N}", params)


def _first(rows: list[Row]) -> Row | None:
    return rows[0] if rows else None


def _feed_warnings(con: duckdb.DuckDBPyConnection) -> list[Row]:
    return records(con, """
        SELECT feed_id, name, CASE WHEN disabled THEN 'disabled' ELSE 'failing' END AS state,
               coalesce(disabled_reason, last_status) AS reason, last_error, consecutive_failures, failing_since,
               last_polled_at
        FROM feeds WHERE disabled OR consecutive_failures > 0
        ORDER BY disabled DESC, consecutive_failures DESC, name""")


def _latest_stories(con: duckdb.DuckDBPyConnection, where: str = "true", params: Sequence[Any] = ()) -> list[Row]:
    # The outlet count is taken for the listed stories only (a count over every story cost ~25 ms at 100k articles).
    return records(con, f"""
        WITH top AS (
            SELECT s.story_id, s.title, s.first_seen_at, s.last_seen_at, s.article_count FROM stories s
            WHERE {where} ORDER BY s.last_seen_at DESC, s.story_id LIMIT {LATEST_N}
        ), outlets AS (
            SELECT story_id, count(DISTINCT feed_id) AS outlets FROM articles
            WHERE story_id IN (SELECT story_id FROM top) GROUP BY story_id
        )
        SELECT top.*, coalesce(outlets.outlets, 0) AS outlets FROM top LEFT JOIN outlets USING (story_id)
        ORDER BY top.last_seen_at DESC, top.story_id""", params)


def home_page(con: duckdb.DuckDBPyConnection, now: datetime, days: int = HOME_DAYS) -> Row:
    """The dashboard: topics with volume and share per day, what spikes now, latest stories, feed problems."""
    series = topic_series(con, now, days)
    spikes = _spikes(con, now)
    spiking = {s["key"] for s in spikes if s["kind"] == "topic"}
    topics = [{"topic": t, "articles": sum(d["articles"] for d in rows), "stories": sum(d["stories"] for d in rows),
               "today_share": rows[-1]["share"], "spike_days": sum(1 for d in rows if d["spike"]),
               "spiking_now": t in spiking, "days": rows}
              for t, rows in sorted(series.items())]
    totals = records(con, "SELECT (SELECT count(*) FROM articles) AS articles, (SELECT count(*) FROM stories) AS stories, "
                          "(SELECT count(*) FROM feeds) AS feeds, (SELECT max(finished_at) FROM runs) AS last_run")[0]
    return {"as_of": now, "days": days, "totals": totals, "topics": topics,
            "spiking_topics": [s for s in spikes if s["kind"] == "topic"],
            "spiking_entities": [s for s in spikes if s["kind"] == "entity"],
            "latest_stories": _latest_stories(con), "feed_warnings": _feed_warnings(con)}


def story_page(con: duckdb.DuckDBPyConnection, story_id: str) -> Row:
    """One story: every copy with outlet, time, link and how it joined, its entities, quotes and topics.

    Raises:
        NotFound: no such story in this snapshot.
    """
    found = records(con, "SELECT story_id, title, first_seen_at, last_seen_at, article_count FROM stories WHERE story_id = ?",
                    [story_id])
    if not found:
        raise NotFound(f"no story {story_id!r}")
    copies = records(con, """
        SELECT c.article_id, c.title, c.url, f.name AS outlet, c.published_at, c.method, c.similarity,
               c.matched_article_id, a.author, a.word_count, a.language
        FROM story_copies c LEFT JOIN articles a USING (article_id) LEFT JOIN feeds f ON f.feed_id = c.feed_id
        WHERE c.story_id = ? ORDER BY c.published_at, c.article_id""", [story_id])
    for c in copies:
        c["joined"] = JOIN_LABELS.get(c["method"], c["method"])
    entities = records(con, f"""
        SELECT m.entity_id, e.name, e.type, count(*) AS mentions, count(DISTINCT m.article_id) AS articles
        FROM mentions m JOIN articles a USING (article_id) LEFT JOIN entities e USING (entity_id)
        WHERE a.story_id = ? GROUP BY ALL ORDER BY mentions DESC, m.entity_id LIMIT {TOP_N * 2}""", [story_id])
    quotes = records(con, """
        SELECT q.text, q.speaker, q.speaker_entity_id, any_value(q.cue) AS cue, count(*) AS copies,
               min(a.published_at) AS first_published_at
        FROM quotes q JOIN articles a USING (article_id)
        WHERE a.story_id = ? GROUP BY q.text, q.speaker, q.speaker_entity_id
        ORDER BY first_published_at, min(q.start_char)""", [story_id])
    topics = records(con, """
        SELECT t.topic, count(DISTINCT t.article_id) AS articles FROM topic_matches t JOIN articles a USING (article_id)
        WHERE a.story_id = ? GROUP BY t.topic ORDER BY t.topic""", [story_id])
    return {"story": found[0], "copies": copies, "entities": entities, "quotes": quotes, "topics": topics}


def entity_page(con: duckdb.DuckDBPyConnection, entity_id: str, now: datetime, days: int = DETAIL_DAYS) -> Row:
    """One entity: mentions per day with spikes, aliases, co-occurring entities, quotes by and about it, articles.

    Raises:
        NotFound: no such entity in this snapshot.
    """
    found = records(con, "SELECT entity_id, name, type, aliases, first_seen_at FROM entities WHERE entity_id = ?", [entity_id])
    if not found:
        raise NotFound(f"no entity {entity_id!r}")
    first, last = _window(now, days)
    daily = records(con, "SELECT day, mentions, articles, stories, share FROM entity_daily "
                         "WHERE entity_id = ? AND day BETWEEN ? AND ?", [entity_id, first, last])
    cooccurring = records(con, f"""
        WITH arts AS (SELECT DISTINCT article_id FROM mentions WHERE entity_id = $1)
        SELECT m.entity_id, e.name, e.type, count(DISTINCT m.article_id) AS articles, count(DISTINCT a.story_id) AS stories
        FROM mentions m JOIN arts USING (article_id) JOIN articles a USING (article_id) LEFT JOIN entities e USING (entity_id)
        WHERE m.entity_id <> $1 GROUP BY ALL ORDER BY stories DESC, articles DESC, m.entity_id LIMIT {TOP_N}""", [entity_id])
    quote_cols = ("q.text, q.speaker, q.speaker_entity_id, q.cue, a.article_id, a.story_id, a.title, f.name AS outlet, "
                  "a.published_at")
    quotes_by = records(con, f"""
        SELECT {quote_cols} FROM quotes q JOIN articles a USING (article_id) LEFT JOIN feeds f ON f.feed_id = a.feed_id
        WHERE q.speaker_entity_id = ? ORDER BY a.published_at DESC, q.start_char LIMIT {LATEST_N}""", [entity_id])
    quotes_about = records(con, f"""
        SELECT DISTINCT {quote_cols}, q.start_char FROM quotes q
        JOIN mentions m ON m.article_id = q.article_id AND m.start_char >= q.start_char AND m.end_char <= q.end_char
        JOIN articles a ON a.article_id = q.article_id LEFT JOIN feeds f ON f.feed_id = a.feed_id
        WHERE m.entity_id = $1 AND q.speaker_entity_id IS DISTINCT FROM $1
        ORDER BY a.published_at DESC, q.start_char LIMIT {LATEST_N}""", [entity_id])
    for q in quotes_about:
        q.pop("start_char", None)
    articles = records(con, f"""
        SELECT a.article_id, a.story_id, a.title, a.url, f.name AS outlet, a.published_at, count(*) AS mentions
        FROM mentions m JOIN articles a USING (article_id) LEFT JOIN feeds f ON f.feed_id = a.feed_id
        WHERE m.entity_id = ? GROUP BY ALL ORDER BY a.published_at DESC, a.article_id LIMIT {LATEST_N}""", [entity_id])
    entity = found[0]
    entity["aliases"] = list(entity["aliases"] or [])
    return {"entity": entity, "days": _scored_series(daily, first, last, days),
            "spike_now": _first(_spikes(con, now, kind="entity", key=entity_id, only_spikes=False)),
            "cooccurring": cooccurring, "quotes_by": quotes_by, "quotes_about": quotes_about, "articles": articles}


def known_topics(con: duckdb.DuckDBPyConnection) -> list[Row]:
    """Every topic with a match: name, matched articles and stories, last match."""
    return records(con, """
        SELECT t.topic, count(DISTINCT t.article_id) AS articles, count(DISTINCT a.story_id) AS stories,
               max(a.published_at) AS last_published_at
        FROM topic_matches t JOIN articles a USING (article_id) GROUP BY t.topic ORDER BY t.topic""")


def topic_page(con: duckdb.DuckDBPyConnection, topic: str, now: datetime, days: int = DETAIL_DAYS) -> Row:
    """One topic: counts and share per day with spikes, top feeds, entities and speakers, latest stories.

    Raises:
        NotFound: no article matched a topic of that name.
    """
    if not con.execute("SELECT 1 FROM topic_matches WHERE topic = ? LIMIT 1", [topic]).fetchall():
        raise NotFound(f"no matches for topic {topic!r}")
    series = topic_series(con, now, days, topic).get(topic, [])
    since = datetime.combine(now.date() - timedelta(days=days - 1), datetime.min.time(), tzinfo=now.tzinfo)
    matched = ("(SELECT a.* FROM topic_matches t JOIN articles a USING (article_id) "
               "WHERE t.topic = $1 AND a.published_at >= $2)")
    top_feeds = records(con, f"""
        SELECT f.name AS feed, count(*) AS articles, count(DISTINCT m.story_id) AS stories
        FROM {matched} m LEFT JOIN feeds f ON f.feed_id = m.feed_id
        GROUP BY ALL ORDER BY stories DESC, articles DESC, feed LIMIT {TOP_N}""", [topic, since])
    top_entities = records(con, f"""
        SELECT x.entity_id, e.name, e.type, count(*) AS mentions, count(DISTINCT m.story_id) AS stories
        FROM {matched} m JOIN mentions x USING (article_id) LEFT JOIN entities e ON e.entity_id = x.entity_id
        GROUP BY ALL ORDER BY stories DESC, mentions DESC, x.entity_id LIMIT {TOP_N}""", [topic, since])
    top_speakers = records(con, f"""
        SELECT rank, speaker, speaker_entity_id, quotes, articles, stories, latest_quote
        FROM top_speakers_between($2, $3) WHERE topic = $1 ORDER BY rank, speaker LIMIT {TOP_N}""",
                           [topic, since, now + timedelta(seconds=1)])
    latest = _latest_stories(con, "s.story_id IN (SELECT a.story_id FROM topic_matches t JOIN articles a USING (article_id) "
                                  "WHERE t.topic = ?)", [topic])
    return {"topic": topic, "days_shown": days, "days": series,
            "spike_now": _first(_spikes(con, now, kind="topic", key=topic, only_spikes=False)),
            "top_feeds": top_feeds, "top_entities": top_entities, "top_speakers": top_speakers,
            "latest_stories": latest}


def quotes_page(con: duckdb.DuckDBPyConnection, speaker: str = "", text: str = "", *, offset: int = 0,
                limit: int = QUOTES_PAGE) -> Row:
    """Attributed quotes, newest first, filtered by speaker (part of the name) and words in the quote.

    Copies of one quote in one story (a wire story carried by several outlets) are one row with ``copies``.
    """
    where = ["q.speaker <> ''"]
    params: list[Any] = []
    if speaker.strip():
        where.append("contains(lower(q.speaker), lower(?))")
        params.append(speaker.strip())
    if text.strip():
        where.append("contains(lower(q.text), lower(?))")
        params.append(text.strip())
    rows = records(con, f"""
        SELECT q.text, q.speaker, q.speaker_entity_id, a.story_id, count(*) AS copies,
               min(a.published_at) AS published_at, arg_min(a.title, a.published_at) AS title,
               arg_min(f.name, a.published_at) AS outlet
        FROM quotes q JOIN articles a USING (article_id) LEFT JOIN feeds f ON f.feed_id = a.feed_id
        WHERE {' AND '.join(where)}
        GROUP BY q.text, q.speaker, q.speaker_entity_id, a.story_id
        ORDER BY published_at DESC, a.story_id, q.text LIMIT {int(limit) + 1} OFFSET {int(offset)}""", params)
    return {"speaker": speaker, "q": text, "offset": offset, "limit": limit,
            "has_more": len(rows) > limit, "quotes": rows[:limit]}


def feeds_page(con: duckdb.DuckDBPyConnection, now: datetime) -> Row:
    """Every feed's health: state, last and next poll, failures, items new in 24 h and 7 days; recent runs."""
    feeds = records(con, """
        WITH new AS (
            SELECT feed_id, count(*) FILTER (WHERE first_seen_at > $1 - INTERVAL 1 DAY) AS new_24h,
                   count(*) FILTER (WHERE first_seen_at > $1 - INTERVAL 7 DAY) AS new_7d
            FROM feed_items WHERE status = 'loaded' GROUP BY feed_id
        ), q AS (
            SELECT feed_id, count(*) AS quarantined_7d FROM quarantine WHERE last_seen_at > $1 - INTERVAL 7 DAY GROUP BY feed_id
        )
        SELECT f.feed_id, f.name, f.url,
               CASE WHEN f.disabled THEN 'disabled' WHEN f.consecutive_failures > 0 THEN 'failing'
                    WHEN f.last_polled_at IS NULL THEN 'never polled' ELSE 'ok' END AS state,
               f.last_status, coalesce(f.disabled_reason, f.last_error) AS last_error, f.consecutive_failures,
               f.failing_since, f.last_polled_at, f.last_success_at, f.last_new_item_at, f.next_poll_at,
               coalesce(new.new_24h, 0) AS new_24h, coalesce(new.new_7d, 0) AS new_7d,
               coalesce(q.quarantined_7d, 0) AS quarantined_7d
        FROM feeds f LEFT JOIN new USING (feed_id) LEFT JOIN q USING (feed_id)
        ORDER BY (state = 'ok'), f.name""", [now])
    for f in feeds:  # a feed URL may carry an API key from ${VAR}
        f["url"] = secrets.redacted(f["url"])
        f["last_error"] = None if f["last_error"] is None else secrets.redacted(f["last_error"])
    runs = records(con, "SELECT run_id, started_at, finished_at, status, feeds_polled, feeds_failed, entries_seen, "
                        "articles_new, duplicates, failures FROM runs ORDER BY started_at DESC LIMIT 10")
    return {"as_of": now, "feeds": feeds, "runs": runs}
