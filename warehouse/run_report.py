"""What a finished run did beyond its counts, for the end-of-run summary: the feeds that failed and why,
topic matches per topic, alerts queued and sent during the run.

Why: "feeds polled 40 (failed 3)" leaves the operator to find out which three with SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

FAILED_FEEDS_SHOWN = 5


@dataclass(frozen=True, slots=True)
class RunDetails:
    failed_feeds: list[tuple[str, str]] = field(default_factory=list)  # (name, reason), the first few
    more_failed: int = 0
    topic_matches: list[tuple[str, int]] = field(default_factory=list)
    alerts_queued: int = 0
    alerts_sent: int = 0


def run_details(con: duckdb.DuckDBPyConnection, run_id: str) -> RunDetails:
    """The details of run ``run_id`` (its time span from ``runs``)."""
    span = con.execute("SELECT started_at, coalesce(finished_at, now()) FROM runs WHERE run_id = ?", [run_id]).fetchone()
    if span is None:
        return RunDetails()
    started, finished = span
    failed = con.execute(
        # The message's first line: an internal error's message goes on with its traceback, which belongs
        # in the quarantine row and the log, not in a one-screen summary.
        "SELECT coalesce(f.name, q.url),"
        " q.reason || CASE WHEN q.message <> '' THEN ': ' || split_part(q.message, chr(10), 1) ELSE '' END"
        " FROM quarantine q LEFT JOIN feeds f ON f.feed_id = q.item_key"
        " WHERE q.stage = 'feed' AND q.run_id = ? ORDER BY 1", [run_id]).fetchall()
    topics = con.execute(
        "SELECT m.topic, count(*) FROM topic_matches m JOIN articles a USING (article_id)"
        " WHERE a.run_id = ? GROUP BY 1 ORDER BY 2 DESC, 1", [run_id]).fetchall()
    queued, sent = con.execute(
        "SELECT count(*) FILTER (WHERE created_at BETWEEN $s AND $f), count(*) FILTER (WHERE sent_at BETWEEN $s AND $f)"
        " FROM alerts", {"s": started, "f": finished}).fetchone() or (0, 0)
    return RunDetails([(str(n), str(r)[:160]) for n, r in failed[:FAILED_FEEDS_SHOWN]],
                      max(len(failed) - FAILED_FEEDS_SHOWN, 0), [(str(t), int(n)) for t, n in topics],
                      int(queued), int(sent))


def detail_lines(d: RunDetails) -> list[str]:
    """The summary's lines for ``d`` (none for what is empty)."""
    lines = [f"  failing feed {name}: {reason}" for name, reason in d.failed_feeds]
    if d.more_failed:
        lines.append(f"  ... and {d.more_failed} more failing feeds (newswatch feeds)")
    if d.topic_matches:
        lines.append("  topic matches: " + ", ".join(f"{t} {n}" for t, n in d.topic_matches))
    lines.append(f"  alerts queued {d.alerts_queued}, sent {d.alerts_sent}")
    return lines
