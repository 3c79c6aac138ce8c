"""End to end: a real Prefect flow run over real HTTP (loopback) into a real DuckDB file."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from tests.conftest import loopback_settings
from tests.site_fixture import build_site, feeds_of

pytestmark = pytest.mark.usefixtures("prefect_harness")

TABLES = ["articles", "stories", "story_links", "topic_matches", "entities", "mentions", "quotes", "feed_items",
          "quarantine", "alerts"]


def _snapshot(path: str) -> dict[str, list[tuple]]:
    con = duckdb.connect(path, read_only=True)
    try:
        out = {}
        for t in TABLES:
            cols = [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()]
            # attempts/last_seen_at/run_id of quarantine rows are feed state: they move on every failed poll, and
            # with them the row's load number (the lake's bookkeeping)
            keep = [c for c in cols if not (t == "quarantine" and c in ("attempts", "last_seen_at", "run_id", "lake_seq"))]
            out[t] = sorted(map(repr, con.execute(f"SELECT {', '.join(keep)} FROM {t}").fetchall()))
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from flows.cycle import run_cycle

    tmp = tmp_path_factory.mktemp("cycle")
    with build_site(slow_seconds=3.0) as site:
        settings = loopback_settings(tmp, feeds_of(site), fetch={"timeout_seconds": 1.5, "max_bytes": 1_000_000})
        first = run_cycle(settings)
        tables_after_first = _snapshot(settings.warehouse.path)
        page_requests_before = len([r for r in site.requests if r.path.startswith("/news/")])
        n_requests_before = len(site.requests)
        second = run_cycle(settings)
        second_requests = site.requests[n_requests_before:]
        page_requests_after = len([r for r in site.requests if r.path.startswith("/news/")])
        tables_after_second = _snapshot(settings.warehouse.path)
    return {
        "settings": settings, "first": first, "second": second, "t1": tables_after_first, "t2": tables_after_second,
        "second_requests": second_requests, "pages_before": page_requests_before, "pages_after": page_requests_after,
    }


def test_first_cycle_completes_and_counts_add_up(two_runs):
    s = two_runs["first"]
    assert s.status == "completed"
    assert s.feeds_polled == 6 and s.feeds_failed == 3
    assert s.entries_seen == s.articles_new + s.duplicates + s.quarantined
    assert s.articles_new == 5  # korea, bank, storm, election, cafe
    assert s.duplicates == 1  # the korea story again, from the Atom feed (utm parameter stripped)
    assert s.quarantined == 2  # the huge page and the missing page


def test_bad_feeds_and_pages_land_in_quarantine_with_reasons(two_runs):
    con = duckdb.connect(two_runs["settings"].warehouse.path, read_only=True)
    rows = dict(con.execute("SELECT url || '|' || stage, reason FROM quarantine WHERE stage <> 'feed'").fetchall())
    feeds = dict(con.execute("SELECT name, last_status FROM feeds").fetchall())
    retry = con.execute("SELECT next_poll_at, last_polled_at FROM feeds WHERE name = 'Broken Feed'").fetchone()
    con.close()
    reasons = {k.split("/news/")[1]: v for k, v in rows.items()}
    assert reasons == {"huge|fetch": "too_large", "missing|fetch": "http_404"}
    assert feeds["Slow Feed"] == "timeout"
    assert feeds["Broken Feed"] == "http_500"
    assert feeds["Not XML"] == "not_xml"
    assert (retry[0] - retry[1]).total_seconds() >= 120  # Retry-After honoured


def test_articles_are_clean_decoded_and_dated(two_runs):
    con = duckdb.connect(two_runs["settings"].warehouse.path, read_only=True)
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT canonical_url, title, text, published_at_source, language, story_id = article_id FROM articles").fetchall()}
    con.close()
    cafe = next(v for k, v in rows.items() if k.endswith("/news/cafe-1252"))
    assert "José Fernández" in cafe[1] and "Café" in cafe[0]
    korea = next(v for k, v in rows.items() if k.endswith("/news/korea-talks"))
    assert "utm_source" not in next(k for k in rows if k.endswith("korea-talks"))
    assert "Copyright" not in korea[1] and "Privacy" not in korea[1]
    assert all(v[2] == "feed" for v in rows.values())
    assert all(v[3] == "en" for v in rows.values())
    assert all(v[4] for v in rows.values())  # distinct articles: each starts its own story


def test_topics_entities_and_quotes_are_loaded(two_runs):
    con = duckdb.connect(two_runs["settings"].warehouse.path, read_only=True)
    topics = con.execute("SELECT a.canonical_url, t.matched_terms FROM topic_matches t JOIN articles a USING (article_id)").fetchall()
    speakers = {r[0] for r in con.execute("SELECT speaker FROM quotes").fetchall()}
    ents = {r[0] for r in con.execute("SELECT name FROM entities").fetchall()}
    bad_offsets = con.execute(
        "SELECT count(*) FROM mentions m JOIN articles a USING (article_id) "
        "WHERE substr(a.text, m.start_char + 1, m.end_char - m.start_char) <> m.surface").fetchone()[0]
    con.close()
    assert len(topics) == 1 and topics[0][0].endswith("korea-talks")
    assert set(topics[0][1]) == {"North Korea", "Kim Jong Un"}
    assert {"Park Min-jun", "Elena Marquez", "Tom Ellison", "James Whitfield"} <= speakers
    assert "Kim Jong Un" in ents
    assert bad_offsets == 0


def test_second_run_is_conditional_and_changes_nothing(two_runs):
    s = two_runs["second"]
    assert s.status == "completed"
    assert s.articles_new == 0
    assert two_runs["pages_after"] == two_runs["pages_before"]  # no article page fetched again
    reqs = {r.path: r.headers for r in two_runs["second_requests"]}
    assert "if-none-match" in reqs["/rss.xml"] and "if-none-match" in reqs["/rdf.xml"]
    assert "if-modified-since" in reqs["/atom.xml"]
    assert two_runs["t1"] == two_runs["t2"]


def test_runs_rows_record_both_cycles(two_runs):
    con = duckdb.connect(two_runs["settings"].warehouse.path, read_only=True)
    rows = con.execute("SELECT status, entries_seen, articles_new, duplicates, failures FROM runs ORDER BY started_at").fetchall()
    con.close()
    assert [r[0] for r in rows] == ["completed", "completed"]
    assert all(r[1] == r[2] + r[3] + r[4] for r in rows)
    assert rows[0][2] == 5 and rows[1][2] == 0


def test_snapshot_is_published_for_analysts(two_runs):
    from warehouse.analyst import query_frame

    frame = query_frame("SELECT count(*) AS n FROM articles", warehouse=two_runs["settings"].warehouse.paths)
    assert int(frame.n[0]) == 5
    assert datetime.now(UTC)  # snapshot readable while nothing holds the live file


def test_the_cycle_indexes_its_articles_and_search_finds_what_the_topic_matched(two_runs):
    from transform.topics import compiled_query
    from warehouse.analyst import connect
    from warehouse.search import search_hits
    from warehouse.search_index import opened_index

    settings = two_runs["settings"]
    index, position = opened_index(settings.warehouse.path)
    con = connect(settings.warehouse.paths)
    try:
        topic = settings.topics[0]
        result = search_hits(con, index, position, compiled_query(topic.query), limit=100)
        matched = {r[0] for r in con.execute("SELECT article_id FROM topic_matches WHERE topic = ?", [topic.name]).fetchall()}
        latest_run = con.execute("SELECT max(run_id) FROM articles").fetchall()[0][0]
    finally:
        con.close()
    found = {h.article_id for h in result.hits} | {c for h in result.hits for c in h.copies}
    assert matched and found == matched
    assert position.last_run_id >= latest_run and result.articles_not_indexed == 0


def test_the_summary_times_every_stage_and_its_seconds_include_publication(two_runs):
    from pipeline.cycle import STAGES

    for s in (two_runs["first"], two_runs["second"]):
        assert list(s.stage_seconds) == [k for k in STAGES if k in s.stage_seconds]
        assert {"begin", "poll", "plan", "fetch", "process", "story_index", "load", "trends", "queue_alerts", "deliver",
                "finish", "publication"} <= set(s.stage_seconds)
        assert all(v >= 0 for v in s.stage_seconds.values())
        # the stages are consecutive parts of the cycle: they add up to its total, up to rounding
        assert sum(s.stage_seconds.values()) <= s.seconds + 0.05
        assert sum(s.stage_seconds.values()) >= 0.8 * s.seconds
    con = duckdb.connect(two_runs["settings"].warehouse.path, read_only=True)
    rows = con.execute("SELECT epoch(finished_at) - epoch(started_at) FROM runs ORDER BY started_at").fetchall()
    con.close()
    # finished_at is written after publication: the run's span covers the summary's stages from finish on
    for (span,), s in zip(rows, (two_runs["first"], two_runs["second"]), strict=True):
        assert span >= s.seconds - s.stage_seconds["begin"] - 0.05


def _flow_runs(flow_name: str) -> list:
    """The flow runs of ``flow_name`` as Prefect's API holds them, newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                                     sort=FlowRunSort.START_TIME_DESC, limit=5)


