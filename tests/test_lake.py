"""The analysts' lake: each publication equals the live tables, survives a crash half-way, reads without
newswatch code (plain DuckDB on the month partitions), and retention moves old rows out of the live file
while the analysts' tables and views still see them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.warehouse_rows import add_article, add_entity, add_match, add_mentions, add_quote, ts
from warehouse import lake as lake_mod
from warehouse.keys import KEY_COLUMNS
from warehouse.lake import LakePaths, lake_connection, publish_lake, read_manifest
from warehouse.migrations import migrate
from warehouse.retention import moved_to_cold
from warehouse.trend_tables import refresh_trend_tables

KEYS = {"articles": ["article_id"], "mentions": ["article_id", "entity_id", "start_char"], "quotes": ["quote_id"],
        "topic_matches": ["article_id", "topic"], "stories": ["story_id"], "entities": ["entity_id"],
        "feeds": ["feed_id"], "story_links": ["article_id"]}


def _story(con, sid: str, at, title: str, count: int = 1) -> None:
    con.execute("INSERT INTO stories VALUES (?, ?, ?, ?, ?) ON CONFLICT (story_id) DO UPDATE SET "
                "last_seen_at = excluded.last_seen_at, title = excluded.title, article_count = excluded.article_count",
                [sid, at, at, title, count])


def _cycle(con, n0: int, n: int, month: str) -> None:
    """One cycle's worth of rows: n articles in ``month``, each with a story, a mention, a quote, a match."""
    con.execute("INSERT INTO feeds (feed_id, name, url) VALUES ('f1', 'one', 'https://f.example/') ON CONFLICT DO NOTHING")
    for i in range(n0, n0 + n):
        aid, at = f"a{i:04d}", ts(f"{month}-{1 + i % 27:02d}T10:00:00+00:00")
        add_article(con, aid, at, story=f"s{i // 2:04d}")  # two articles a story: the second updates it
        _story(con, f"s{i // 2:04d}", at, f"story of {aid}", 1 + i % 2)
        con.execute("INSERT INTO story_links (article_id, story_id, method, linked_at) VALUES (?, ?, 'new', ?)",
                    [aid, f"s{i // 2:04d}", at])
        eid = f"e{i % 5}"
        if not con.execute("SELECT 1 FROM entities WHERE entity_id = ?", [eid]).fetchall():
            add_entity(con, eid, f"Name {i % 5}", "ORG")
        add_mentions(con, aid, eid, 2)
        add_quote(con, aid, "Someone", eid)
        add_match(con, aid, "korea" if i % 2 else "trade")
    con.execute("INSERT INTO runs (run_id, started_at, status) VALUES (?, now(), 'ok')", [f"r{n0}"])
    refresh_trend_tables(con)  # as the cycle does in its load transaction


