"""Cycle cost, query latency and disk use of a warehouse grown synthetically to large archives.

Why: a monitor keeps months of news, so no part of a cycle may cost more as the archive grows, and the
analysts' queries must stay interactive. This grows one warehouse (made by the real ``migrate()``)
through the given sizes with set-based SQL (``range()``, hashes, ``INSERT ... SELECT``), every table
filled with consistent keys (feeds, feed_items, articles with ~450-word texts, stories, story_links,
story_signatures for the story window, entities, mentions, quotes, topic_matches, alerts, quarantine,
runs), articles arriving at a steady rate backwards from now (``--per-day``), so 1M articles span
months and the story window holds the same arrivals at every size. At each size it runs real cycles
in this process (``flows.cycle.run_cycle``, NLP disabled) against feeds served on 127.0.0.1: a no-op
cycle (every feed answers 304) and a cycle of 50 new articles, several rounds each, and prints the
medians of each stage the summary reports (``CycleSummary.stage_seconds``); then the README's example
queries through the analysts' reader (``warehouse.analyst.connect``), and disk use. It ends with the
1M/10k (last/first) ratios and one JSON line for scripts.

Run: .venv/bin/python bench/archive.py [--sizes 10000,100000,1000000] [--rounds 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from warehouse.lake import LakePaths, publish_lake  # noqa: E402
from warehouse.migrations import migrate  # noqa: E402
from warehouse.search_index import rebuilt_search_index  # noqa: E402
from warehouse.state import feed_id_for  # noqa: E402
from warehouse.trend_tables import refresh_trend_tables  # noqa: E402

FEEDS = 20
ENTITIES = 5000
PER_DAY = 2000  # articles a day: 1M articles span ~16 months
NEW_PER_CYCLE = 50
# Columns added by later migrations that the grower leaves to their defaults (NULL, the lake's load sequence).
LATER_COLUMNS = {"lake_seq", "speaker_confidence"}
TOPICS = {
    "korea-diplomacy": '"Kim Jong Un" OR ("North Korea" AND (summit OR talks)) NOT sport*',
    "central-banks": '("central bank" OR "Federal Reserve" OR ECB) AND (rate* OR inflation)',
    "climate": 'climate OR emissions',
    "elections": 'election* OR ballot*',
}
# Sentences articles are made of (each article picks 30 of them by hash): some carry the entities and
# the topics' terms, so the cycles' new articles match topics and queue alerts as real ones do.
SENTENCES = [
    "Kim Jong Un met envoys in Pyongyang to discuss the stalled summit and new talks with the South.",
    "North Korea said the talks would resume after the summit, according to state media reports.",
    "The Federal Reserve held its benchmark rate steady as inflation cooled for a third month.",
    "The central bank warned that inflation could rise again if energy prices keep climbing this winter.",
    "Officials said climate negotiators failed to agree on emissions targets before the deadline.",
    "Voters queued for hours as the election commission extended polling in several districts.",
    "Ballot counting continued overnight and the first results are expected on Thursday morning.",
    "The minister told reporters that the government would publish the full report next week.",
    "Analysts said the decision reflected growing pressure from trading partners and investors.",
    "Residents described scenes of confusion as emergency services arrived at the site.",
    "The company said its quarterly profit rose on strong demand in Asia and Europe.",
    "Shares fell sharply in early trading before recovering most of their losses by the close.",
    "Opposition leaders called for an independent inquiry into how the contracts were awarded.",
    "The court is expected to rule on the appeal before the end of the month, lawyers said.",
    "Aid agencies warned that supplies of food and clean water were running dangerously low.",
    "Police said three people had been arrested and charged in connection with the attack.",
]
ENTITY_NAMES = ["Kim Jong Un", "Jerome Powell", "Christine Lagarde", "Antonio Guterres", "Olaf Scholz"]


def grow(con: duckdb.DuckDBPyConnection, start: int, end: int, *, feed_urls: list[str], now: datetime,
         per_day: int = PER_DAY, window_days: float = 7) -> None:
    """Add articles ``start`` .. ``end - 1`` (and everything that goes with them) to a migrated warehouse.

    Article ``i`` is ``i / per_day`` days before ``now`` (minus an hour, so the cycles' new articles are
    the newest). Articles come in groups of five: the first three are copies of one story (same text,
    three feeds), the other two stories of their own. Calling it with consecutive ranges grows one
    consistent archive; every key joins (articles -> feeds, stories, runs; mentions -> entities ...).
    """
    feed_ids = [feed_id_for(u) for u in feed_urls]
    n_feeds = len(feed_ids)
    if start == 0:
        con.execute("INSERT INTO feeds (feed_id, name, url, etag, last_status, last_polled_at, last_success_at, "
                    "last_new_item_at, next_poll_at, poll_interval_seconds) "
                    "SELECT f.id, 'Feed ' || f.k, f.url, '\"r0\"', 'not_modified', $now, $now, $now, $now, 900 "
                    "FROM (SELECT unnest($ids) AS id, unnest($urls) AS url, unnest(range(len($ids))) AS k) f",
                    {"ids": feed_ids, "urls": feed_urls, "now": now})
        names = ENTITY_NAMES + [f"Person {k}" for k in range(len(ENTITY_NAMES), ENTITIES // 2)]
        con.execute("INSERT INTO entities SELECT 'person:' || lower(n), n, 'PERSON', [n], $now - INTERVAL 400 DAY "
                    "FROM unnest($names) t(n)", {"names": names, "now": now})
        con.execute(f"INSERT INTO entities SELECT 'org:organisation ' || k, 'Organisation ' || k, 'ORG', "
                    f"['Organisation ' || k], $now - INTERVAL 400 DAY FROM range({ENTITIES - len(names)}) t(k)",
                    {"now": now})
    every = {"now": now, "feeds": feed_ids, "sentences": SENTENCES, "lo": start, "hi": end}

    def params(sql: str) -> dict[str, Any]:  # DuckDB refuses named parameters a statement does not use
        return {k: v for k, v in every.items() if f"${k}" in sql}

    def named(sql: str) -> str:
        """``INSERT INTO t SELECT`` with t's column list: columns later migrations added (the lake's load
        sequence, a quote's speaker confidence) keep their defaults instead of breaking the positions."""
        def columns(m: re.Match[str]) -> str:
            names = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                                               "ORDER BY column_index", [m.group(1)]).fetchall()
                     if r[0] not in LATER_COLUMNS]
            return f"INSERT INTO {m.group(1)} ({', '.join(names)}) SELECT"
        return re.sub(r"INSERT INTO (\w+) SELECT", columns, sql)

    def run(sql: str, extra: dict[str, Any] | None = None) -> None:
        sql = named(sql)
        con.execute(sql, {**params(sql), **(extra or {})})
    # One row per article with its derived keys; the other tables are built from it.
    run(f"""
        CREATE OR REPLACE TEMP TABLE _grown AS
        SELECT i, substr(md5('article:' || i), 1, 16) AS article_id,
               CASE WHEN i % 5 < 3 THEN i // 5 * 5 + 2 ELSE i END AS story_i,
               $feeds[1 + (i * 7 + i // 5) % {n_feeds}] AS feed_id,
               $now - INTERVAL 1 HOUR - to_microseconds(CAST(i * 86400000000 // {per_day} AS BIGINT)) AS published_at,
               'https://news' || (i % {n_feeds}) || '.example/' || i || '/story.html' AS url
        FROM range($lo, $hi) t(i)""")
    run(f"""
        CREATE OR REPLACE TEMP TABLE _texts AS
        SELECT g.*, substr(md5('article:' || story_i), 1, 16) AS story_id,
               array_to_string(list_transform(range(30), lambda k: $sentences[CAST(1 + hash(story_i, k) % {len(SENTENCES)} AS BIGINT)]), ' ')
                   || ' Reference ' || story_i || '.' AS text
        FROM _grown g""")
    run("""
        INSERT INTO articles SELECT article_id, url, url, feed_id, 'Headline of story ' || story_i, 'Staff reporter',
            published_at, 'feed', published_at, 'en', text, length(string_split(text, ' ')), md5(text), story_id,
            strftime(published_at, '%Y%m%dT%H%M') || '-' || substr(md5('run:' || strftime(published_at, '%Y%m%dT%H%M')), 1, 8),
            md5_number_lower(article_id), md5_number_lower(story_id)
        FROM _texts ORDER BY published_at""")
    run("""
        INSERT INTO feed_items SELECT feed_id, substr(md5('item:' || i), 1, 16), url, article_id, 'loaded', published_at,
            md5_number_lower(substr(md5('item:' || i), 1, 16)), md5_number_lower(article_id)
        FROM _grown
        UNION ALL  -- one article in ten is carried by a second feed too, recorded as a duplicate item there
        SELECT $feeds[1 + (i * 7 + i // 5 + 1) % len($feeds)], substr(md5('dup:' || i), 1, 16), url, article_id,
               'duplicate', published_at + INTERVAL 5 MINUTE, md5_number_lower(substr(md5('dup:' || i), 1, 16)),
               md5_number_lower(article_id)
        FROM _grown WHERE i % 10 = 4""", {"feeds": feed_ids})
    run("""
        INSERT INTO stories SELECT story_id, min(published_at), max(published_at), 'Headline of story ' || any_value(story_i),
            count(*) FROM _texts GROUP BY story_id
        ON CONFLICT (story_id) DO UPDATE SET first_seen_at = least(stories.first_seen_at, excluded.first_seen_at),
            last_seen_at = greatest(stories.last_seen_at, excluded.last_seen_at),
            article_count = stories.article_count + excluded.article_count""")
    run("""
        INSERT INTO story_links SELECT article_id, story_id,
            CASE WHEN i = story_i THEN NULL ELSE story_id END,
            CASE WHEN i = story_i THEN 'first' ELSE 'exact' END,
            CASE WHEN i = story_i THEN NULL ELSE 1.0 END, published_at
        FROM _texts""")
    run(f"""
        INSERT INTO story_signatures (article_id, story_id, article_time, content_hash, word_count, url_keys,
                                      headline_key, shingles, minhash, signature_version, fetched_at)
        SELECT article_id, story_id, published_at, md5(text), 450,
               [substr(url, 9)], 'news' || (i % {n_feeds}) || '.example|headline of story ' || story_i,
               list_transform(range(400), lambda k: CAST(hash(story_i, k, 's') % 4294967296 AS UINTEGER)),
               list_transform(range(128), lambda k: CAST(hash(story_i, k, 'm') % 4294967296 AS UINTEGER)),
               1, published_at
        FROM _texts WHERE published_at >= $now - INTERVAL {int(window_days * 24)} HOUR""")
    # Mentions: six per article, entities drawn with a heavy head (entity 0, Kim Jong Un, is the most frequent).
    run("""
        CREATE OR REPLACE TEMP TABLE _ents AS SELECT row_number() OVER (ORDER BY entity_id) - 1 AS k, entity_id, name
        FROM entities""")
    run(f"""
        INSERT INTO mentions SELECT g.article_id, e.entity_id, e.name, 40 * m.j, 40 * m.j + length(e.name)
        FROM _grown g, range(6) m(j),
             LATERAL (SELECT CAST(floor({ENTITIES} * pow(CAST(hash(g.story_i, m.j) % 1000000 AS DOUBLE) / 1e6, 3)) AS BIGINT) AS k) x
        JOIN _ents e ON e.k = x.k""")
    run("""
        INSERT INTO quotes SELECT substr(md5('quote:' || g.i), 1, 16), g.article_id,
            'We will keep working on this until it is done, and the talks must go on.', e.name, e.entity_id, 'said',
            100, 170, md5_number_lower(g.article_id)
        FROM _grown g JOIN _ents e ON e.k = CAST(hash(g.story_i, 'q') % 60 AS BIGINT)
        WHERE g.i % 5 < 3 OR g.i % 10 = 3""")
    topics = list(TOPICS)
    run("""
        INSERT INTO topic_matches SELECT g.article_id, t.topic, [t.topic], g.published_at, md5_number_lower(g.article_id)
        FROM _grown g, (SELECT unnest($topics) AS topic, unnest(range(len($topics))) AS n) t
        WHERE CAST(hash(g.story_i, t.topic) % 10 AS BIGINT) < 1 + (t.n = 0)::INT""", {"topics": topics})
    run("""
        INSERT INTO alerts SELECT substr(md5('alert:' || s.story_id), 1, 16), 'korea-diplomacy', 'korea-diplomacy',
            s.story_id, s.story_id, 'json://127.0.0.1/hook', 0, 'sent', 1, min(g.published_at), NULL,
            min(g.published_at) + INTERVAL 1 MINUTE, NULL, '{"headline": "story"}'
        FROM _texts s JOIN topic_matches t ON t.article_id = s.article_id AND t.topic = 'korea-diplomacy'
        JOIN _grown g ON g.article_id = s.story_id
        WHERE s.i = s.story_i GROUP BY s.story_id""")
    run("""
        INSERT INTO quarantine SELECT 'fetch', substr(md5('bad:' || i), 1, 16), NULL, url, feed_id, 'http_404',
            'not found', 1, published_at, published_at FROM _grown WHERE i % 100 = 7""")
    run("""
        INSERT INTO runs (run_id, started_at, finished_at, status, feeds_polled, entries_seen, articles_new)
        SELECT DISTINCT a.run_id, date_trunc('minute', a.published_at), date_trunc('minute', a.published_at) + INTERVAL 40 SECOND,
            'completed', $n, 0, 0
        FROM articles a JOIN _grown g USING (article_id)
        ON CONFLICT (run_id) DO NOTHING""", {"n": n_feeds})
    con.execute("UPDATE runs SET articles_new = c.n, entries_seen = c.n FROM (SELECT run_id, count(*) AS n FROM articles "
                "WHERE article_id IN (SELECT article_id FROM _grown) GROUP BY run_id) c WHERE runs.run_id = c.run_id")
    for t in ("_grown", "_texts", "_ents"):
        con.execute(f"DROP TABLE {t}")
    refresh_trend_tables(con)  # the writer's trend tables, as each cycle keeps them