def test_a_failed_cycle_returns_its_summary_and_prefect_stores_no_settings(tmp_path, monkeypatch):
    """The summary comes back as the final state's data, also when the flow run fails; the run's
    parameters hold a placeholder for the settings, and no result was written for Prefect to read."""
    from flows.cycle import run_cycle
    from tests.fault_site import closed_port

    monkeypatch.setenv("NW_CYCLE_TEST_PASSWORD", "cycle-secret-4d1f9a")
    settings = loopback_settings(tmp_path, [{"name": "Refused", "url": f"http://127.0.0.1:{closed_port()}/feed.xml"}],
                                 ui={"password": "${NW_CYCLE_TEST_PASSWORD}"})
    summary = run_cycle(settings)
    assert summary.status == "failed" and summary.feeds_failed == 1
    run = _flow_runs("newswatch-cycle")[0]
    assert run.state is not None and run.state.type.value == "FAILED"
    assert run.state.message == summary.message
    assert run.parameters["settings"] == "<withheld>"
    assert "cycle-secret-4d1f9a" not in run.model_dump_json()
    assert run.state.data is None  # nothing persisted: the summary stayed in this process


def test_the_cycle_keeps_the_trend_tables_with_the_rows_it_loads(two_runs):
    """Every loaded article, topic match and mention is counted once in the trend tables the views read."""
    con = duckdb.connect(two_runs["settings"].warehouse.path, read_only=True)
    try:
        per_day = con.execute("SELECT CAST(published_at AT TIME ZONE 'UTC' AS DATE) AS day, count(*) FROM articles "
                              "GROUP BY ALL ORDER BY day").fetchall()
        assert per_day and con.execute("SELECT day, articles FROM trend_daily WHERE kind = 'all' ORDER BY day").fetchall() == per_day
        assert con.execute("SELECT count(*) FROM trend_hits WHERE kind = 'topic'").fetchone() == \
            con.execute("SELECT count(*) FROM (SELECT DISTINCT article_id, topic FROM topic_matches)").fetchone()
        assert con.execute("SELECT coalesce(sum(mentions), 0) FROM trend_hits WHERE kind = 'entity'").fetchone() == \
            con.execute("SELECT count(*) FROM mentions").fetchone()
        marks = dict(con.execute("SELECT name, value FROM writer_state").fetchall())
        assert marks["trend:articles"] == con.execute("SELECT max(lake_seq) FROM articles").fetchone()[0]
    finally:
        con.close()
