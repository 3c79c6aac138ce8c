"""The trend views over the writer's trend tables give what the old whole-archive views gave.

The old definitions are read from a database migrated up to the migration before the trend tables, kept
under ``old_<name>``, and compared row for row with the new views after every refresh: on rows present when
the migration runs (its backfill), on new articles, on backdated ones, and on rows added later to older
articles (a topic matched afterwards, a late mention or quote).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from warehouse.migrations import migrate, migrations
from warehouse.trend_tables import refresh_trend_tables

VIEWS = ("topic_daily", "topic_share_daily", "feed_share_daily", "entity_daily", "cooccurrence")
MACROS = ("spike_scores_at", "top_speakers_between")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def _apply_until(con: duckdb.DuckDBPyConnection, stop: str) -> None:
    """Apply the migrations before the one named ``stop`` (as ``migrate()`` does, without the rest)."""
    con.execute("CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")
    for mig in migrations():
        if mig.name.startswith(stop):
            return
        con.execute(mig.sql)
        con.execute("INSERT INTO _migrations VALUES (?, now())", [mig.name])
    raise AssertionError(f"no migration {stop}")


def _old_definitions(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The trend views and macros as the database defines them now, renamed ``old_<name>``."""
    out = []
    for name, sql in con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall():
        if name in VIEWS:
            out.append(re.sub(rf"^CREATE VIEW {name}\b", f"CREATE VIEW old_{name}", sql))
    for name, params, body in con.execute(
            "SELECT function_name, parameters, macro_definition FROM duckdb_functions() "
            "WHERE function_type = 'table_macro' AND NOT internal").fetchall():
        if name in MACROS:
            out.append(f"CREATE MACRO old_{name}({', '.join(params)}) AS TABLE {body}")
    assert len(out) == len(VIEWS) + len(MACROS)
    return out


