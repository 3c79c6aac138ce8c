"""The item boundary (pipeline/bulkhead.py) and the worker budgets (pipeline/workers.py), unit by unit.

The end-to-end cases (real cycles, a hostile site) are in tests/test_hostile_feeds.py; here each piece
is checked on its own: what the boundary catches and what it lets through, that a budget interrupts a
loop in any thread and never fires late, that the parent's watchdog replaces a worker stuck where no
signal reaches it and still returns the rest of the chunk, and that NLP falls back to one article at a
time so only the culprit is lost.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from newswatch import secrets
from newswatch.errors import FatalError
from newswatch.models import FeedEntry, Rejection
from newswatch.records import Candidate, PageJob
from pipeline.bulkhead import INTERNAL_ERROR, TOO_SLOW, guarded, internal_error_records, item_budget
from tests.fault_site import articles

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _boom() -> int:
    return {"a": 1}["b"]


def test_any_exception_becomes_the_items_internal_error_with_type_and_traceback():
    res = guarded("extract", "k1", "http://x/1", _boom)
    assert isinstance(res, Rejection)
    assert (res.stage, res.item_key, res.reason) == ("extract", "k1", INTERNAL_ERROR)
    assert res.message.startswith("internal_error: KeyError: 'b'")
    assert "Traceback (most recent call last)" in res.message and "_boom" in res.message
    assert guarded("extract", "k1", "", lambda: 42) == 42


def test_secrets_are_masked_in_the_kept_traceback():
    secrets.register("s3cr3t-t0ken")

    def leak() -> None:
        raise ValueError("bad response from https://api.example/?key=s3cr3t-t0ken")

    res = guarded("fetch", "k", "", leak)
    assert isinstance(res, Rejection) and "s3cr3t-t0ken" not in res.message and "***" in res.message


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(2), MemoryError(), FatalError("db", "broken")])
def test_interrupts_memory_errors_and_fatal_errors_are_not_swallowed(exc):
    def raise_it() -> None:
        raise exc

    with pytest.raises(type(exc)):
        guarded("extract", "k", "", raise_it)


def _spin() -> None:
    while True:
        pass


def test_a_budget_interrupts_python_that_swallows_exception():
    def stubborn() -> None:
        while True:
            try:
                _spin()
            except Exception:  # the kind of handler parsers are full of: must not eat the budget
                pass

    t0 = time.monotonic()
    res = guarded("extract", "k", "", stubborn, seconds=0.3)
    assert isinstance(res, Rejection) and res.reason == TOO_SLOW
    assert time.monotonic() - t0 < 2


def test_a_budget_works_in_a_thread_that_is_not_the_main_one():
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(guarded("extract", "k", "", _spin, seconds=0.3)))
    t0 = time.monotonic()
    t.start()
    t.join(5)
    assert not t.is_alive() and time.monotonic() - t0 < 3
    assert isinstance(out[0], Rejection) and out[0].reason == TOO_SLOW


@pytest.mark.parametrize("in_thread", [False, True])
def test_a_budget_that_was_not_used_up_never_fires_later(in_thread):
    def body() -> None:
        with item_budget(0.2):
            pass
        time.sleep(0.5)  # a late TooSlow would land here

    if in_thread:
        errors: list[BaseException] = []

        def run() -> None:
            try:
                body()
            except BaseException as e:  # noqa: BLE001 - recording what escaped is the test
                errors.append(e)

        t = threading.Thread(target=run)
        t.start()
        t.join(5)
        assert errors == []
    else:
        body()


def test_internal_errors_are_grouped_by_stage_type_and_place():
    rejections = [guarded("extract", f"k{i}", f"http://x/{i}", _boom) for i in range(3)]
    rejections.append(guarded("nlp", "k9", "http://x/9", _boom))
    rejections.append(Rejection("fetch", "k", "", "http_404", "not found"))
    records = internal_error_records([r for r in rejections if isinstance(r, Rejection)])
    assert sorted((r.stage, r.error_type, r.count) for r in records) == [("extract", "KeyError", 3), ("nlp", "KeyError", 1)]
    assert all(r.location.endswith("in _boom") for r in records)


def _jobs(paths: list[str]) -> list[PageJob]:
    pages = articles(len(paths), seed=4242)
    out = []
    for path, (title, page) in zip(paths, pages, strict=True):
        url = f"http://fault.example{path}"
        cand = Candidate("f1", path, FeedEntry("f1", url, title=title), url)
        out.append(PageJob(cand, url, page, None, NOW))
    return out


def test_the_watchdog_replaces_a_stuck_worker_and_keeps_the_rest_of_the_chunk(monkeypatch):
    from pipeline import workers

    monkeypatch.setenv("NEWSWATCH_FAULT", "stall:extract:/stuck")
    monkeypatch.setattr(workers, "WATCHDOG_SLACK_SECONDS", 2.0)
    workers.shutdown_pool()  # fresh (spawned) workers that see the fault
    try:
        jobs = _jobs(["/a", "/stuck", "/b"])
        before = workers._generation
        t0 = time.monotonic()
        out = workers.processed_chunk(jobs, None, {}, 1, 0.5)
        took = time.monotonic() - t0
        assert [p.candidate.item_key for p in out] == ["/a", "/stuck", "/b"]
        assert out[0].article is not None and out[2].article is not None
        assert out[1].rejection is not None and out[1].rejection.reason == TOO_SLOW
        assert workers._generation >= before + 2  # once for the chunk, once for the culprit alone
        assert took < 60
        # The replacement pool works.
        assert workers.processed_chunk(_jobs(["/c"]), None, {}, 1, 0.5)[0].article is not None
    finally:
        workers.shutdown_pool()


def test_a_looping_page_is_stopped_inside_the_worker_without_replacing_it(monkeypatch):
    from pipeline import workers

    monkeypatch.setenv("NEWSWATCH_FAULT", "spin:extract:/spin")
    workers.shutdown_pool()
    try:
        before = workers._generation
        out = workers.processed_chunk(_jobs(["/spin", "/a"]), None, {}, 1, 0.5)
        assert out[0].rejection is not None and out[0].rejection.reason == TOO_SLOW
        assert out[1].article is not None
        assert workers._generation == before
    finally:
        workers.shutdown_pool()


def test_nlp_falls_back_to_one_article_at_a_time(monkeypatch):
    from pipeline.workers import processed_jobs

    monkeypatch.setenv("NEWSWATCH_FAULT", "raise:nlp:/bad")
    out = processed_jobs(_jobs(["/a", "/bad", "/b"]), "en_core_web_sm", {}, 30)
    assert out[0].analysis is not None and out[2].analysis is not None
    assert out[1].article is None and out[1].rejection is not None
    assert (out[1].rejection.stage, out[1].rejection.reason) == ("nlp", INTERNAL_ERROR)
    assert "InjectedFault" in out[1].rejection.message


def test_the_operator_hears_about_a_cycle_with_internal_errors(mem_db):
    from pipeline.feed_health import operator_incidents
    from pipeline.settings import settings_from_dict

    mem_db.execute("INSERT INTO runs (run_id, started_at, status, internal_errors) VALUES ('r1', ?, 'completed', 3), "
                   "('r2', ?, 'completed', 0)", [NOW, NOW])
    incidents = operator_incidents(mem_db, settings_from_dict({}), now=NOW)
    assert [(i.kind, i.subject) for i in incidents] == [("internal_errors", "r1")]
    assert "3 internal error(s)" in incidents[0].body