@pytest.fixture
def warehouse(tmp_path: Path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    migrate(con)
    yield con, LakePaths.beside(path)
    con.close()


def _rows(con, table: str) -> list[tuple]:
    keys = ", ".join(KEYS[table])
    return con.execute(f"SELECT {keys} FROM {table} ORDER BY {keys}").fetchall()


def _same_as_live(con, paths: LakePaths) -> None:
    reader = lake_connection(paths)
    try:
        for table in KEYS:
            assert _rows(reader, table) == _rows(con, table), table
        # rows that changed in place show their latest state
        assert (reader.execute("SELECT story_id, title, article_count FROM stories ORDER BY 1").fetchall()
                == con.execute("SELECT story_id, title, article_count FROM stories ORDER BY 1").fetchall())
        # the bookkeeping columns stay in the live file: the load sequence and the lookup keys
        hidden = ", ".join(["lake_seq", *KEY_COLUMNS["articles"]])
        live_cols = [d[0] for d in con.execute(f"SELECT * EXCLUDE ({hidden}) FROM articles LIMIT 0").description]
        assert [d[0] for d in reader.execute("SELECT * FROM articles LIMIT 0").description] == live_cols
    finally:
        reader.close()


def test_each_publication_equals_the_live_tables_and_writes_only_the_new_rows(warehouse):
    con, paths = warehouse
    _cycle(con, 0, 9, "2026-01")
    first = publish_lake(con, paths)
    _same_as_live(con, paths)
    _cycle(con, 9, 6, "2026-02")  # a9 joins s0004, which a8 opened: a story updated in place
    second = publish_lake(con, paths)
    _same_as_live(con, paths)
    assert second.version == first.version + 1
    assert second.rows_written < first.rows_written + 6 * 10  # only the second cycle's rows (and touched stories)
    manifest = read_manifest(paths)
    assert manifest is not None
    months = {Path(f).parts[1] for f in manifest["tables"]["articles"]["files"]}
    assert months == {"month=2026-01", "month=2026-02"}
    nothing = publish_lake(con, paths)  # a no-op cycle adds no file to the append-only tables
    assert manifest["tables"]["articles"]["files"] == read_manifest(paths)["tables"]["articles"]["files"]
    assert nothing.rows_written == 0 and nothing.version == second.version  # and no new version
    _same_as_live(con, paths)


def test_the_warehouse_views_read_the_lake_with_the_live_results(warehouse):
    con, paths = warehouse
    _cycle(con, 0, 12, "2026-03")
    publish_lake(con, paths)
    reader = lake_connection(paths)
    try:
        for sql in ("SELECT * FROM entity_daily ORDER BY ALL", "SELECT * FROM cooccurrence ORDER BY ALL",
                    "SELECT * FROM topic_daily ORDER BY ALL", "SELECT * FROM story_copies ORDER BY ALL",
                    "SELECT * FROM top_speakers ORDER BY ALL", "SELECT * FROM feed_share_daily ORDER BY ALL",
                    "SELECT * FROM spike_scores_at(TIMESTAMPTZ '2026-03-20 00:00:00+00') ORDER BY ALL"):
            assert reader.execute(sql).fetchall() == con.execute(sql).fetchall(), sql
    finally:
        reader.close()


def test_compaction_folds_the_files_and_keeps_the_rows(warehouse, monkeypatch):
    monkeypatch.setattr(lake_mod, "KEEP_SECONDS", 0.0)  # keep only the last two versions
    con, paths = warehouse
    for k in range(4):
        _cycle(con, k * 3, 3, "2026-04")
        publish_lake(con, paths)
    before = read_manifest(paths)
    assert len(before["tables"]["articles"]["files"]) == 4 and len(before["tables"]["stories"]["files"]) == 4
    done = publish_lake(con, paths, compact=True)
    after = read_manifest(paths)
    assert "articles" in done.compacted and len(after["tables"]["articles"]["files"]) == 1
    assert len(after["tables"]["stories"]["files"]) == 1
    _same_as_live(con, paths)
    publish_lake(con, paths)  # the version before compaction is no longer kept: its files go
    left = {str(f.relative_to(paths.lake)) for f in paths.lake.rglob("*.parquet")}
    named = set()
    for v in sorted((paths.lake / "_manifests").glob("v-*.json")):
        for entry in json.loads(v.read_text())["tables"].values():
            named.update(entry["files"])
    assert left == named
    assert len(list((paths.lake / "_manifests").glob("v-*.json"))) == 2


def test_compaction_rewrites_what_arrived_since_the_last_one_not_the_whole_month(warehouse, monkeypatch):
    """Tiered folding: a month's largest file stays while the newer ones together are smaller (they become
    one file), and the whole month is rewritten only once they outgrow it; a month with few files is left
    alone until it is due. The rows stay those of the live tables throughout."""
    monkeypatch.setattr(lake_mod, "MONTH_FILES", 4)
    con, paths = warehouse
    _cycle(con, 0, 300, "2026-04")
    con.execute("UPDATE articles SET text = repeat(md5(article_id), 40)")  # a file much larger than a cycle's
    publish_lake(con, paths)
    big = read_manifest(paths)["tables"]["articles"]["files"]
    assert len(big) == 1
    for k in range(3):
        _cycle(con, 300 + k * 2, 2, "2026-04")
        publish_lake(con, paths)
    assert len(read_manifest(paths)["tables"]["articles"]["files"]) == 4  # not due yet: 4 files, at most 4
    _cycle(con, 306, 2, "2026-04")
    done = publish_lake(con, paths)  # 5 files: due
    files = read_manifest(paths)["tables"]["articles"]["files"]
    assert "articles" in done.compacted and len(files) == 2 and big[0] in files
    _same_as_live(con, paths)
    # Once the newer rows outgrow the largest file, the month becomes one file.
    _cycle(con, 400, 400, "2026-04")
    con.execute("UPDATE articles SET text = repeat(md5(article_id), 80) WHERE article_id >= 'a0400'")
    publish_lake(con, paths, compact=True)
    files = read_manifest(paths)["tables"]["articles"]["files"]
    assert len(files) == 1 and big[0] not in files
    _same_as_live(con, paths)


@pytest.mark.parametrize("share, new_base", [(1e9, False), (0.0, True)])
def test_a_delta_table_folds_small_deltas_into_one_and_keeps_its_base(warehouse, monkeypatch, share, new_base):
    """Deltas well under the base's size are folded into one delta beside the unchanged base; past
    ``DELTA_SHARE`` base and deltas become a new base. Either way the latest row per key is what reads."""
    monkeypatch.setattr(lake_mod, "DELTA_SHARE", share)
    con, paths = warehouse
    _cycle(con, 0, 100, "2026-05")
    publish_lake(con, paths)
    base = read_manifest(paths)["tables"]["stories"]["base"]
    for k in range(3):  # each cycle's first article updates the story the cycle before ended with
        _cycle(con, 101 + k * 2, 2, "2026-05")
        publish_lake(con, paths)
    assert len(read_manifest(paths)["tables"]["stories"]["files"]) == 4
    publish_lake(con, paths, compact=True)
    entry = read_manifest(paths)["tables"]["stories"]
    if new_base:
        assert entry["files"] == [entry["base"]] and entry["base"] != base
    else:
        assert entry["base"] == base and len(entry["files"]) == 2 and base in entry["files"]
    _same_as_live(con, paths)
    _cycle(con, 200, 2, "2026-05")
    publish_lake(con, paths)
    _same_as_live(con, paths)


def test_plain_duckdb_opens_the_current_catalog_and_sees_the_tables_and_views(warehouse):
    con, paths = warehouse
    _cycle(con, 0, 4, "2026-10")
    publish_lake(con, paths)
    plain = duckdb.connect(str(paths.lake / "current.duckdb"), read_only=True)  # no newswatch code
    try:
        assert plain.execute("SELECT count(*) FROM articles").fetchone()[0] == 4
        assert (plain.execute("SELECT * FROM entity_daily ORDER BY ALL").fetchall()
                == con.execute("SELECT * FROM entity_daily ORDER BY ALL").fetchall())
    finally:
        plain.close()


def test_a_held_connection_keeps_reading_its_version_after_newer_publications(warehouse):
    con, paths = warehouse
    _cycle(con, 0, 3, "2026-04")
    publish_lake(con, paths)
    held = lake_connection(paths)
    try:
        for k in range(1, 4):
            _cycle(con, k * 3, 3, "2026-04")
            publish_lake(con, paths)
        assert held.execute("SELECT count(*) FROM runs").fetchone()[0] == 1  # its version, still readable
        assert held.execute("SELECT count(*) FROM articles").fetchone()[0] == 3
    finally:
        held.close()


def test_a_publication_that_dies_half_way_leaves_the_previous_version_readable(warehouse, monkeypatch):
    con, paths = warehouse
    _cycle(con, 0, 6, "2026-05")
    publish_lake(con, paths)
    _cycle(con, 6, 6, "2026-06")

    def killed(*_a, **_k):
        raise KeyboardInterrupt("killed before the manifest switch")

    monkeypatch.setattr(lake_mod, "_write_manifest", killed)
    with pytest.raises(KeyboardInterrupt):
        publish_lake(con, paths)
    monkeypatch.undo()
    reader = lake_connection(paths)
    try:
        assert reader.execute("SELECT count(*) FROM articles").fetchone()[0] == 6  # the whole previous version
        assert reader.execute("SELECT count(*) FROM mentions").fetchone()[0] == 12
    finally:
        reader.close()
    assert any("2026-06" in str(f) for f in paths.lake.rglob("*.parquet"))  # the dead publication's files...
    publish_lake(con, paths)
    files = set(read_manifest(paths)["tables"]["articles"]["files"])
    assert all(str(f.relative_to(paths.lake)) in files for f in (paths.lake / "articles").rglob("*.parquet"))  # ...gone
    _same_as_live(con, paths)


def test_the_cold_layout_reads_with_plain_duckdb_by_month(warehouse):
    con, paths = warehouse
    _cycle(con, 0, 5, "2025-11")
    publish_lake(con, paths)
    _cycle(con, 5, 7, "2025-12")
    publish_lake(con, paths)
    plain = duckdb.connect()  # no newswatch code: the documented glob
    try:
        got = plain.execute(
            f"SELECT month, count(*) FROM read_parquet('{paths.lake}/articles/**/*.parquet', hive_partitioning = true) "
            "GROUP BY 1 ORDER BY 1").fetchall()
        joined = plain.execute(
            f"SELECT count(*) FROM read_parquet('{paths.lake}/mentions/**/*.parquet', hive_partitioning = true) m "
            f"JOIN read_parquet('{paths.lake}/articles/**/*.parquet', hive_partitioning = true) a USING (article_id) "
            "WHERE a.month = '2025-12'").fetchone()[0]
    finally:
        plain.close()
    assert got == [("2025-11", 5), ("2025-12", 7)]
    assert joined == con.execute("SELECT count(*) FROM mentions JOIN articles USING (article_id) "
                                 "WHERE published_at >= '2025-12-01'").fetchone()[0]


def test_retention_moves_old_rows_out_of_the_live_file_and_the_lake_still_has_them(warehouse):
    con, paths = warehouse
    _cycle(con, 0, 6, "2025-01")  # old
    _cycle(con, 6, 4, "2026-07")  # hot
    entity_daily = con.execute("SELECT * FROM entity_daily ORDER BY ALL").fetchall()
    before = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("mentions", "quotes", "topic_matches")}
    version = publish_lake(con, paths).version
    moved = moved_to_cold(con, version, paths, hot_days=90, now=ts("2026-07-28T00:00:00+00:00"))
    assert moved == 6 * 2 + 6 + 6 + 6 + 6  # mentions, quotes, matches, links, and the 6 blanked texts
    assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] == 4 * 2
    assert con.execute("SELECT count(*) FROM articles").fetchone()[0] == 10  # the keys stay for dedupe
    assert con.execute("SELECT count(*) FROM articles WHERE text = ''").fetchone()[0] == 6
    publish_lake(con, paths)  # the next cycle's publication does not lose what left the live file
    reader = lake_connection(paths)
    try:
        assert {t: reader.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in before} == before
        assert reader.execute("SELECT count(*) FROM articles WHERE text = ''").fetchone()[0] == 0
        assert reader.execute("SELECT * FROM entity_daily ORDER BY ALL").fetchall() == entity_daily  # hot + cold
    finally:
        reader.close()