class Archive:
    """Random articles over three weeks: stories with copies on other days, several feeds, entities,
    mentions, topic matches and quotes (some unattributed)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seed: int) -> None:
        self.con, self.rng, self.n = con, random.Random(seed), 0
        self.articles: list[str] = []
        for k in range(4):
            con.execute("INSERT INTO feeds (feed_id, name, url) VALUES (?, ?, ?)", [f"f{k}", f"Feed {k}", f"http://f{k}.test/"])
        for k in range(12):
            con.execute("INSERT INTO entities (entity_id, name, type, aliases, first_seen_at) VALUES (?, ?, 'PERSON', [], now())", [f"person:p{k}", f"P {k}"])

    def keyed(self) -> bool:
        """Whether the schema has the lookup keys (migration 0023); the archive is also loaded into older ones."""
        return bool(self.con.execute("SELECT count(*) FROM duckdb_columns() WHERE table_name = 'articles' "
                                     "AND column_name = 'article_key'").fetchone()[0])

    def article(self, published_at: datetime, story: str | None = None) -> str:
        r, self.n = self.rng, self.n + 1
        aid = f"a{self.n:05d}"
        story = story or (self.rng.choice(self.articles) if self.articles and r.random() < 0.3 else aid)
        sid = self.con.execute("SELECT story_id FROM articles WHERE article_id = ?", [story]).fetchone()
        keyed = self.keyed()
        keys = (", article_key, story_key", ", md5_number_lower(?), md5_number_lower(?)") if keyed else ("", "")
        self.con.execute(
            "INSERT INTO articles (article_id, url, canonical_url, feed_id, title, published_at, published_at_source, "
            f"fetched_at, text, word_count, content_hash, story_id{keys[0]}) "
            f"VALUES (?, ?, ?, ?, ?, ?, 'feed', ?, 't', 1, ?, ?{keys[1]})",
            [aid, f"http://x/{aid}", f"http://x/{aid}", f"f{r.randrange(4)}", aid, published_at, published_at,
             aid, sid[0] if sid else aid] + ([aid, sid[0] if sid else aid] if keyed else []))
        for topic in r.sample(["korea", "rates", "climate"], r.randrange(3)):
            self.match(aid, topic)
        for e in r.sample(range(12), r.randrange(5)):
            self.mention(aid, f"person:p{e}", r.randrange(1, 4))
        for q in range(r.randrange(3)):
            self.quote(aid, q)
        self.articles.append(aid)
        return aid

    def match(self, aid: str, topic: str) -> None:
        key = (", article_key", ", md5_number_lower(?)") if self.keyed() else ("", "")
        self.con.execute(f"INSERT INTO topic_matches (article_id, topic, matched_terms, matched_at{key[0]}) "
                         f"VALUES (?, ?, ['t'], now(){key[1]})", [aid, topic] + ([aid] if key[0] else []))

    def mention(self, aid: str, eid: str, n: int = 1) -> None:
        for i in range(n):
            self.con.execute("INSERT INTO mentions (article_id, entity_id, surface, start_char, end_char) "
                             "VALUES (?, ?, 's', ?, ?)", [aid, eid, i, i + 1])

    def quote(self, aid: str, k: int) -> None:
        r = self.rng
        who = r.choice(["", "P 1", "p 1", "Someone", "P 3"])
        eid = {"P 1": "person:p1", "P 3": "person:p3"}.get(who)
        start = 1000 + k * 100 + r.randrange(50)
        key = (", article_key", ", md5_number_lower(?)") if self.keyed() else ("", "")
        self.con.execute(
            f"INSERT INTO quotes (quote_id, article_id, text, speaker, speaker_entity_id, cue, start_char, end_char{key[0]}) "
            f"VALUES (?, ?, ?, ?, ?, 'said', ?, ?{key[1]})",
            [f"q-{aid}-{start}", aid, f"words {aid} {k}", who, eid, start, start + 5] + ([aid] if key[0] else []))

    def batch(self, n: int, *, days_back: float = 21) -> None:
        for _ in range(n):
            self.article(NOW - timedelta(seconds=self.rng.uniform(0, days_back * 86400)))


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return sorted(con.execute(sql).fetchall(), key=lambda r: tuple("" if v is None else str(v) for v in r))


def _same(a: list[tuple], b: list[tuple]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) and isinstance(v, float):
                if not (math.isclose(u, v, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(u) and math.isnan(v))):
                    return False
            elif u != v:
                return False
    return True


def assert_views_match(con: duckdb.DuckDBPyConnection) -> None:
    for view in VIEWS:
        new, old = _rows(con, f"SELECT * FROM {view}"), _rows(con, f"SELECT * FROM old_{view}")
        assert new, view
        assert _same(new, old), view
    for as_of in (NOW, NOW - timedelta(days=3, hours=5), NOW + timedelta(days=2)):
        new = _rows(con, f"SELECT * FROM spike_scores_at(TIMESTAMPTZ '{as_of.isoformat()}')")
        old = _rows(con, f"SELECT * FROM old_spike_scores_at(TIMESTAMPTZ '{as_of.isoformat()}')")
        assert new and _same(new, old), as_of
    for since, until in ((NOW - timedelta(days=7), NOW), (NOW - timedelta(days=30), NOW + timedelta(days=1))):
        args = f"TIMESTAMPTZ '{since.isoformat()}', TIMESTAMPTZ '{until.isoformat()}'"
        new = _rows(con, f"SELECT * FROM top_speakers_between({args})")
        old = _rows(con, f"SELECT * FROM old_top_speakers_between({args})")
        assert new and _same(new, old), (since, until)


@pytest.fixture
def upgraded() -> Iterator[tuple[duckdb.DuckDBPyConnection, Archive]]:
    """A warehouse with an archive loaded before the trend tables existed, then migrated."""
    con = duckdb.connect(":memory:")
    _apply_until(con, "0021")
    old = _old_definitions(con)
    archive = Archive(con, seed=7)
    archive.batch(300)
    migrate(con)  # the backfill
    for sql in old:
        con.execute(sql)
    yield con, archive
    con.close()


def test_the_migration_fills_the_trend_tables_from_the_rows_already_there(upgraded):
    con, _ = upgraded
    assert_views_match(con)
    assert refresh_trend_tables(con).hits == 0  # nothing new since the backfill


def test_each_refresh_folds_new_backdated_and_late_rows_and_the_views_stay_equal(upgraded):
    con, archive = upgraded
    archive.batch(40, days_back=0.5)  # a cycle's new articles
    first = refresh_trend_tables(con)
    assert first.hits > 40 and first.days
    assert_views_match(con)
    archive.batch(10, days_back=20)  # backdated arrivals land in old days
    assert len(refresh_trend_tables(con).days) > 1
    assert_views_match(con)
    old = archive.articles[:5]  # rows added later to articles already folded in
    archive.match(old[0], "late-topic")
    archive.mention(old[1], "person:p2", 2)
    archive.mention(old[1], "person:p11")
    archive.quote(old[2], 9)
    archive.match(old[2], "late-topic")
    late = refresh_trend_tables(con)
    assert late.days
    assert_views_match(con)
    assert refresh_trend_tables(con) == type(late)(0, 0, ())


def test_a_new_warehouse_refreshes_from_empty(mem_db):
    con = mem_db
    archive = Archive(con, seed=11)
    before = duckdb.connect(":memory:")
    _apply_until(before, "0021")
    for sql in _old_definitions(before):
        con.execute(sql)
    before.close()
    for _ in range(3):
        archive.batch(60, days_back=21)
        refresh_trend_tables(con)
        assert_views_match(con)


def test_a_day_of_hits_is_counted_once_per_story(mem_db):
    """Three copies of one story on one day are three articles and one story, in every kind of count."""
    con = mem_db
    archive = Archive(con, seed=3)
    archive.rng = random.Random(0)
    t = NOW - timedelta(hours=2)
    first = archive.article(t)
    for _ in range(2):
        archive.article(t, story=first)
    refresh_trend_tables(con)
    row = con.execute("SELECT articles, stories FROM trend_daily WHERE kind = 'all'").fetchone()
    assert row == (3, 1)
