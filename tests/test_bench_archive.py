"""The archive bench's grower (bench/archive.py) builds a consistent warehouse: every key joins."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from warehouse.migrations import migrate

BENCH = Path(__file__).resolve().parents[1] / "bench" / "archive.py"
FEEDS = [f"http://127.0.0.1:9/feed/{k}.xml" for k in range(4)]
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def grown():
    spec = importlib.util.spec_from_file_location("bench_archive", BENCH)
    assert spec and spec.loader
    archive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(archive)
    con = duckdb.connect(":memory:")
    migrate(con)
    archive.grow(con, 0, 300, feed_urls=FEEDS, now=NOW, per_day=100)  # grown in two steps, as the bench does
    archive.grow(con, 300, 1000, feed_urls=FEEDS, now=NOW, per_day=100)
    yield con
    con.close()


def _one(con, sql):
    return con.execute(sql).fetchone()[0]


def test_every_table_is_filled(grown):
    for table in ("feeds", "feed_items", "articles", "stories", "story_links", "story_signatures", "entities",
                  "mentions", "quotes", "topic_matches", "alerts", "quarantine", "runs"):
        assert _one(grown, f"SELECT count(*) FROM {table}") > 0, table
    assert _one(grown, "SELECT count(*) FROM articles") == 1000
    assert _one(grown, "SELECT count(DISTINCT article_id) FROM articles") == 1000


def test_keys_join(grown):
    orphans = {
        "articles without feed": "SELECT count(*) FROM articles a ANTI JOIN feeds f USING (feed_id)",
        "articles without story": "SELECT count(*) FROM articles a ANTI JOIN stories s USING (story_id)",
        "articles without run": "SELECT count(*) FROM articles a ANTI JOIN runs r USING (run_id)",
        "articles without link": "SELECT count(*) FROM articles a ANTI JOIN story_links l USING (article_id)",
        "articles without item": "SELECT count(*) FROM articles a ANTI JOIN feed_items i USING (article_id)",
        "items without article": "SELECT count(*) FROM feed_items i ANTI JOIN articles a USING (article_id)",
        "items without feed": "SELECT count(*) FROM feed_items i ANTI JOIN feeds f USING (feed_id)",
        "links to another story": "SELECT count(*) FROM story_links l JOIN articles a USING (article_id) "
                                  "WHERE a.story_id <> l.story_id",
        "links matched elsewhere": "SELECT count(*) FROM story_links l ANTI JOIN articles a "
                                   "ON a.article_id = l.matched_article_id WHERE l.matched_article_id IS NOT NULL",
        "signatures without article": "SELECT count(*) FROM story_signatures s ANTI JOIN articles a USING (article_id)",
        "mentions without entity": "SELECT count(*) FROM mentions m ANTI JOIN entities e USING (entity_id)",
        "mentions without article": "SELECT count(*) FROM mentions m ANTI JOIN articles a USING (article_id)",
        "quotes without article": "SELECT count(*) FROM quotes q ANTI JOIN articles a USING (article_id)",
        "quotes without speaker": "SELECT count(*) FROM quotes q ANTI JOIN entities e ON e.entity_id = q.speaker_entity_id",
        "matches without article": "SELECT count(*) FROM topic_matches t ANTI JOIN articles a USING (article_id)",
        "alerts without story": "SELECT count(*) FROM alerts x ANTI JOIN stories s USING (story_id)",
        "alerts without article": "SELECT count(*) FROM alerts x ANTI JOIN articles a USING (article_id)",
    }
    assert {k: _one(grown, sql) for k, sql in orphans.items()} == dict.fromkeys(orphans, 0)


def test_stories_agree_with_their_articles(grown):
    wrong = _one(grown, """
        SELECT count(*) FROM stories s JOIN (
            SELECT story_id, count(*) AS n, min(published_at) AS first, max(published_at) AS last
            FROM articles GROUP BY story_id) a USING (story_id)
        WHERE s.article_count <> a.n OR s.first_seen_at <> a.first OR s.last_seen_at <> a.last""")
    assert wrong == 0
    # a story's id is the article_id of its earliest article; copies carry three feeds
    assert _one(grown, "SELECT count(*) FROM stories s ANTI JOIN articles a ON a.article_id = s.story_id") == 0
    assert _one(grown, "SELECT max(article_count) FROM stories") == 3
    assert _one(grown, "SELECT count(*) FROM stories") == _one(grown, "SELECT count(DISTINCT story_id) FROM articles")


def test_dates_spread_back_from_now_and_signatures_cover_the_story_window(grown):
    oldest, newest = grown.execute("SELECT min(published_at), max(published_at) FROM articles").fetchone()
    assert newest < NOW and NOW - oldest > timedelta(days=9)  # 1000 articles at 100 a day
    lo = _one(grown, "SELECT min(article_time) FROM story_signatures")
    assert lo >= NOW - timedelta(days=7)
    in_window = _one(grown, "SELECT count(*) FROM articles WHERE published_at >= TIMESTAMPTZ '2026-05-25 12:00:00+00'")
    assert _one(grown, "SELECT count(*) FROM story_signatures") == in_window
    assert _one(grown, "SELECT min(word_count) FROM articles") > 300  # realistic article lengths


def test_the_bench_runs_end_to_end_and_ends_with_its_json_line(tmp_path):
    """The bench itself (real cycles on loopback feeds, the analysts' reader) at toy sizes: a change to the
    readers' or the cycle's signatures must break this test, not the next person's 1M-article run."""
    out = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "300,600", "--rounds", "1", "--query-repeat", "1",
         "--keep", str(tmp_path / "archive")],
        capture_output=True, text=True, timeout=300, cwd=BENCH.parents[1],
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["sizes"] == [300, 600]
    assert len(result["noop_seconds"]) == len(result["new50_seconds_without_nlp"]) == 2
    assert all(0 < a <= b for a, b in zip(result["new50_seconds_without_nlp_or_delivery"],
                                          result["new50_seconds_without_nlp"], strict=True))
    assert all(len(v) == 2 for v in result["query_seconds"].values()) and result["query_seconds"]
    assert all(d >= live > 0 for d, live in zip(result["disk_bytes"], result["live_bytes"], strict=True))
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