def test_rows_loaded_after_the_publication_are_not_moved(warehouse):
    con, paths = warehouse
    _cycle(con, 0, 3, "2025-01")
    version = publish_lake(con, paths).version
    _cycle(con, 3, 3, "2025-02")  # old too, but not published yet
    moved_to_cold(con, version, paths, hot_days=30, now=ts("2026-01-01T00:00:00+00:00"))
    assert con.execute("SELECT count(*) FROM mentions").fetchone()[0] == 3 * 2


def test_the_sealed_reader_reads_only_the_lake(warehouse, tmp_path):
    con, paths = warehouse
    _cycle(con, 0, 2, "2026-08")
    publish_lake(con, paths)
    other = tmp_path / "other.csv"
    other.write_text("a\n1\n")
    reader = lake_connection(paths, sealed=True)
    try:
        with pytest.raises(duckdb.PermissionException):
            reader.execute(f"SELECT * FROM read_csv('{other}')").fetchall()
        with pytest.raises(duckdb.Error):
            reader.execute("SET enable_external_access = true")
        target = paths.lake / read_manifest(paths)["tables"]["feeds"]["files"][0]
        with pytest.raises(duckdb.PermissionException):
            lake_mod.refused_statement(reader, f"COPY (SELECT 1) TO '{target}'")
    finally:
        reader.close()


