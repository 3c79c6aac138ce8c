"""Adaptive polling through real cycles, as ``serve`` runs them (``respect_schedule=True``).

Four feeds on one loopback site, with intervals scaled down to seconds so a dozen real cycles show the
whole behaviour: a busy feed (a new item on every poll) stays at the minimum interval; a quiet feed
(always 304) is polled less and less often, up to the maximum; a failing feed (HTTP 500) backs off
exponentially up to the cap, is retried rather than abandoned, and recovers; a gone feed (404) is
disabled after ``disable_after_gone`` polls, says why in ``feeds.disabled_reason``, and is never
polled again. The unit rules themselves are in tests/test_polling.py.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import duckdb
import pytest

from demosite.corpus import synthetic_articles, synthetic_page_html
from demosite.loopback import Route, strong_etag
from tests.conftest import loopback_settings
from tests.growing_site import growing_site, rss_document

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(240)]

MIN_S, MAX_S, BACKOFF_S, GONE_AFTER = 1.2, 6.0, 4.8, 3
MAX_RUN_SECONDS = 120.0  # cycles go on until every feed has shown its behaviour (typically ~40 s here)
RECOVER_AFTER = 4  # failing polls before the failing feed comes back (the back-off hits its cap twice)
TOL = 0.05


def _feed_state(path: str) -> dict[str, dict]:
    con = duckdb.connect(path, read_only=True)
    try:
        cur = con.execute("SELECT name, poll_interval_seconds, next_poll_at, last_polled_at, consecutive_failures, "
                          "last_status, disabled, disabled_reason FROM feeds")
        cols = [d[0] for d in cur.description]
        return {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}
    finally:
        con.close()


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    from flows.cycle import run_cycle

    tmp = tmp_path_factory.mktemp("polling")
    site = growing_site(60, n_feeds=1, per_poll=1)
    quiet_article = synthetic_articles(1, seed=99)[0]
    site.add(quiet_article.path, Route(synthetic_page_html(quiet_article, site.base_url).encode()))
    quiet_body = rss_document(9, [quiet_article], site.base_url)
    site.add("/quiet.xml", Route(quiet_body, content_type="application/rss+xml", etag=strong_etag(quiet_body)))
    failing = {"polls": 0}

    def flaky(h: BaseHTTPRequestHandler) -> None:
        failing["polls"] += 1
        down = failing["polls"] <= RECOVER_AFTER
        body = b"down for maintenance" if down else rss_document(8, [], site.base_url)
        h.send_response(500 if down else 200)
        h.send_header("Content-Type", "text/plain" if down else "application/rss+xml")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    site.add("/flaky.xml", flaky)
    # /gone.xml has no route: the site answers 404.
    feeds = [{"name": "busy", "url": site.url("/grow/0.xml")}, {"name": "quiet", "url": site.url("/quiet.xml")},
             {"name": "failing", "url": site.url("/flaky.xml")}, {"name": "gone", "url": site.url("/gone.xml")}]
    settings = loopback_settings(
        tmp, feeds, nlp={"enabled": False},
        polling={"min_interval_minutes": MIN_S / 60, "max_interval_minutes": MAX_S / 60,
                 "max_backoff_minutes": BACKOFF_S / 60, "disable_after_gone": GONE_AFTER},
    )
    states: list[dict[str, dict]] = []
    summaries = []
    def done() -> bool:
        if not states:
            return False
        quiet_at_max = sum(1 for r in _polls_of(states, "quiet") if r["poll_interval_seconds"] >= MAX_S - TOL) >= 2
        recovered = any(r["consecutive_failures"] == 0 for r in _polls_of(states, "failing")[RECOVER_AFTER:])
        return quiet_at_max and recovered and states[-1]["gone"]["disabled"]

    with site:
        t_end = time.monotonic() + MAX_RUN_SECONDS
        while not done() and time.monotonic() < t_end:
            summaries.append(run_cycle(settings, respect_schedule=True))
            states.append(_feed_state(settings.warehouse.path))
            due = [s["next_poll_at"] for s in states[-1].values() if not s["disabled"] and s["next_poll_at"]]
            wait = (min(due).timestamp() - time.time()) if due else 0.5
            time.sleep(min(max(wait, 0.0), 2.0))
        polls = {p: len(site.requests_to(p)) for p in ("/grow/0.xml", "/quiet.xml", "/flaky.xml", "/gone.xml")}
    return {"states": states, "summaries": summaries, "polls": polls}


def _polls_of(states: list[dict[str, dict]], name: str) -> list[dict]:
    """The feed's state after each poll (a new ``last_polled_at``), in order."""
    out, last = [], None
    for s in states:
        row = s[name]
        if row["last_polled_at"] is not None and row["last_polled_at"] != last:
            out.append(row)
            last = row["last_polled_at"]
    return out


