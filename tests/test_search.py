"""Full-text search, share views, export and the sealed ``sql``: on a real DuckDB file built by ``migrate()``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from flows.cli import main
from transform.topics import compiled_query, matched_terms
from warehouse.migrations import migrate
from warehouse.retention import prune_texts
from warehouse.search_index import read_position, search_index_path, updated_search_index
from warehouse.trend_tables import refresh_trend_tables

NOW = datetime.now(UTC).replace(microsecond=0)

# (article_id, story_id, feed_id, days ago, title, text): hand-written near misses for every rule.
ARTICLES = [
    ("a01", "s01", "f1", 1, "Kim Jong Un meets envoys", "Kim Jong Un met envoys in Pyongyang for nuclear talks."),
    ("a02", "s01", "f2", 1, "North Korean leader meets envoys", "Kim Jong-un met envoys; the talks were long."),
    ("a03", "s03", "f1", 2, "Jong, Un and others", "A list: Kim, Jong, Un. No leader here at all, only names."),
    ("a04", "s04", "f2", 2, "Summit in Zürich", "The North Korea summit opened in Zürich with talking points."),
    ("a05", "s05", "f1", 3, "Sports roundup", "North Korea won the football match; sports fans cheered."),
    ("a06", "s06", "f2", 3, "Transport strike", "Transport workers in Seoul walked out; no summit planned."),
    ("a07", "s07", "f1", 4, "Kimberly's summit recipes", "Kimberly shared summit cake recipes, North Koreans absent."),
    ("a08", "s08", "f2", 5, "Pokémon fans", "Pokemon and Pokémon fans met at a summit of collectors."),
    ("a09", "s09", "f1", 6, "Talks resume", "Talks between North Korea and the South resumed after sport events."),
    ("a10", "s10", "f2", 7, "Weather", "Rain is expected in the north; Korea's forecast is mild."),
    ("a11", "s04", "f1", 2, "Zurich summit, day two", "Day two of the North Korea summit in Zurich brought talks."),
    ("a12", "s12", "f1", 40, "Old summit", "An old North Korea summit article, long before retention."),
]
QUOTES = [("a04", "Moon Jae-in", "We will keep talking"), ("a09", "Jane Roe", "Talks matter")]


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "wh" / "newswatch.duckdb"
    path.parent.mkdir()
    con = duckdb.connect(str(path))
    migrate(con)
    con.execute("INSERT INTO feeds (feed_id, name, url) VALUES ('f1', 'Wire', 'http://127.0.0.1/a'), "
                "('f2', 'Daily', 'http://127.0.0.1/b')")
    for aid, sid, feed, ago, title, text in ARTICLES:
        _insert(con, aid, sid, feed, NOW - timedelta(days=ago, hours=1), title, text, "20260101T000000-aaaaaaaa")
    for i, (aid, speaker, text) in enumerate(QUOTES):
        con.execute("INSERT INTO quotes (quote_id, article_id, text, speaker, speaker_entity_id, cue, start_char, end_char, article_key) "
                    "VALUES (?, ?, ?, ?, NULL, 'said', 0, ?, md5_number_lower(?))", [f"q{i}", aid, text, speaker, len(text), aid])
    con.execute("INSERT INTO topic_matches (article_id, topic, matched_terms, matched_at, article_key) SELECT a, 'korea', ['North Korea'], "
                "now(), md5_number_lower(a) FROM unnest(['a04', 'a11', 'a09']) t(a)")
    refresh_trend_tables(con)  # as the cycle does after loading
    update = updated_search_index(con, path)
    assert update.rebuilt and update.added == len(ARTICLES)
    con.close()
    return path


def _insert(con, aid, sid, feed, published, title, text, run_id):
    con.execute(
        "INSERT INTO articles (article_id, url, canonical_url, feed_id, title, published_at, published_at_source, "
        "fetched_at, language, text, word_count, content_hash, story_id, run_id, article_key, story_key) "
        "VALUES (?, ?, ?, ?, ?, ?, 'feed', ?, 'en', ?, ?, ?, ?, ?, md5_number_lower(?), md5_number_lower(?))",
        [aid, f"http://127.0.0.1/{aid}", f"http://127.0.0.1/{aid}", feed, title, published, published, text,
         len(text.split()), f"h-{aid}", sid, run_id, aid, sid])


def _search(capsys, path, *args):
    code = main(["search", *args, "--db", str(path), "--format", "json", "--limit", "100"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def _expected(path, query):
    q = compiled_query(query)
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute("SELECT article_id, title, text FROM articles WHERE text <> ''").fetchall()
    finally:
        con.close()
    return {aid for aid, title, text in rows if matched_terms(q, title, text) is not None}


@pytest.mark.parametrize("query", [
    '"Kim Jong Un"',                      # a phrase: "Jong-un" matches, "Jong, Un" does not
    'summit AND talk*',                   # AND with a wildcard
    'Zurich OR Pokemon OR "Kim Jong Un"',  # OR, accent-insensitive
    '"North Korea" NOT sport*',           # NOT excludes, "transport" is not "sport*"
    '(summit OR talks) -"North Korea"',
    'korea',                              # word boundaries: Korea's yes, Koreans/Korean no
])
def test_search_returns_exactly_the_articles_the_topic_matcher_matches(warehouse, capsys, query):
    hits = _search(capsys, warehouse, query)
    found = {h["article_id"] for h in hits} | {c for h in hits for c in h["copies"]}
    assert found == _expected(warehouse, query)
    assert len({h["story_id"] for h in hits}) == len(hits)  # one hit per story
    for h in hits:
        assert {"article_id", "story_id", "url", "title", "published_at", "feed", "score", "snippet", "copies"} <= set(h)
        assert "**" in h["snippet"]


def test_copies_of_one_story_are_listed_under_its_best_hit(warehouse, capsys):
    hits = _search(capsys, warehouse, '"Kim Jong Un"')
    assert len(hits) == 1 and {hits[0]["article_id"], *hits[0]["copies"]} == {"a01", "a02"}


def test_filters_narrow_the_hits(warehouse, capsys):
    assert {h["article_id"] for h in _search(capsys, warehouse, "summit", "--feed", "Daily")} == {"a04", "a06", "a08"}
    recent = _search(capsys, warehouse, "summit", "--days", "3")  # a06 is 3 days and an hour old
    assert [(h["story_id"], {h["article_id"], *h["copies"]}) for h in recent] == [("s04", {"a04", "a11"})]
    quoted = _search(capsys, warehouse, "talk*", "--speaker", "jane")
    assert [h["article_id"] for h in quoted] == ["a09"]
    assert quoted[0]["quotes"] == [{"speaker": "Jane Roe", "text": "Talks matter"}]
    assert {h["story_id"] for h in _search(capsys, warehouse, "talk*", "--topic", "korea")} == {"s04", "s09"}


def test_date_sort_lists_newest_first(warehouse, capsys):
    hits = _search(capsys, warehouse, "summit", "--sort", "date")
    dates = [h["published_at"] for h in hits]
    assert dates == sorted(dates, reverse=True) and len(hits) == 5  # s04, s06, s07, s08, s12
    assert all(h["score"] > 0 for h in hits)


def test_a_bad_query_is_a_message_pointing_at_the_position(warehouse, capsys):
    code = main(["search", "summit AND (talks", "--db", str(warehouse)])
    err = capsys.readouterr().err
    assert code == 2
    assert 'unclosed "(" at position 11' in err and "\n             ^" in err


def test_retention_removes_blanked_texts_from_the_index(warehouse, capsys):
    assert "a12" in {h["article_id"] for h in _search(capsys, warehouse, '"old North Korea summit"')}
    con = duckdb.connect(str(warehouse))
    assert prune_texts(con, keep_days=30, now=NOW) == 1
    update = updated_search_index(con, warehouse)
    con.close()
    assert update.removed == 1 and not update.rebuilt
    assert _search(capsys, warehouse, '"old North Korea summit"') == []


def test_an_index_behind_the_warehouse_is_reported_then_caught_up(warehouse, capsys):
    # A crash between the warehouse's commit and the index's: the article is in the warehouse only.
    con = duckdb.connect(str(warehouse))
    _insert(con, "a13", "s13", "f1", NOW, "Late summit news", "A late summit article.", "20260102T000000-bbbbbbbb")
    con.close()
    assert main(["search", "late", "--db", str(warehouse), "--format", "json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == [] and "not caught up with 1 articles" in out.err
    con = duckdb.connect(str(warehouse))
    update = updated_search_index(con, warehouse)
    con.close()
    assert (update.added, update.rebuilt) == (1, False)
    assert read_position(search_index_path(warehouse)).last_run_id == "20260102T000000-bbbbbbbb"
    assert [h["article_id"] for h in _search(capsys, warehouse, "late")] == ["a13"]


def test_a_damaged_index_is_rebuilt_from_articles(warehouse, capsys):
    folder = search_index_path(warehouse).resolve()
    (folder / "meta.json").write_text("not json")
    con = duckdb.connect(str(warehouse))
    update = updated_search_index(con, warehouse)
    con.close()
    assert update.rebuilt and update.added == len(ARTICLES)
    assert not folder.exists()  # the damaged folder is gone, the link points at the new one
    assert {h["article_id"] for h in _search(capsys, warehouse, "pokemon")} == {"a08"}


def test_rebuild_on_demand(warehouse, capsys):
    assert main(["search", "--rebuild", "--db", str(warehouse)]) == 0
    assert f"rebuilt: {len(ARTICLES)} articles" in capsys.readouterr().out


def test_share_views_hold_story_shares_of_the_day(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("SELECT topic, day, stories, all_stories, share FROM topic_share_daily ORDER BY day").fetchall()
    feeds = con.execute("SELECT feed, day, stories, all_stories, share FROM feed_share_daily").fetchall()
    entity_cols = [r[0] for r in con.execute("DESCRIBE entity_daily").fetchall()]
    con.close()
    assert rows and all(0 <= r[4] <= 1 for r in rows)
    # Two days ago: stories s03, s04 (two copies: a04, a11); korea matched s04 -> 1 of 2.
    two_days_ago = (NOW - timedelta(days=2, hours=1)).astimezone(UTC).date()
    assert ("korea", two_days_ago, 1, 2, 0.5) in rows
    assert all(0 <= r[4] <= 1 for r in feeds)
    assert ("Wire", two_days_ago, 2, 2, 1.0) in feeds and ("Daily", two_days_ago, 1, 2, 0.5) in feeds
    assert entity_cols[-2:] == ["all_stories", "story_share"] and "share" in entity_cols


def test_export_topic_daily_to_parquet_reads_back_the_same_rows(warehouse, tmp_path, capsys):
    out = tmp_path / "topic_daily.parquet"
    assert main(["export", "topic_daily", "--format", "parquet", "--out", str(out), "--db", str(warehouse)]) == 0
    assert "rows to" in capsys.readouterr().out
    con = duckdb.connect(str(warehouse), read_only=True)
    want = con.execute("SELECT * FROM topic_daily ORDER BY ALL").fetchall()
    types = [r[1] for r in con.execute("DESCRIBE topic_daily").fetchall()]
    con.close()
    back = duckdb.connect()
    assert back.execute(f"SELECT * FROM '{out}' ORDER BY ALL").fetchall() == want
    assert [r[1] for r in back.execute(f"DESCRIBE SELECT * FROM '{out}'").fetchall()] == types
    codec = back.execute(f"SELECT DISTINCT compression FROM parquet_metadata('{out}')").fetchall()
    assert codec == [("ZSTD",)]


def test_export_of_a_query_to_csv_and_json(warehouse, tmp_path, capsys):
    q = "SELECT article_id, published_at FROM articles WHERE feed_id = 'f2' ORDER BY article_id"
    assert main(["export", q, "--out", str(tmp_path / "a.csv"), "--db", str(warehouse)]) == 0
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == "article_id,published_at"
    assert main(["export", q, "--format", "json", "--out", str(tmp_path / "a.json"), "--db", str(warehouse)]) == 0
    assert [r["article_id"] for r in json.loads((tmp_path / "a.json").read_text())] == ["a02", "a04", "a06", "a08", "a10"]
    assert main(["export", "no_such_view", "--out", str(tmp_path / "x.parquet"), "--db", str(warehouse)]) == 3
    assert "no table or view" in capsys.readouterr().err


@pytest.mark.parametrize("sql", [
    "COPY articles TO '{tmp}/leak.csv'",
    "ATTACH '{tmp}/other.duckdb'",
    "INSTALL fts",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SET enable_external_access = true",
])
def test_sql_is_read_only_in_fact_and_points_at_export(warehouse, tmp_path, capsys, sql):
    code = main(["sql", sql.format(tmp=tmp_path), "--db", str(warehouse)])
    err = capsys.readouterr().err
    assert code == 3
    assert "read-only" in err and "newswatch export" in err
    assert not (tmp_path / "leak.csv").exists() and not (tmp_path / "other.duckdb").exists()


def test_trends_share_charts_the_story_share_of_the_day(warehouse, tmp_path, capsys):
    from warehouse.trends import topic_series

    con = duckdb.connect(str(warehouse), read_only=True)
    series = topic_series(con, "korea", 10, share=True)
    con.close()
    two_days_ago = (NOW - timedelta(days=2, hours=1)).astimezone(UTC).date()
    assert series.measure == "share"
    assert [d.story_share for d in series.days if d.day == two_days_ago] == [0.5]
    assert main(["trends", "--topic", "korea", "--days", "10", "--share", "--out", str(tmp_path), "--db", str(warehouse)]) == 0
    page = (tmp_path / "trend-topic-korea.html").read_text()
    assert "share of all stories" in page and "50.0%" in page
    assert (tmp_path / "trend-topic-korea.png").stat().st_size > 1000
