"""Daily series with spikes, the chart (PNG + HTML page) and the ``newswatch trends`` command."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from flows.charts import SPIKE_LABEL, trend_figure, trend_page_html, written_trend_files
from flows.cli_trends import register_trends
from newswatch.errors import FatalError
from tests.warehouse_rows import add_article, add_entity, add_match, add_mentions
from warehouse.migrations import migrate
from warehouse.trend_tables import refresh_trend_tables
from warehouse.trends import entity_series, scored_days, summary_lines, topic_series

AS_OF = datetime(2026, 5, 31, 18, 0, tzinfo=UTC)
SPIKE_DAY = date(2026, 5, 25)


def build_warehouse(con, as_of: datetime) -> date:
    """'korea': one story a day for 40 days, two copies each; six stories on one day six days ago.

    Returns the spike day.
    """
    migrate(con)
    add_entity(con, "person:kim jong un", "Kim Jong Un", "PERSON", ["Kim", "Kim Jong Un"])
    add_entity(con, "org:kim jong un", "Kim Jong Un", "ORG")
    spike_day = (as_of - timedelta(days=6)).date()
    for k in range(40):
        day = (as_of - timedelta(days=k)).date()
        stories = 6 if day == spike_day else 1
        for s in range(stories):
            for copy in range(2):
                aid = f"k{k}-{s}-{copy}"
                add_article(con, aid, datetime(day.year, day.month, day.day, 9 + s, copy, tzinfo=UTC), story=f"k{k}-{s}")
                add_match(con, aid, "korea")
                add_mentions(con, aid, "person:kim jong un")
        add_article(con, f"other{k}", datetime(day.year, day.month, day.day, 20, tzinfo=UTC))
    add_article(con, "orgkim", as_of - timedelta(days=2))
    add_mentions(con, "orgkim", "org:kim jong un")
    refresh_trend_tables(con)  # as the cycle does after loading
    return spike_day


@pytest.fixture
def warehouse():
    con = duckdb.connect(":memory:")
    assert build_warehouse(con, AS_OF) == SPIKE_DAY
    yield con
    con.close()


def test_scored_days_uses_the_previous_14_days_and_the_view_thresholds():
    start = date(2026, 1, 1)
    counts = [(start + timedelta(days=i), 2, 1, 0.1) for i in range(20)] + [(date(2026, 1, 21), 9, 6, 0.5)]
    days = scored_days(counts, 3)
    assert [d.day for d in days] == [date(2026, 1, 19), date(2026, 1, 20), date(2026, 1, 21)]
    assert [d.spike for d in days] == [False, False, True]
    assert days[-1].baseline == 1.0 and days[-1].score == pytest.approx(5 / 2 ** 0.5)
    assert not scored_days(counts[:-1] + [(date(2026, 1, 21), 9, 5, 0.5)], 1)[0].spike  # score 2.83


def test_topic_series_is_dense_and_marks_the_spike_day(warehouse):
    series = topic_series(warehouse, "Korea", days=30, as_of=AS_OF)
    assert series.kind == "topic" and series.key == "korea"
    assert len(series.days) == 30 and series.days[-1].day == AS_OF.date()
    assert [d.day for d in series.days if d.spike] == [SPIKE_DAY]
    spike = next(d for d in series.days if d.day == SPIKE_DAY)
    assert (spike.articles, spike.stories, spike.baseline) == (12, 6, 1.0)
    assert spike.share == pytest.approx(12 / 13)
    normal = series.days[0]
    assert (normal.articles, normal.stories, normal.share) == (2, 1, pytest.approx(2 / 3))
    assert series.now is not None and series.now.current_stories == 1 and not series.now.is_spike


def test_topic_series_zero_fills_days_without_rows(warehouse):
    series = topic_series(warehouse, "korea", days=50, as_of=AS_OF)
    assert [(d.articles, d.stories, d.share) for d in series.days[:10]] == [(0, 0, None)] * 10


def test_entity_series_resolves_a_name_and_lists_the_other_matches(warehouse):
    series = entity_series(warehouse, "kim jong un", days=10, as_of=AS_OF)
    assert series.key == "person:kim jong un" and series.entity_type == "PERSON"  # the most mentioned
    assert series.alternatives == ("org:kim jong un",)
    assert entity_series(warehouse, "KIM", days=10, as_of=AS_OF).alternatives == ()  # alias of the person only
    assert [d.day for d in series.days if d.spike] == [SPIKE_DAY]
    assert any("also matches: org:kim jong un" in line for line in summary_lines(series))
    assert entity_series(warehouse, "org:kim jong un", days=10, as_of=AS_OF).alternatives == ()  # an id is exact


def test_unknown_names_fail_with_a_hint(warehouse):
    with pytest.raises(FatalError, match="topics with matches: korea"):
        topic_series(warehouse, "nope", as_of=AS_OF)
    with pytest.raises(FatalError) as e:
        entity_series(warehouse, "Nobody", as_of=AS_OF)
    assert e.value.reason == "unknown_entity"
    with pytest.raises(FatalError, match="between 1 and"):
        topic_series(warehouse, "korea", days=0, as_of=AS_OF)


def test_a_warehouse_without_the_views_asks_for_a_run():
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE topic_matches (article_id VARCHAR, topic VARCHAR)")
    con.execute("INSERT INTO topic_matches VALUES ('a', 'korea')")
    with pytest.raises(FatalError) as e:
        topic_series(con, "korea", as_of=AS_OF)
    assert e.value.reason == "warehouse_outdated"


def test_chart_marks_each_spike_day_on_the_stories_line(warehouse):
    series = topic_series(warehouse, "korea", days=30, as_of=AS_OF)
    ax = trend_figure(series).axes[0]
    marked = [line for line in ax.get_lines() if line.get_label() == SPIKE_LABEL]
    assert len(marked) == 1
    xs, ys = marked[0].get_data()
    assert [x if isinstance(x, date) else x.date() for x in xs] == [SPIKE_DAY] and list(ys) == [6]


def test_png_and_html_page_are_written_self_contained(warehouse, tmp_path):
    series = topic_series(warehouse, "korea", days=30, as_of=AS_OF)
    png, page = written_trend_files(series, tmp_path / "out")
    assert png.name == "trend-topic-korea.png" and page.name == "trend-topic-korea.html"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = page.read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in text
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert text.count("<tr class=") == 30
    assert f'<tr class="spike"><td>{SPIKE_DAY.isoformat()}</td><td>12</td><td>6</td>' in text
    assert text.index("<img") < text.index("<table")
    assert f"<td>{AS_OF.date().isoformat()} (so far)</td>" in text  # the day still running at AS_OF


def test_html_escapes_names():
    from warehouse.trends import TrendSeries

    series = TrendSeries("entity", "org:<b>&co", "<b>&Co", "ORG", scored_days([(date(2026, 1, 1), 1, 1, 1.0)], 1), None)
    text = trend_page_html(series, b"png")
    assert "<b>&Co" not in text and "&lt;b&gt;&amp;Co" in text


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="newswatch")
    sub = p.add_subparsers(dest="command", required=True)

    def with_config(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--config", default=None)
        return sp

    register_trends(sub, with_config)
    return p.parse_args(argv)


def test_trends_command_reads_a_snapshot_file_and_writes_both_files(tmp_path, capsys):
    db = tmp_path / "snap.duckdb"
    con = duckdb.connect(str(db))
    spike_day = build_warehouse(con, datetime.now(UTC))
    con.close()
    out = tmp_path / "charts"
    args = _parse(["trends", "--entity", "Kim Jong Un", "--days", "20", "--db", str(db), "--out", str(out),
                   "--config", str(tmp_path / "missing.yaml")])
    assert args.fn(args) == 0
    printed = capsys.readouterr().out
    assert f"spike days: {spike_day.isoformat()}" in printed
    assert (out / "trend-entity-person-kim-jong-un.png").exists() and (out / "trend-entity-person-kim-jong-un.html").exists()


def test_trends_command_needs_exactly_one_of_topic_or_entity():
    with pytest.raises(SystemExit):
        _parse(["trends", "--days", "5"])
    with pytest.raises(SystemExit):
        _parse(["trends", "--topic", "a", "--entity", "b"])
    with pytest.raises(SystemExit):
        _parse(["trends", "--topic", "a", "--days", "0"])