def _wait(row: dict) -> float:
    return (row["next_poll_at"] - row["last_polled_at"]).total_seconds()


def test_every_cycle_polls_only_the_feeds_that_are_due(history):
    assert all(s.status == "completed" or s.feeds_failed for s in history["summaries"])
    assert len(history["summaries"]) >= 8
    assert any(s.feeds_polled < 4 for s in history["summaries"][1:])  # not everything, every time


def test_busy_feed_stays_at_the_minimum_interval_and_is_polled_most(history):
    busy = _polls_of(history["states"], "busy")
    assert all(abs(r["poll_interval_seconds"] - MIN_S) < TOL for r in busy)
    polls = history["polls"]
    assert polls["/grow/0.xml"] > polls["/quiet.xml"]
    # Cycles run every ~2-4 s here, longer than the busy feed's interval: it is polled in every cycle,
    # while cycles that leave the (slowed-down) quiet feed alone appear.
    states = history["states"]
    skipped_quiet = sum(1 for a, b in zip(states, states[1:], strict=False)
                        if b["busy"]["last_polled_at"] != a["busy"]["last_polled_at"]
                        and b["quiet"]["last_polled_at"] == a["quiet"]["last_polled_at"])
    assert skipped_quiet >= 1
    assert history["states"][-1]["quiet"]["poll_interval_seconds"] == pytest.approx(MAX_S)


def test_quiet_feed_slows_down_by_half_each_time_up_to_the_maximum(history):
    intervals = [r["poll_interval_seconds"] for r in _polls_of(history["states"], "quiet")]
    # First poll: its one item is new, so the interval stays at the minimum; then x1.5 per silent poll.
    expected = [MIN_S] + [min(MIN_S * 1.5 ** k, MAX_S) for k in range(1, len(intervals))]
    assert intervals == pytest.approx(expected, abs=TOL)
    assert intervals[-2:] == pytest.approx([MAX_S, MAX_S])  # and stays there
    assert all(abs(_wait(r) - r["poll_interval_seconds"]) < TOL for r in _polls_of(history["states"], "quiet"))


def test_failing_feed_backs_off_up_to_the_cap_is_retried_and_recovers(history):
    rows = _polls_of(history["states"], "failing")
    failures = [r for r in rows if r["consecutive_failures"] > 0]
    assert [r["consecutive_failures"] for r in failures] == list(range(1, RECOVER_AFTER + 1))
    waits = [_wait(r) for r in failures]
    assert waits == pytest.approx([min(MIN_S * 2**k, BACKOFF_S) for k in range(RECOVER_AFTER)], abs=TOL)
    assert not any(r["disabled"] for r in rows)
    assert all(r["last_status"] == "http_500" for r in failures)
    recovered = rows[len(failures):]
    assert recovered and recovered[0]["consecutive_failures"] == 0 and recovered[0]["last_status"] == "ok"


def test_gone_feed_is_disabled_after_the_configured_count_with_a_reason_and_left_alone(history):
    final = history["states"][-1]["gone"]
    assert final["disabled"] is True
    assert final["disabled_reason"] == f"gone (http_404) {GONE_AFTER} times"
    assert history["polls"]["/gone.xml"] == GONE_AFTER  # never polled again once disabled
    assert [r["consecutive_failures"] for r in _polls_of(history["states"], "gone")] == list(range(1, GONE_AFTER + 1))