# --- the feeds and pages the real cycles read ---------------------------------------------------------------


class Site:
    """20 RSS feeds and their article pages on 127.0.0.1; ``next_round()`` puts 50 new items in the feeds.

    A feed answers 304 to a request carrying its current ETag, which is what a no-op cycle sees.
    """

    def __init__(self) -> None:
        self.round = 0
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts[0] == "feed":
                    etag = f'"r{site.round}"'
                    if self.headers.get("If-None-Match") == etag:
                        self.send_response(304)
                        self.send_header("ETag", etag)
                        self.end_headers()
                        return
                    self._send(site.feed(int(parts[1].split(".")[0])), "application/rss+xml", etag)
                elif parts[0] == "page":
                    self._send(site.page(int(parts[1]), int(parts[2]), int(parts[3].split(".")[0])), "text/html")
                else:
                    self.send_response(404)
                    self.end_headers()

            def do_POST(self) -> None:  # alert and operator webhooks
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.end_headers()

            def _send(self, body: str, ctype: str, etag: str | None = None) -> None:
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype + "; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def feed_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{self.port}/feed/{k}.xml" for k in range(FEEDS)]

    def feed(self, k: int) -> str:
        per_feed = NEW_PER_CYCLE // FEEDS + (1 if k < NEW_PER_CYCLE % FEEDS else 0)
        items = "".join(
            f"<item><title>Round {self.round} feed {k} item {j}</title>"
            f"<link>http://127.0.0.1:{self.port}/page/{self.round}/{k}/{j}.html</link>"
            f"<guid>r{self.round}-f{k}-i{j}</guid><pubDate>{datetime.now(UTC):%a, %d %b %Y %H:%M:%S} +0000</pubDate>"
            f"</item>" for j in range(per_feed)) if self.round else ""
        return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {k}</title>'
                f"<link>http://127.0.0.1:{self.port}/</link><description>bench</description>{items}</channel></rss>")

    def page(self, rnd: int, k: int, j: int) -> str:
        seed = rnd * 1000 + k * 10 + j
        paras = "".join(f"<p>{SENTENCES[(seed * 7 + n * 3) % len(SENTENCES)]} Item {seed} paragraph {n} adds "
                        f"detail number {seed * 31 + n} about the events of the day.</p>" for n in range(30))
        return (f"<!doctype html><html><head><title>Round {rnd} feed {k} item {j}</title></head><body>"
                f"<nav><a href='/'>Home</a></nav><article><h1>Round {rnd} feed {k} item {j}</h1>{paras}</article>"
                f"<footer>Copyright bench</footer></body></html>")

    def next_round(self) -> None:
        self.round += 1

    def close(self) -> None:
        self.server.shutdown()


