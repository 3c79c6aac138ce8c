"""Under ``serve``, a cycle also polls the feeds that fall due during the first half of its interval.

Real warehouse built by ``begin_cycle`` (which migrates); the feeds' ``next_poll_at`` are set as polling
would have left them, and the selection is read back through ``begin_cycle`` as a served cycle makes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from flows.serve import poll_lookahead
from pipeline.cycle import begin_cycle
from tests.conftest import loopback_settings

FEEDS = [{"name": n, "url": f"http://127.0.0.1:9/{n}.xml"} for n in ("soon", "mid", "late")]


def _settings(tmp_path, **schedule):
    return loopback_settings(tmp_path, FEEDS, nlp={"enabled": False}, schedule=schedule)


def _set_due(path: str, now: datetime, offsets: dict[str, timedelta]) -> None:
    con = duckdb.connect(path)
    try:
        for name, off in offsets.items():
            con.execute("UPDATE feeds SET next_poll_at = ? WHERE name = ?", [now + off, name])
    finally:
        con.close()


def _due_names(settings, now: datetime, lookahead: timedelta) -> list[str]:
    _, targets = begin_cycle(settings, respect_schedule=True, now=now, lookahead=lookahead)
    return sorted(t.name for t in targets)


def test_lookahead_is_half_the_interval_and_none_under_cron(tmp_path):
    assert poll_lookahead(_settings(tmp_path, every_minutes=1)) == timedelta(seconds=30)
    assert poll_lookahead(_settings(tmp_path, every_minutes=30)) == timedelta(minutes=15)
    assert poll_lookahead(_settings(tmp_path, cron="*/5 * * * *")) == timedelta(0)


def test_feed_due_seconds_after_the_start_is_polled_now_and_one_due_after_the_next_cycle_is_not(tmp_path):
    settings = _settings(tmp_path, every_minutes=1)
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert _due_names(settings, now, timedelta(0)) == ["late", "mid", "soon"]  # never polled: all due
    _set_due(settings.warehouse.path, now, {"soon": timedelta(seconds=5), "mid": timedelta(minutes=5),
                                             "late": timedelta(minutes=20)})
    # Without the lookahead the busy feed due 5 s in waits for the next cycle, a minute later.
    assert _due_names(settings, now, timedelta(0)) == []
    assert _due_names(settings, now, poll_lookahead(settings)) == ["soon"]
    # A 15-minute schedule looks 7.5 min ahead: "mid" would otherwise be polled 10 min late.
    assert _due_names(settings, now, poll_lookahead(_settings(tmp_path, every_minutes=15))) == ["mid", "soon"]
    # A feed due after the next cycle (and its lookahead) is never taken early.
    assert "late" not in _due_names(settings, now, timedelta(minutes=15) / 2)


def test_a_one_off_run_ignores_the_lookahead_and_polls_every_enabled_feed(tmp_path):
    settings = _settings(tmp_path, every_minutes=1)
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    begin_cycle(settings, respect_schedule=True, now=now)
    _set_due(settings.warehouse.path, now, {n["name"]: timedelta(hours=1) for n in FEEDS})
    _, targets = begin_cycle(settings, respect_schedule=False, now=now, lookahead=timedelta(0))
    assert sorted(t.name for t in targets) == ["late", "mid", "soon"]