def test_the_first_publication_of_an_empty_warehouse_has_every_table(warehouse):
    con, paths = warehouse
    publish_lake(con, paths)
    reader = lake_connection(paths)
    try:
        for table in ("articles", "stories", "entities", "feeds", "runs", "alerts", "quarantine"):
            assert reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0
        assert reader.execute("SELECT count(*) FROM entity_daily").fetchone()[0] == 0
    finally:
        reader.close()


def test_a_week_of_cooccurrence_reads_through_the_lake(warehouse):
    con, paths = warehouse
    _cycle(con, 0, 20, "2026-09")
    publish_lake(con, paths)
    since = ts("2026-09-01T00:00:00+00:00").date()
    reader = lake_connection(paths)
    try:
        sql = "SELECT count(*) FROM cooccurrence WHERE day BETWEEN ? AND ?"
        args = [since, since + timedelta(days=7)]
        assert reader.execute(sql, args).fetchone() == con.execute(sql, args).fetchone()
    finally:
        reader.close()


def test_newswatch_sql_reads_a_lake_catalog_given_with_db_and_refuses_to_write(warehouse):
    import subprocess
    import sys

    con, paths = warehouse
    _cycle(con, 0, 3, "2026-11")
    publish_lake(con, paths)
    current = str(paths.lake / "current.duckdb")
    ok = subprocess.run([sys.executable, "-m", "flows.cli", "sql", "--db", current, "SELECT count(*) AS n FROM articles",
                         "--format", "csv"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.split() == ["n", "3"]
    target = paths.lake / read_manifest(paths)["tables"]["runs"]["files"][0]
    before = target.read_bytes()
    bad = subprocess.run([sys.executable, "-m", "flows.cli", "sql", "--db", current, f"COPY (SELECT 1) TO '{target}'"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 3 and "Traceback" not in bad.stderr and target.read_bytes() == before


def test_finishing_a_cycle_publishes_the_lake_and_moves_old_rows_with_hot_days(tmp_path):
    from datetime import UTC, datetime

    from pipeline.cycle import CycleSummary, finish_cycle
    from pipeline.settings import settings_from_dict

    path = tmp_path / "wh.duckdb"
    settings = settings_from_dict({"warehouse": {"path": str(path), "hot_days": 30}, "feeds": []})
    con = duckdb.connect(str(path))
    migrate(con)
    _cycle(con, 0, 4, "2024-01")  # far older than 30 days
    now = datetime.now(UTC)
    add_article(con, "fresh", now)
    add_mentions(con, "fresh", "e0", 1)
    con.execute("INSERT INTO runs (run_id, started_at, status) VALUES ('rx', now(), 'running')")
    con.close()
    finish_cycle(settings, "rx", CycleSummary("rx", "completed", 0, 0, 0, 1, 0, 0, 0, 0.1))
    paths = LakePaths.beside(path)
    live = duckdb.connect(str(path), read_only=True)
    try:
        assert live.execute("SELECT article_id FROM mentions").fetchall() == [("fresh",)]  # the old ones moved
    finally:
        live.close()
    reader = lake_connection(paths)
    try:
        assert reader.execute("SELECT count(*) FROM mentions").fetchone()[0] == 4 * 2 + 1
        assert reader.execute("SELECT status FROM runs WHERE run_id = 'rx'").fetchone()[0] == "completed"
    finally:
        reader.close()
    assert not (tmp_path / "wh-snapshot").exists()  # the full copy is opt-in


def test_the_web_ui_reader_takes_one_lake_version_per_request_and_reads_only_the_lake(warehouse, tmp_path):
    from webui.snapshots import SnapshotReader

    con, paths = warehouse
    _cycle(con, 0, 2, "2026-12")
    publish_lake(con, paths)
    reader = SnapshotReader(paths.lake / "current.duckdb", live=paths.warehouse)
    try:
        with reader.cursor() as (cur, first):
            assert cur.execute("SELECT count(*) FROM articles").fetchone()[0] == 2
            _cycle(con, 2, 3, "2026-12")
            publish_lake(con, paths)  # a publication in the middle of a request changes nothing for it
            assert cur.execute("SELECT count(*) FROM articles").fetchone()[0] == 2
            with pytest.raises(duckdb.PermissionException):
                cur.execute(f"SELECT * FROM read_csv('{tmp_path / 'x.csv'}')").fetchall()
        with reader.cursor() as (cur, second):
            assert cur.execute("SELECT count(*) FROM articles").fetchone()[0] == 5
        assert second != first
    finally:
        reader.close()


def test_rows_changed_in_place_are_published_as_deltas_with_their_latest_state(warehouse):
    """runs, alerts and quarantine: a publication writes only the rows inserted or updated since the last one,
    and the reader shows each row's latest state with the live columns."""
    con, paths = warehouse
    for k in range(3):
        _cycle(con, k * 4, 4, "2026-05")
    publish_lake(con, paths)
    con.execute("UPDATE runs SET status = 'completed', lake_seq = nextval('lake_seq') WHERE run_id = 'r4'")
    con.execute("INSERT INTO quarantine (stage, item_key, url, feed_id, reason, message, attempts, first_seen_at, "
                "last_seen_at) VALUES ('fetch', 'k1', 'u', 'f1', 'http_404', 'gone', 1, now(), now())")
    publication = publish_lake(con, paths)
    assert publication.rows_written == 2  # the updated run and the new quarantine row, nothing else
    reader = lake_connection(paths)
    try:
        for table, key in (("runs", "run_id"), ("quarantine", "stage, item_key")):
            live = con.execute(f"SELECT * EXCLUDE (lake_seq) FROM {table} ORDER BY {key}").fetchall()
            assert reader.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall() == live, table
        assert reader.execute("SELECT status FROM runs WHERE run_id = 'r4'").fetchall() == [("completed",)]
    finally:
        reader.close()
    assert publish_lake(con, paths).files_written == 0  # nothing changed: nothing written


def test_a_delta_table_reads_its_base_and_folds_only_the_deltas(warehouse):
    """The file of a delta table's first publication (and of each compaction) holds one row per key: the
    reader takes from it the keys no delta has, so stories updated after it show once, in their latest state."""
    con, paths = warehouse
    _cycle(con, 0, 5, "2026-06")
    publish_lake(con, paths)
    first = read_manifest(paths)["tables"]
    assert first["stories"]["base"] == first["stories"]["files"][0]
    assert first["runs"]["base"] == first["runs"]["files"][0]
    for k in range(1, 4):  # each cycle's first article joins (updates) the story the cycle before ended with
        _cycle(con, k * 5, 5, "2026-06")
        con.execute("UPDATE runs SET status = 'completed', lake_seq = nextval('lake_seq') WHERE run_id = 'r0'")
        publish_lake(con, paths)
        _same_as_live(con, paths)
    tables = read_manifest(paths)["tables"]
    assert tables["stories"]["base"] == first["stories"]["base"] and len(tables["stories"]["files"]) == 4
    reader = lake_connection(paths)
    try:
        assert (reader.execute("SELECT * FROM runs ORDER BY run_id").fetchall()
                == con.execute("SELECT * EXCLUDE (lake_seq) FROM runs ORDER BY run_id").fetchall())
        live_cols = [d[0] for d in con.execute("SELECT * FROM stories LIMIT 0").description]
        assert [d[0] for d in reader.execute("SELECT * FROM stories LIMIT 0").description] == live_cols
    finally:
        reader.close()
    publish_lake(con, paths, compact=True)
    folded = read_manifest(paths)["tables"]["stories"]
    assert folded["files"] == [folded["base"]] and folded["base"] != first["stories"]["base"]
    _cycle(con, 30, 3, "2026-07")
    publish_lake(con, paths)
    assert read_manifest(paths)["tables"]["stories"]["base"] == folded["base"]
    _same_as_live(con, paths)


def test_a_delta_table_published_without_a_base_still_keeps_the_latest_row(warehouse):
    """A lake published before bases were recorded: every file is folded, as it was then."""
    con, paths = warehouse
    for k in range(3):
        _cycle(con, k * 4, 4, "2026-06")
        publish_lake(con, paths)
    manifest = read_manifest(paths)
    for entry in manifest["tables"].values():
        entry.pop("base", None)
    reader = lake_connection(paths, manifest)
    try:
        assert (reader.execute("SELECT story_id, title, article_count FROM stories ORDER BY 1").fetchall()
                == con.execute("SELECT story_id, title, article_count FROM stories ORDER BY 1").fetchall())
    finally:
        reader.close()


def test_a_later_feed_item_naming_an_old_article_is_published_in_the_article_month(warehouse):
    """The month of a child row is its article's, looked up by key for a cycle's few rows (and by one join
    for a large delta): a feed item carrying a January article in March belongs to January's partition."""
    con, paths = warehouse
    _cycle(con, 0, 4, "2026-01")
    _cycle(con, 4, 2, "2026-03")
    items = [("f1", f"k{i}", f"a{i:04d}", "loaded", ts(f"2026-0{1 if i < 4 else 3}-2{i}T10:00:00+00:00")) for i in range(6)]
    items.append(("f2", "late", "a0001", "duplicate", ts("2026-03-28T10:00:00+00:00")))
    items.append(("f2", "quarantined", None, "quarantined", ts("2026-03-28T11:00:00+00:00")))
    for feed, key, aid, status, at in items:
        con.execute("INSERT INTO feed_items (feed_id, item_key, article_id, status, first_seen_at, item_hash, article_key) "
                    "VALUES (?, ?, ?, ?, ?, md5_number_lower(?), md5_number_lower(?))", [feed, key, aid, status, at, key, aid])
    publish_lake(con, paths)
    before = set(read_manifest(paths)["tables"]["feed_items"]["files"])
    con.execute("INSERT INTO feed_items (feed_id, item_key, article_id, status, first_seen_at, item_hash, article_key) "
                "VALUES ('f3', 'later', 'a0002', 'duplicate', ?, md5_number_lower('later'), md5_number_lower('a0002'))", [ts("2026-03-29T10:00:00+00:00")])
    publish_lake(con, paths)
    new = set(read_manifest(paths)["tables"]["feed_items"]["files"]) - before
    assert [Path(f).parts[1] for f in new] == ["month=2026-01"]
    cold = duckdb.connect()
    glob = str(paths.lake / "feed_items" / "*" / "*.parquet")
    months = dict(cold.execute(f"SELECT item_key, month FROM read_parquet('{glob}', hive_partitioning = true)").fetchall())
    assert months["late"] == months["later"] == months["k1"] == "2026-01"
    assert months["k5"] == "2026-03" and months["quarantined"] == "2026-03"  # no article: the item's own time
    assert "item_hash" not in [d[0] for d in cold.execute(f"SELECT * FROM read_parquet('{glob}') LIMIT 0").description]
