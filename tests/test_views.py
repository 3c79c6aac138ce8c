"""The trend views of migrations 0003 and 0005 on hand-built warehouses whose answers are worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from tests.warehouse_rows import add_article, add_entity, add_match, add_mentions, add_quote, ts
from warehouse.migrations import migrate
from warehouse.trend_tables import refresh_trend_tables
from warehouse.views import (
    SPIKE_MIN_STORIES,
    TREND_MACROS,
    TREND_VIEWS,
    is_spike,
    spike_score,
)

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


@pytest.fixture
def days_db():
    """Four UTC days of articles with topics, entities, mentions and quotes.

    The session time zone is Tokyo (UTC+9) on purpose: a plain ::DATE cast would move a6 to the 4th.
    """
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'Asia/Tokyo'")
    migrate(con)
    add_article(con, "a0", ts("2026-02-28T12:00:00+00:00"))                       # before any match
    add_article(con, "a1", ts("2026-03-01T08:00:00+00:00"), story="s1")
    add_article(con, "a2", ts("2026-03-01T09:00:00+00:00"), story="s1")          # wire copy of a1
    add_article(con, "a3", ts("2026-03-01T10:00:00+00:00"))
    add_article(con, "a4", ts("2026-03-01T11:00:00+00:00"))
    add_article(con, "a5", ts("2026-03-02T11:00:00+00:00"))
    add_article(con, "a6", ts("2026-03-03T23:30:00+00:00"))                       # late evening UTC
    add_article(con, "a7", ts("2026-03-04T00:30:00+02:00"))                       # = 3 March 22:30 UTC
    for aid in ("a1", "a2", "a6", "a7"):
        add_match(con, aid, "korea")
    add_match(con, "a4", "economy")

    add_entity(con, "person:kim jong un", "Kim Jong Un", "PERSON", ["Kim", "Kim Jong Un"])
    add_entity(con, "gpe:seoul", "Seoul", "GPE")
    add_entity(con, "org:united nations", "United Nations", "ORG", ["UN", "United Nations"])
    add_mentions(con, "a1", "person:kim jong un", 2)
    add_mentions(con, "a1", "gpe:seoul")
    add_mentions(con, "a2", "person:kim jong un")
    add_mentions(con, "a2", "gpe:seoul")
    add_mentions(con, "a3", "gpe:seoul")
    add_mentions(con, "a3", "org:united nations")
    add_mentions(con, "a6", "person:kim jong un")
    add_mentions(con, "a6", "org:united nations")

    add_quote(con, "a1", "Kim Jong Un", "person:kim jong un", "first kim", 0)
    add_quote(con, "a1", "Kim Jong Un", "person:kim jong un", "second kim", 100)
    add_quote(con, "a1", "Jane Roe", None, "roe one", 200)
    add_quote(con, "a2", "Kim Jong Un", "person:kim jong un", "first kim", 0)   # the wire copy's quote
    add_quote(con, "a6", "Kim", "person:kim jong un", "latest kim", 0)
    add_quote(con, "a6", "jane roe", None, "roe two", 100)
    add_quote(con, "a7", "Jane Roe", None, "roe three", 0)
    add_quote(con, "a7", "Moon Jae-in", None, "moon", 100)
    add_quote(con, "a7", "", None, "nobody said this", 200)                        # unattributed: ignored
    add_quote(con, "a4", "Jane Roe", None, "roe on prices", 0)
    refresh_trend_tables(con)  # as the cycle does after loading
    yield con
    con.close()


def test_migration_creates_every_view_and_macro_once(mem_db):
    views = {r[0] for r in mem_db.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    macros = {r[0] for r in mem_db.execute("SELECT function_name FROM duckdb_functions() WHERE function_type = 'table_macro'").fetchall()}
    assert set(TREND_VIEWS) <= views
    assert set(TREND_MACROS) <= macros
    assert migrate(mem_db) == []


def test_topic_daily_counts_articles_stories_and_shares_per_utc_day(days_db):
    rows = days_db.execute("SELECT topic, day, articles, stories, all_articles, all_stories, share, story_share "
                           "FROM topic_daily ORDER BY topic, day").fetchall()
    assert rows == [
        ("economy", D1, 1, 1, 4, 3, 0.25, pytest.approx(1 / 3)),
        ("economy", D2, 0, 0, 1, 1, 0.0, 0.0),
        ("economy", D3, 0, 0, 2, 2, 0.0, 0.0),
        ("korea", D1, 2, 1, 4, 3, 0.5, pytest.approx(1 / 3)),
        ("korea", D2, 0, 0, 1, 1, 0.0, 0.0),
        ("korea", D3, 2, 2, 2, 2, 1.0, 1.0),
    ]


def test_entity_daily_counts_mentions_articles_and_stories(days_db):
    rows = days_db.execute("SELECT day, entity_id, name, type, mentions, articles, stories, all_articles, share "
                           "FROM entity_daily ORDER BY day, entity_id").fetchall()
    assert rows == [
        (D1, "gpe:seoul", "Seoul", "GPE", 3, 3, 2, 4, 0.75),
        (D1, "org:united nations", "United Nations", "ORG", 1, 1, 1, 4, 0.25),
        (D1, "person:kim jong un", "Kim Jong Un", "PERSON", 3, 2, 1, 4, 0.5),
        (D3, "org:united nations", "United Nations", "ORG", 1, 1, 1, 2, 0.5),
        (D3, "person:kim jong un", "Kim Jong Un", "PERSON", 1, 1, 1, 2, 0.5),
    ]


def test_cooccurrence_pairs_entities_once_per_article_with_a_before_b(days_db):
    rows = days_db.execute("SELECT day, entity_a, name_a, entity_b, name_b, articles, stories "
                           "FROM cooccurrence ORDER BY day, entity_a, entity_b").fetchall()
    assert rows == [
        (D1, "gpe:seoul", "Seoul", "org:united nations", "United Nations", 1, 1),
        (D1, "gpe:seoul", "Seoul", "person:kim jong un", "Kim Jong Un", 2, 1),   # a1 + its wire copy a2
        (D3, "org:united nations", "United Nations", "person:kim jong un", "Kim Jong Un", 1, 1),
    ]


def test_top_speakers_ranks_by_stories_so_wire_copies_do_not_win(days_db):
    rows = days_db.execute("SELECT topic, rank, speaker, speaker_entity_id, quotes, articles, stories, "
                           "first_quoted_at, last_quoted_at, latest_quote FROM top_speakers "
                           "ORDER BY topic, rank, speaker").fetchall()
    assert rows == [
        ("economy", 1, "Jane Roe", None, 1, 1, 1, ts("2026-03-01T11:00:00+00:00"), ts("2026-03-01T11:00:00+00:00"), "roe on prices"),
        ("korea", 1, "Jane Roe", None, 3, 3, 3, ts("2026-03-01T08:00:00+00:00"), ts("2026-03-03T23:30:00+00:00"), "roe two"),
        ("korea", 2, "Kim Jong Un", "person:kim jong un", 4, 3, 2, ts("2026-03-01T08:00:00+00:00"), ts("2026-03-03T23:30:00+00:00"), "latest kim"),
        ("korea", 3, "Moon Jae-in", None, 1, 1, 1, ts("2026-03-03T22:30:00+00:00"), ts("2026-03-03T22:30:00+00:00"), "moon"),
    ]


def test_top_speakers_between_limits_to_the_window_and_ties_share_a_rank(days_db):
    rows = days_db.execute("SELECT rank, speaker, quotes, articles, stories FROM "
                           "top_speakers_between(TIMESTAMPTZ '2026-03-03 00:00:00+00', TIMESTAMPTZ '2026-03-04 00:00:00+00') "
                           "WHERE topic = 'korea' ORDER BY rank, speaker").fetchall()
    assert rows == [(1, "Jane Roe", 2, 2, 2), (2, "Kim Jong Un", 1, 1, 1), (2, "Moon Jae-in", 1, 1, 1)]


@pytest.mark.parametrize("order", [("jane roe", "Jane Roe"), ("Jane Roe", "jane roe")])
def test_an_unlinked_speakers_spelling_does_not_depend_on_row_order(order):
    """One spelling each: the capitalised one wins however the rows were stored (mode() picked either)."""
    con = duckdb.connect(":memory:")
    migrate(con)
    for i, spelling in enumerate(order):
        add_article(con, f"b{i}", ts(f"2026-03-0{i + 1}T08:00:00+00:00"))
        add_match(con, f"b{i}", "korea")
        add_quote(con, f"b{i}", spelling, None, f"quote {i}", 0)
    add_article(con, "b9", ts("2026-03-05T08:00:00+00:00"))
    add_match(con, "b9", "korea")
    add_quote(con, "b9", "Moon jae-in", None, "older spelling", 0)
    add_quote(con, "b9", "moon jae-in", None, "lower spelling", 100)
    add_quote(con, "b9", "Moon Jae-in", None, "latest spelling", 200)
    add_quote(con, "b9", "Moon Jae-in", None, "said twice", 300)
    refresh_trend_tables(con)
    rows = con.execute("SELECT speaker, quotes, latest_quote FROM top_speakers ORDER BY speaker").fetchall()
    # the most frequent spelling; the latest quote is the last one of the latest article
    assert rows == [("Jane Roe", 2, "quote 1"), ("Moon Jae-in", 4, "said twice")]


def test_migration_0005_upgrades_a_database_built_before_it():
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")
    from warehouse.migrations import migrations
    every = migrations()
    names = [m.name for m in every]
    for m in every[: names.index("0005_top_speakers_spelling")]:
        con.execute(m.sql)
        con.execute("INSERT INTO _migrations VALUES (?, now())", [m.name])
    assert migrate(con)[0] == "0005_top_speakers_spelling"  # then any later migrations
    for i, spelling in enumerate(("jane roe", "Jane Roe")):
        add_article(con, f"b{i}", ts(f"2026-03-0{i + 1}T08:00:00+00:00"))
        add_match(con, f"b{i}", "korea")
        add_quote(con, f"b{i}", spelling, None, f"quote {i}", 0)
    refresh_trend_tables(con)
    assert con.execute("SELECT speaker FROM top_speakers").fetchall() == [("Jane Roe",)]
    assert migrate(con) == []


AS_OF = ts("2026-03-20T12:00:00+00:00")


@pytest.fixture
def spike_db():
    """Keys with known scores at AS_OF, with articles on every window boundary."""
    con = duckdb.connect(":memory:")
    migrate(con)
    n = 0

    def article(at: datetime, topic: str | None = None, entity: str | None = None, story: str | None = None) -> str:
        nonlocal n
        n += 1
        aid = f"a{n:03d}"
        add_article(con, aid, at, story)
        if topic:
            add_match(con, aid, topic)
        if entity:
            add_mentions(con, aid, entity, 2)   # two mentions in one article count once
        return aid

    h = timedelta(hours=1)
    d = timedelta(days=1)
    # surge: one story in each of the 14 baseline windows (baseline 1.0), six stories now, one of them in
    # three copies (8 articles). Boundaries: exactly 24 h ago is baseline, exactly AS_OF is current,
    # exactly 15 days ago and anything after AS_OF are outside.
    article(AS_OF - d, "surge")
    for k in range(2, 15):
        article(AS_OF - k * d - h, "surge")
    article(AS_OF - 15 * d, "surge")
    article(AS_OF + timedelta(minutes=1), "surge")
    article(AS_OF, "surge")
    for i in range(4):
        article(AS_OF - (i + 1) * h, "surge")
    for _ in range(3):
        article(AS_OF - 5 * h, "surge", story="surge-wire")
    # steady: two stories a day for 14 days (baseline 2.0), three now: score 1/sqrt(3), no spike.
    for k in range(1, 15):
        article(AS_OF - k * d - 2 * h, "steady")
        article(AS_OF - k * d - 3 * h, "steady")
    for i in range(3):
        article(AS_OF - (i + 1) * h, "steady")
    # wire: one story in ten copies now, nothing before: 10 articles but 1 story, no spike.
    for _ in range(10):
        article(AS_OF - 2 * h, "wire", story="wire-1")
    # an entity new in the news: exactly the minimum (3 stories, score 3.0) is a spike.
    add_entity(con, "person:newcomer", "Newcomer", "PERSON")
    for i in range(SPIKE_MIN_STORIES):
        article(AS_OF - (i + 1) * h, entity="person:newcomer")
    # an entity seen only 20 days ago is not scored at all.
    add_entity(con, "org:old news", "Old News", "ORG")
    article(AS_OF - 20 * d, entity="org:old news")
    refresh_trend_tables(con)
    yield con
    con.close()


def test_spike_scores_at_scores_the_last_24_hours_against_14_trailing_days(spike_db):
    rows = spike_db.execute(
        "SELECT kind, key, name, type, current_stories, current_articles, baseline_stories, baseline_articles, ratio, "
        "score, is_spike, window_start, window_end FROM spike_scores_at(?) ORDER BY kind, key", [AS_OF]).fetchall()
    assert rows == [
        ("entity", "person:newcomer", "Newcomer", "PERSON", 3, 3, 0.0, 0.0, None, 3.0, True, AS_OF - timedelta(days=1), AS_OF),
        ("topic", "steady", "steady", None, 3, 3, 2.0, 2.0, 1.5, pytest.approx(1 / math.sqrt(3)), False,
         AS_OF - timedelta(days=1), AS_OF),
        ("topic", "surge", "surge", None, 6, 8, 1.0, 1.0, 6.0, pytest.approx(5 / math.sqrt(2)), True,
         AS_OF - timedelta(days=1), AS_OF),
        ("topic", "wire", "wire", None, 1, 10, 0.0, 0.0, None, 1.0, False, AS_OF - timedelta(days=1), AS_OF),
    ]


def test_sql_and_python_spike_rules_agree(spike_db):
    for current, baseline, score, flagged in spike_db.execute(
            "SELECT current_stories, baseline_stories, score, is_spike FROM spike_scores_at(?)", [AS_OF]).fetchall():
        assert score == pytest.approx(spike_score(current, baseline))
        assert flagged == is_spike(current, baseline)


def test_spikes_view_is_relative_to_now_and_lists_only_spikes(mem_db):
    now = datetime.now(UTC)
    for i in range(5):
        add_article(mem_db, f"hot{i}", now - timedelta(hours=i + 1))
        add_match(mem_db, f"hot{i}", "hot")
    for i in range(2):
        add_article(mem_db, f"mild{i}", now - timedelta(hours=i + 1))
        add_match(mem_db, f"mild{i}", "mild")
    add_article(mem_db, "stale", now - timedelta(days=3))
    add_match(mem_db, "stale", "stale")
    refresh_trend_tables(mem_db)
    assert mem_db.execute("SELECT kind, key, current_stories, score FROM spikes").fetchall() == [("topic", "hot", 5, 5.0)]
    scored = mem_db.execute("SELECT key, current_stories, is_spike FROM spike_scores ORDER BY key").fetchall()
    assert scored == [("hot", 5, True), ("mild", 2, False), ("stale", 0, False)]


def test_views_work_on_a_read_only_snapshot(tmp_path):
    path = tmp_path / "snap.duckdb"
    con = duckdb.connect(str(path))
    migrate(con)
    add_article(con, "x1", datetime.now(UTC) - timedelta(hours=1))
    add_match(con, "x1", "t")
    refresh_trend_tables(con)
    con.close()
    ro = duckdb.connect(str(path), read_only=True)
    try:
        assert ro.execute("SELECT topic, articles FROM topic_daily").fetchall() == [("t", 1)]
        assert ro.execute("SELECT key, current_stories FROM spike_scores").fetchall() == [("t", 1)]
        assert ro.execute("SELECT count(*) FROM top_speakers").fetchone() == (0,)
    finally:
        ro.close()


def _poisson_tail(mean: float, k: int) -> float:
    """P(X >= k) for X ~ Poisson(mean)."""
    term, below = math.exp(-mean), 0.0
    for i in range(k):
        below += term
        term *= mean / (i + 1)
    return max(0.0, 1.0 - below)


def test_spike_thresholds_keep_poisson_false_alarms_below_half_a_percent():
    """The calibration quoted at SPIKE_MIN_SCORE: worst case over baseline means 0.05 .. 100."""
    worst = 0.0
    for i in range(1, 2001):
        mean = i / 20
        first_spike = next(x for x in range(1000) if is_spike(x, mean))
        worst = max(worst, _poisson_tail(mean, first_spike))
    assert 0.003 < worst < 0.004
    assert not is_spike(2, 0.0) and is_spike(3, 0.0)
