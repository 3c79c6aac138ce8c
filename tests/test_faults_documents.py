"""Hostile documents through real cycles: every fault is bounded, recorded once with its reason, and
nothing else is lost.

One loopback site (tests/fault_site.py ``document_site``) carries XXE and billion-laughs feeds, a gzip
bomb feed, a trickling feed, a 10,000-item feed, a feed that repeats one GUID, a feed in windows-1252
labelled UTF-8, and a main feed whose items point at bombs, a 50 MB page, an endless chunked page, a
one-byte-a-second page, a page of a million characters (under the byte cap, over what NLP can take),
pages with broken or mislabelled charsets, a page with no article text, items without links and a
repeated item. Two cycles run over it (flows.cycle.run_cycle, real DuckDB file);
the unit tests of each limit are in tests/test_http.py and tests/test_feeds.py.
"""

from __future__ import annotations

import re
import time

import duckdb
import pytest

from tests.conftest import loopback_settings
from tests.fault_site import document_site

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]

TIMEOUT_S = 2.0
MAX_BYTES = 4_000_000
MAX_ITEMS = 200


def rows(path: str, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from flows.cycle import run_cycle
    from pipeline.workers import shutdown_pool

    shutdown_pool()  # a fresh worker pool, whatever earlier modules left
    fs = document_site()
    with fs.site:
        settings = loopback_settings(
            tmp_path_factory.mktemp("faults-docs"), fs.feeds,
            fetch={"timeout_seconds": TIMEOUT_S, "max_bytes": MAX_BYTES, "max_items_per_feed": MAX_ITEMS,
                   "per_host_concurrency": 16},
            runner={"max_failure_ratio": 1.0},
        )
        t0 = time.monotonic()
        first = run_cycle(settings)
        t1 = time.monotonic()
        quarantine_after_first = rows(settings.warehouse.path, "SELECT stage, item_key, attempts FROM quarantine")
        second = run_cycle(settings)
        t2 = time.monotonic()
        requests = {p: len(fs.site.requests_to(p)) for p in fs.site.routes}
    return {"fs": fs, "path": settings.warehouse.path, "first": first, "second": second,
            "seconds": (t1 - t0, t2 - t1), "q1": quarantine_after_first, "requests": requests}


def quarantine_by_path(path: str) -> dict[str, tuple[str, str, str, int]]:
    out = {}
    for url, stage, reason, message, attempts in rows(
            path, "SELECT url, stage, reason, message, attempts FROM quarantine WHERE stage <> 'feed' OR url <> ''"):
        key = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else url
        assert key not in out, f"{key} quarantined twice"
        out[key] = (stage, reason, message, attempts)
    return out


def test_both_cycles_complete_and_every_entry_is_accounted_for(run):
    for s in (run["first"], run["second"]):
        assert s.status == "completed"
        assert s.entries_seen == s.articles_new + s.duplicates + s.quarantined
    runs = rows(run["path"], "SELECT status, entries_seen, articles_new, duplicates, failures FROM runs ORDER BY started_at")
    assert [r[0] for r in runs] == ["completed", "completed"]
    assert all(r[1] == r[2] + r[3] + r[4] for r in runs)


def test_limits_bound_the_cycle_time(run):
    # The trickling page and feed each stop at the 2 s total deadline; the bombs, the 50 MB page and the
    # endless body at the byte cap. Extraction and NLP of ~11 articles take a few seconds more.
    assert run["seconds"][0] < 60 and run["seconds"][1] < 30, run["seconds"]


def test_entity_tricks_are_refused_without_expansion(run):
    status = dict(rows(run["path"], "SELECT name, last_status FROM feeds"))
    errors = dict(rows(run["path"], "SELECT name, last_error FROM feeds"))
    assert status["External entity"] == "xml_entities" and status["Billion laughs"] == "xml_entities"
    assert "refused, not expanded" in errors["Billion laughs"]
    leaked = rows(run["path"], "SELECT count(*) FROM articles WHERE text LIKE '%root:%' OR title LIKE '%lol%'")
    assert leaked == [(0,)]


def test_bombs_huge_endless_and_trickling_bodies_stop_at_their_limits(run):
    fs, q = run["fs"], quarantine_by_path(run["path"])
    for path, (stage, reason) in fs.expected_pages.items():
        assert q[path][:2] == (stage, reason), (path, q.get(path))
    assert "cap" in q["/p/huge"][2] and "within 2s" in q["/p/trickle"][2]
    status = dict(rows(run["path"], "SELECT name, last_status FROM feeds"))
    assert status["Gzip bomb feed"] == "too_large" and status["Trickling feed"] == "timeout"
    raw_cap = MAX_BYTES + 256 * 1024 + 256 * 1024  # the client's raw slack plus socket buffers
    for path in ("/p/huge", "/p/endless"):
        (t,) = fs.transfers.by_path[path]
        assert t.client_closed and t.bytes_sent < raw_cap + 8 * 1024 * 1024, (path, t)
    trickles = fs.transfers.by_path["/p/trickle"] + fs.transfers.by_path["/feeds/trickle.xml"]
    # the client hung up at its 2 s deadline; the server notices a write or two later (of 30 s it would trickle)
    assert trickles and all(t.client_closed and t.seconds < TIMEOUT_S + 4 for t in trickles), trickles


def test_broken_and_mislabelled_charsets_decode_sensibly(run):
    text = dict(rows(run["path"], "SELECT regexp_extract(url, '/p/[^?]+'), text FROM articles"))
    assert "Jos\u00e9 Fern\u00e1ndez" in text["/p/bad-utf8"]  # UTF-8 kept; only the two bad bytes are lost
    assert text["/p/bad-utf8"].count("\ufffd") <= 2
    mis = text["/p/mislabelled"]  # windows-1252 labelled UTF-8: read as windows-1252
    assert "\u201cWe will not close the caf\u00e9,\u201d said Jos\u00e9 Fern\u00e1ndez" in mis and "\ufffd" not in mis
    title = rows(run["path"], "SELECT title FROM articles WHERE url LIKE '%latin1-feed-target'")
    assert title == [("Caf\u00e9 soci\u00e9t\u00e9 \u2013 \u201cnews\u201d",)]


def test_a_page_without_article_text_is_quarantined_as_no_text(run):
    stage, reason, message, _ = quarantine_by_path(run["path"])["/p/paywall"]
    assert (stage, reason) == ("extract", "no_text") and "no article text" in message


def test_a_million_character_page_is_quarantined_before_nlp_instead_of_failing_the_cycle(run):
    stage, reason, message, _ = quarantine_by_path(run["path"])["/p/million"]
    # Refused before extraction by the page's text cap, or after cleaning by the article cap.
    assert (stage, reason) == ("extract", "too_long") and re.search(r"over the 10{5,6} limit", message)


def test_a_10000_item_feed_is_read_only_up_to_max_items(run):
    big = rows(run["path"], "SELECT status, count(*) FROM feed_items JOIN feeds USING (feed_id) "
                            "WHERE name = 'Ten thousand items' GROUP BY status ORDER BY status")
    assert big == [("duplicate", MAX_ITEMS - 1), ("loaded", 1)]  # 200 items read, all one article
    assert run["requests"]["/p/big-target"] == 1


def test_every_duplicate_item_points_at_a_loaded_article(run):
    dangling = rows(run["path"], "SELECT count(*) FROM feed_items f WHERE article_id IS NOT NULL "
                                 "AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.article_id = f.article_id)")
    assert dangling == [(0,)]


def test_repeated_guids_and_items_without_links_lose_nothing(run):
    urls = [r[0] for r in rows(run["path"], "SELECT url FROM articles")]
    for i in (2, 3, 4):  # three articles behind one GUID: all loaded
        assert sum(u.endswith(f"/p/a{i}") for u in urls) == 1, urls
    assert sum(u.endswith("/p/a0") for u in urls) == 1
    body_only = rows(run["path"], "SELECT count(*) FROM articles WHERE canonical_url LIKE 'urn:newswatch:%'")
    assert body_only == [(1,)]  # the linkless item with a full body became an article
    no_link = rows(run["path"], "SELECT stage, message FROM quarantine WHERE reason = 'no_link' ORDER BY message")
    assert no_link == [("feed", "feed item has neither a link nor a body"),
                       ("feed", "feed item has no link and its body is only a teaser")]


def test_every_article_is_loaded_exactly_once_with_its_rows(run):
    fs = run["fs"]
    urls = [r[0] for r in rows(run["path"], "SELECT url FROM articles")]
    for path in fs.loaded_paths:
        assert sum(u.endswith(path) for u in urls) == 1, path
    assert len(urls) == len(fs.loaded_paths) + 1  # + the body-only item
    orphans = rows(run["path"],
                   "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM feed_items f WHERE f.article_id = a.article_id) "
                   "OR NOT EXISTS (SELECT 1 FROM story_links s WHERE s.article_id = a.article_id)")
    assert orphans == [(0,)]


def test_the_rerun_adds_nothing_and_retries_only_the_retriable(run):
    s = run["second"]
    assert s.articles_new == 0
    q1 = {(r[0], r[1]): r[2] for r in run["q1"]}
    q2 = {(r[0], r[1]): r[2] for r in rows(run["path"], "SELECT stage, item_key, attempts FROM quarantine")}
    assert q1.keys() == q2.keys()  # no fault recorded twice
    trickle = quarantine_by_path(run["path"])["/p/trickle"]
    assert trickle[3] == 2  # a timeout is retried in the next cycle (up to 3 attempts) ...
    assert run["requests"]["/p/trickle"] == 2
    for path in ("/p/huge", "/p/endless", "/p/gzip-bomb", "/p/br-bomb", "/p/paywall", "/p/million"):
        assert run["requests"][path] == 1, path  # ... a final failure is not fetched again