def write_config(folder: Path, site: Site) -> Path:
    hook = f"json://127.0.0.1:{site.port}/hook"
    lines = ["warehouse:", f"  path: {folder / 'newswatch.duckdb'}", "fetch:", "  allow_private_networks: true",
             "  per_host_concurrency: 16", "  per_host_delay_seconds: 0", "nlp:", "  enabled: false", "feeds:"]
    lines += [f"  - name: Feed {k}\n    url: {u}" for k, u in enumerate(site.feed_urls())]
    lines += ["topics:"] + [f"  - name: {n}\n    query: '{q}'" for n, q in TOPICS.items()]
    lines += ["alerts:", "  - topic: korea-diplomacy", f"    notify: ['{hook}']", "operator:", f"  notify: ['{hook}']"]
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --- the README's example queries ---------------------------------------------------------------------------

QUERIES = {
    "top_speakers_week_with_spikes": """
        SELECT s.rank, s.speaker, s.quotes, s.stories, s.latest_quote, k.current_stories,
               round(k.baseline_stories, 2) AS usual_per_day, round(k.score, 1) AS score, k.is_spike
        FROM top_speakers_between(now() - INTERVAL 7 DAY, now()) s
        LEFT JOIN spike_scores k ON k.kind = 'topic' AND k.key = s.topic
        WHERE s.topic = 'korea-diplomacy' AND s.rank <= 10 ORDER BY s.rank""",
    "topic_daily_30d": """
        SELECT day, articles, stories, round(100 * share, 1) AS pct_of_all
        FROM topic_daily WHERE topic = 'korea-diplomacy' AND day > current_date - 30 ORDER BY day""",
    "entity_lookup": "SELECT entity_id, name, type FROM entities WHERE name ILIKE '%kim jong%'",
    "entity_daily_by_name": """
        SELECT day, mentions, articles, stories, round(100 * share, 1) AS pct_of_articles
        FROM entity_daily WHERE name = 'Kim Jong Un' ORDER BY day DESC LIMIT 14""",
    "spikes": "SELECT kind, name, type, current_stories, round(baseline_stories, 2) AS usual_per_day, "
              "round(score, 1) AS score FROM spikes",
    "spike_scores_at": """
        SELECT kind, name, current_stories, round(score, 1) AS score
        FROM spike_scores_at(now() - INTERVAL 3 DAY) WHERE is_spike""",
    "cooccurrence_week": """
        SELECT CASE WHEN name_a = 'Kim Jong Un' THEN name_b ELSE name_a END AS appears_with,
               sum(articles) AS articles, sum(stories) AS story_days
        FROM cooccurrence WHERE 'Kim Jong Un' IN (name_a, name_b) AND day > current_date - 7
        GROUP BY appears_with ORDER BY story_days DESC LIMIT 15""",
    "topic_share_daily": """
        SELECT day, stories, all_stories, round(100 * share, 1) AS pct_of_stories
        FROM topic_share_daily WHERE topic = 'korea-diplomacy' ORDER BY day DESC LIMIT 14""",
    "feed_share_30d": """
        SELECT feed, round(100 * avg(share), 1) AS avg_pct FROM feed_share_daily WHERE day > current_date - 30
        GROUP BY feed ORDER BY avg_pct DESC""",
    "top_speakers_all_time": """
        SELECT rank, speaker, quotes, articles, stories FROM top_speakers WHERE topic = 'korea-diplomacy'
        ORDER BY rank LIMIT 10""",
    "story_copies_recent": """
        SELECT story_id, count(*) AS copies FROM story_copies WHERE published_at > now() - INTERVAL 1 DAY
        GROUP BY story_id ORDER BY copies DESC LIMIT 10""",
}


