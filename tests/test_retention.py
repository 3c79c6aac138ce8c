"""Retention blanks old article bodies and nothing else; compaction gives the freed space back."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from demosite.corpus import synthetic_articles, synthetic_paragraphs
from warehouse.frames import insert_rows
from warehouse.migrations import migrate
from warehouse.retention import compact_in_place, compacted_copy, file_space, prune_texts

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
SCHEMA_OBJECTS = (
    "SELECT 'table', table_name FROM duckdb_tables() WHERE NOT internal UNION ALL "
    "SELECT 'view', view_name FROM duckdb_views() WHERE NOT internal UNION ALL "
    "SELECT function_type, function_name FROM duckdb_functions() WHERE NOT internal AND function_type LIKE '%macro' "
    "UNION ALL SELECT constraint_type, table_name || ':' || array_to_string(constraint_column_names, ',') "
    "FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY ALL"
)
ARTICLE_COLS = ["article_id", "url", "canonical_url", "feed_id", "title", "author", "published_at",
                "published_at_source", "fetched_at", "language", "text", "word_count", "content_hash", "story_id",
                "run_id"]
_TEXTS = ["\n\n".join(synthetic_paragraphs(a)) for a in synthetic_articles(40, seed=5)]


def _articles(start: int, n: int, published: datetime) -> list[tuple]:
    rows = []
    for i in range(start, start + n):
        text = f"{_TEXTS[i % len(_TEXTS)]} ({i})"
        aid = hashlib.sha1(str(i).encode()).hexdigest()[:16]
        rows.append((aid, f"http://news.test/{i}", f"http://news.test/{i}", "feed1", f"Title {i}", "A. Writer",
                     published, "feed", published, "en", text, len(text.split()), aid, aid, "run1"))
    return rows


def _load(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    insert_rows(con, "articles", ARTICLE_COLS, rows)
    insert_rows(con, "stories", ["story_id", "first_seen_at", "last_seen_at", "title", "article_count"],
                [(r[0], r[6], r[6], r[4], 1) for r in rows])
    insert_rows(con, "mentions", ["article_id", "entity_id", "surface", "start_char", "end_char"],
                [(r[0], "person:a writer", "A. Writer", 0, 9) for r in rows])
    insert_rows(con, "quotes", ["quote_id", "article_id", "text", "speaker", "speaker_entity_id", "cue", "start_char",
                                "end_char"], [(r[0] + "q", r[0], "We are ready", "A. Writer", None, "said", 5, 17)
                                             for r in rows])
    insert_rows(con, "topic_matches", ["article_id", "topic", "matched_terms", "matched_at"],
                [(r[0], "t", ["ready"], r[6]) for r in rows])


@pytest.fixture
def warehouse(mem_db):
    _load(mem_db, _articles(0, 5, NOW - timedelta(days=40)) + _articles(5, 5, NOW - timedelta(days=2)))
    return mem_db


def _snapshot(con: duckdb.DuckDBPyConnection, table: str, drop: str | None = None) -> list[tuple]:
    cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] != drop]
    return con.execute(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL").fetchall()


def test_old_article_texts_are_blanked_and_everything_else_is_kept(warehouse):
    before = {t: _snapshot(warehouse, t) for t in ("stories", "mentions", "quotes", "topic_matches")}
    articles_before = _snapshot(warehouse, "articles", drop="text")
    assert prune_texts(warehouse, keep_days=30, now=NOW) == 5
    texts = dict(warehouse.execute("SELECT article_id, text FROM articles").fetchall())
    old = {r[0] for r in _articles(0, 5, NOW)}
    assert all(texts[a] == "" for a in old)
    assert all(len(t) > 1000 for a, t in texts.items() if a not in old)
    assert _snapshot(warehouse, "articles", drop="text") == articles_before  # word_count, hash, story... kept
    assert {t: _snapshot(warehouse, t) for t in before} == before


def test_pruning_is_idempotent_and_off_by_default(warehouse):
    assert prune_texts(warehouse, keep_days=None, now=NOW) == 0
    assert warehouse.execute("SELECT count(*) FROM articles WHERE text = ''").fetchone()[0] == 0
    assert prune_texts(warehouse, keep_days=30, now=NOW) == 5
    assert prune_texts(warehouse, keep_days=30, now=NOW) == 0
    assert prune_texts(warehouse, keep_days=1, now=NOW) == 5  # a shorter retention reaches the newer ones


def test_pruning_inside_a_rolled_back_transaction_changes_nothing(warehouse):
    warehouse.execute("BEGIN TRANSACTION")
    assert prune_texts(warehouse, keep_days=30, now=NOW) == 5
    warehouse.execute("ROLLBACK")
    assert warehouse.execute("SELECT count(*) FROM articles WHERE text = ''").fetchone()[0] == 0


def _file_warehouse(path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    migrate(con)
    return con


def test_with_retention_the_file_stops_growing_and_a_compacted_copy_is_smaller(tmp_path):
    path = tmp_path / "wh.duckdb"
    con = _file_warehouse(path)
    per_day, days, keep = 300, 20, 10
    sizes, used = [], []
    for d in range(days + 10):
        day = NOW - timedelta(days=days - d)
        con.execute("BEGIN TRANSACTION")
        insert_rows(con, "articles", ARTICLE_COLS, _articles(d * per_day, per_day, day))
        prune_texts(con, keep_days=keep, now=day)
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        sizes.append(os.path.getsize(path))
        used.append(file_space(con).used_blocks)
    con.close()
    # Measured (300 articles of ~4 KB a day, 10 days kept): the file grows for `keep` days, jumps once
    # when the first bodies are blanked (the update writes new segments before the old blocks are
    # freed), then stays flat while freed blocks are reused: 16.5 -> 18.4 MB over the next 19 days,
    # with 2.7x as many articles stored. Without retention it would keep growing ~1.5 MB a day.
    after_first_prune = sizes[keep + 1]
    assert sizes[-1] <= after_first_prune * 1.25, [s // 1000 for s in sizes]
    assert max(used[keep + 1:]) - min(used[keep + 1:]) <= 0.25 * min(used[keep + 1:]), used

    copy = compacted_copy(path, tmp_path / "compact.duckdb")
    assert os.path.getsize(copy) < os.path.getsize(path)
    c = duckdb.connect(str(copy), read_only=True)
    try:
        assert c.execute("SELECT count(*) FROM articles").fetchone()[0] == per_day * (days + 10)
        assert c.execute("SELECT count(*) FROM _migrations").fetchone()[0] >= 1
        views = {r[0] for r in c.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        for v in views:  # every view still resolves in the copy
            c.execute(f"SELECT * FROM {v} LIMIT 0").fetchall()
        schema = c.execute(SCHEMA_OBJECTS).fetchall()
    finally:
        c.close()
    o = duckdb.connect(str(path), read_only=True)
    assert schema == o.execute(SCHEMA_OBJECTS).fetchall()  # tables, views, macros and keys all survive
    o.close()


def test_compact_in_place_swaps_in_the_smaller_file_and_keeps_everything(tmp_path):
    path = tmp_path / "wh.duckdb"
    con = _file_warehouse(path)
    con.execute("BEGIN TRANSACTION")
    insert_rows(con, "articles", ARTICLE_COLS, _articles(0, 600, NOW - timedelta(days=40)))
    con.execute("COMMIT")
    con.execute("CHECKPOINT")
    prune_texts(con, keep_days=30, now=NOW)
    con.close()
    before, after = compact_in_place(path)
    assert after < before
    c = duckdb.connect(str(path))
    assert c.execute("SELECT count(*), sum(word_count) > 0 FROM articles").fetchone() == (600, True)
    assert c.execute("SELECT count(*) FROM articles WHERE text = ''").fetchone()[0] == 600
    c.execute("INSERT INTO runs (run_id, started_at, status) VALUES ('r', now(), 'running')")  # still writable
    assert migrate(c) == []  # the copy is a current warehouse
    c.close()
    assert not list(tmp_path.glob(".*compact*"))


def test_serve_start_up_compacts_a_mostly_free_warehouse_and_publishes_its_lake(tmp_path, monkeypatch):
    import warehouse.retention as retention
    from flows.serve import _prepare_warehouse
    from pipeline.settings import settings_from_dict
    from warehouse.lake import LakePaths, lake_connection

    monkeypatch.setattr(retention, "COMPACT_MIN_BYTES", 0)  # the real floor (64 MB) is too big for a unit test
    settings = settings_from_dict({"warehouse": {"path": str(tmp_path / "wh.duckdb")}, "feeds": []})
    con = _file_warehouse(settings.warehouse.path)
    # enough text that the file is mostly free once it is blanked (the schema's own blocks are a fixed share)
    insert_rows(con, "articles", ARTICLE_COLS, _articles(0, 2000, NOW - timedelta(days=40)))
    con.execute("CHECKPOINT")
    prune_texts(con, keep_days=30, now=NOW)
    con.close()
    before = os.path.getsize(settings.warehouse.path)
    _prepare_warehouse(settings)
    assert os.path.getsize(settings.warehouse.path) < before
    c = lake_connection(LakePaths.beside(settings.warehouse.path))
    assert c.execute("SELECT count(*) FROM articles").fetchone()[0] == 2000
    c.close()
    _prepare_warehouse(settings)  # nothing left to give back: left alone