def query_seconds(paths: Any, repeat: int) -> dict[str, float]:
    """Median wall seconds of each example query through the analysts' reader (a new connection each run,
    as ``newswatch sql`` opens one)."""
    from warehouse import analyst

    out: dict[str, float] = {}
    for name, sql in QUERIES.items():
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            con = analyst.connect(paths)
            try:
                con.execute(sql).fetchall()
            finally:
                con.close()
            times.append(time.perf_counter() - t0)
        out[name] = statistics.median(times)
    return out


def disk_bytes(folder: Path, live: Path) -> tuple[int, int]:
    """(everything newswatch stores under ``folder``, the live file with its WAL)."""
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.suffix != ".yaml")
    live_bytes = sum(p.stat().st_size for p in (live, live.with_name(live.name + ".wal")) if p.exists())
    return total, live_bytes


def median_stages(summaries: list[Any]) -> dict[str, float]:
    names: list[str] = []
    for s in summaries:
        names += [k for k in s.stage_seconds if k not in names]
    return {k: statistics.median(s.stage_seconds.get(k, 0.0) for s in summaries) for k in names}


def load_avg() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="archive sizes in articles, ascending")
    ap.add_argument("--rounds", type=int, default=3, help="cycles of each kind per size (medians)")
    ap.add_argument("--query-repeat", type=int, default=5)
    ap.add_argument("--per-day", type=int, default=PER_DAY, help="articles a day in the grown archive")
    ap.add_argument("--keep", type=Path, help="build in this folder and keep it (default: a temporary one)")
    args = ap.parse_args()
    try:
        sizes = [int(x) for x in args.sizes.split(",")]
    except ValueError:
        print("--sizes: comma-separated integers, e.g. 10000,100000", file=sys.stderr)
        return 2
    if sizes != sorted(sizes) or sizes[0] <= 0:
        print("--sizes must be positive and ascending (the archive grows from one to the next)", file=sys.stderr)
        return 2

    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # traffic stays on this machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")  # a loaded machine starts it slowly
    from flows.cycle import run_cycle
    from pipeline.settings import load_settings

    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="nw-archive-")
    folder = args.keep or Path(tmp.name)  # type: ignore[union-attr]
    folder.mkdir(parents=True, exist_ok=True)
    site = Site()
    settings = load_settings(write_config(folder, site))
    live = Path(settings.warehouse.path)
    if live.exists():
        print(f"{live} exists: --keep needs an empty folder", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    con = duckdb.connect(str(live))
    migrate(con)
    con.close()
    result: dict[str, Any] = {"sizes": sizes, "noop_seconds": [], "new50_seconds_without_nlp": [],
                              "new50_seconds_without_nlp_or_delivery": [], "query_seconds": {n: [] for n in QUERIES}, "disk_bytes": [], "live_bytes": []}
    grown = 0
    print(f"archive bench: sizes {sizes}, {args.rounds} rounds, {FEEDS} feeds, {args.per_day} articles/day, "
          f"load average {load_avg()}", flush=True)
    for size in sizes:
        t0 = time.perf_counter()
        con = duckdb.connect(str(live))
        step = 200_000  # bounded memory for the temp tables
        for lo in range(grown, size, step):
            grow(con, lo, min(size, lo + step), feed_urls=site.feed_urls(), now=now, per_day=args.per_day)
        con.execute("CHECKPOINT")
        grown_seconds = time.perf_counter() - t0
        # The grown articles' runs predate the index's position, so a cycle would never index them: rebuild
        # it, so that the index (and its disk use) covers the archive as it would had it grown cycle by cycle.
        indexed = rebuilt_search_index(con, live, "archive bench growth")
        con.close()
        grown = size
        print(f"\n== {size:,} articles (grown in {grown_seconds:.1f} s, search index of {indexed.added:,} articles "
              f"built in {indexed.seconds:.1f} s; load average {load_avg()})", flush=True)
        run_cycle(settings)  # publishes the lake at this size and warms the process (not measured)
        # The grown rows reached the lake as that one cycle's delta; an archive that grew cycle by cycle has had
        # its files folded every ``COMPACT_FILES`` publications, so fold them once here (not measured) and
        # measure the steady state, not the aftermath of a million-row delta.
        con = duckdb.connect(str(live))
        publish_lake(con, LakePaths.beside(live, settings.warehouse.lake_dir), compact=True)
        con.close()
        noop, new = [], []
        for _ in range(args.rounds):
            noop.append(run_cycle(settings))
            site.next_round()
            new.append(run_cycle(settings))
        assert all(s.articles_new == 0 for s in noop), [s.articles_new for s in noop]
        loaded = [s.articles_new for s in new]
        for label, runs in (("no-op cycle (every feed 304)", noop), (f"cycle of {NEW_PER_CYCLE} new articles, no NLP", new)):
            total = statistics.median(s.seconds for s in runs)
            print(f"  {label}: median {total:.2f} s of {[round(s.seconds, 2) for s in runs]}")
            print("    " + "  ".join(f"{k} {v:.3f}" for k, v in median_stages(runs).items()))
        print(f"    new articles loaded per round: {loaded}")
        result["noop_seconds"].append(round(statistics.median(s.seconds for s in noop), 3))
        result["new50_seconds_without_nlp"].append(round(statistics.median(s.seconds for s in new), 3))
        # Delivery sends the alerts through a child process it starts (about a second to import apprise) and
        # waits on the receiving server: a fixed cost per cycle with alerts that swings with the machine's
        # load, not with the archive. This figure leaves it out so that the archive's share stays visible.
        result["new50_seconds_without_nlp_or_delivery"].append(
            round(statistics.median(s.seconds - s.stage_seconds.get("deliver", 0.0) for s in new), 3))
        qs = query_seconds(settings.warehouse.paths, args.query_repeat)
        print(f"  queries (median of {args.query_repeat}, through warehouse.analyst.connect):")
        for name, sec in qs.items():
            print(f"    {name:32s} {1000 * sec:8.1f} ms")
            result["query_seconds"][name].append(round(sec, 4))
        total, live_b = disk_bytes(folder, live)
        print(f"  disk: live {live_b / 1e6:.1f} MB, everything newswatch stores {total / 1e6:.1f} MB "
              f"({total / max(live_b, 1):.2f}x live)", flush=True)
        result["disk_bytes"].append(total)
        result["live_bytes"].append(live_b)
    if len(sizes) > 1:
        print(f"\nratios {sizes[-1]:,} / {sizes[0]:,} articles:")
        for key in ("noop_seconds", "new50_seconds_without_nlp", "new50_seconds_without_nlp_or_delivery", "disk_bytes",
                    "live_bytes"):
            v = result[key]
            print(f"  {key:32s} {v[-1] / max(v[0], 1e-9):.2f}")
        for name, v in result["query_seconds"].items():
            print(f"  query {name:26s} {v[-1] / max(v[0], 1e-9):.2f}")
    site.close()
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
