"""One poll cycle, step by step, as plain functions the Prefect flow wires together.

Why: the flow stays a thin layer of tasks; each step here is testable without Prefect, and the
single-writer rule is visible: only ``begin_cycle``, ``planned_items`` (read), ``load_cycle`` and
``finish_cycle`` open the warehouse, each for one short transaction.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from extract.http import FetchPolicy, HttpClient, redacted_url
from newswatch import secrets
from newswatch.config import Settings
from newswatch.faults import crash_point
from newswatch.models import Rejection
from newswatch.records import Candidate, FeedPoll, FeedTarget, PageJob, Processed
from pipeline.alert_routes import alert_routes
from pipeline.bulkhead import internal_error_records
from pipeline.progress import NO_PROGRESS, Progress
from pipeline.search_upkeep import refreshed_search_index
from pipeline.stages import item_key_for, page_job, poll_feed
from transform.polling import PollBounds
from transform.urls import article_id_for, normalized_url
from warehouse import db
from warehouse.lake import LakePaths, publish_lake
from warehouse.load import LoadBatch, LoadCounts, load_batch
from warehouse.outbox import queue_alerts
from warehouse.quarantine import attempts_of
from warehouse.retention import moved_to_cold, prune_texts
from warehouse.snapshot import publish_snapshot
from warehouse.state import due_feeds, existing_articles, feed_id_for, known_items, sync_feeds
from warehouse.stories import StoryIndex
from warehouse.trend_tables import refresh_trend_tables

# A page that fails with a retriable error (timeout, 5xx) is retried in later cycles this many times
# before it is recorded as finally quarantined; three attempts span at least two poll intervals.
MAX_PAGE_ATTEMPTS = 3

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """Which entries of the polled feeds need work this cycle."""

    candidates: list[Candidate] = field(default_factory=list)
    known: list[Candidate] = field(default_factory=list)
    duplicates: list[tuple[Candidate, str]] = field(default_factory=list)
    followers: dict[str, list[Candidate]] = field(default_factory=dict)  # same article from another feed this cycle
    rejections: list[tuple[Candidate, Rejection]] = field(default_factory=list)
    hold_validators: set[str] = field(default_factory=set)
    seen: int = 0
    deferred: int = 0


@dataclass(frozen=True, slots=True)
class CycleSummary:
    run_id: str
    status: str
    feeds_polled: int
    feeds_failed: int
    entries_seen: int
    articles_new: int
    duplicates: int
    quarantined: int
    deferred: int
    seconds: float
    message: str = ""
    internal_errors: int = 0  # of the quarantined items and failed feeds, those a bug caused
    # Wall seconds per stage, in cycle order (STAGES names them); ``seconds`` covers all of them, publication included.
    stage_seconds: dict[str, float] = field(default_factory=dict, compare=False, hash=False)


# The stages of a cycle as ``CycleSummary.stage_seconds`` names them, in order. "load" holds the
# insert only: the story index, the trend tables, alert queueing, text retention and the search index
# are timed apart.
STAGES = ("begin", "poll", "plan", "fetch", "process", "story_index", "load", "trends", "queue_alerts",
          "retention", "search_index", "deliver", "feed_health", "finish", "publication")


def cycle_summary(run_id: str, polls: list[FeedPoll], plan: Plan, counts: LoadCounts, *, seconds: float,
                  max_failure_ratio: float) -> CycleSummary:
    """The cycle's summary and final status, decided from its counts.

    A cycle fails only when more than ``max_failure_ratio`` of the polled feeds failed: a bad feed or page is
    recorded, not fatal. Internal errors are named in the message even when the cycle completed (they are
    bugs, not bad input).
    """
    failed_feeds = feeds_failed(polls)
    too_many = bool(polls) and failed_feeds / len(polls) > max_failure_ratio
    notes = [f"{failed_feeds} of {len(polls)} feeds failed"] if too_many else []
    if counts.internal_errors:
        notes.append(f"{counts.internal_errors} internal error(s), quarantined with reason internal_error")
    return CycleSummary(run_id, "failed" if too_many else "completed", len(polls), failed_feeds, plan.seen,
                        counts.loaded, counts.duplicates, counts.quarantined, plan.deferred, round(seconds, 2),
                        "; ".join(notes), counts.internal_errors)


def fetch_policy(settings: Settings) -> FetchPolicy:
    f = settings.fetch
    return FetchPolicy(
        timeout_seconds=f.timeout_seconds, max_bytes=f.max_bytes, max_redirects=f.max_redirects,
        user_agent=f.user_agent, allow_private_networks=f.allow_private_networks,
        per_host_concurrency=f.per_host_concurrency, per_host_delay_seconds=f.per_host_delay_seconds,
    )


def poll_bounds(settings: Settings) -> PollBounds:
    p = settings.polling
    return PollBounds(p.min_interval_minutes * 60, p.max_interval_minutes * 60, p.max_backoff_minutes * 60,
                      p.disable_after_gone)


def begin_cycle(settings: Settings, *, respect_schedule: bool, now: datetime | None = None,
                lookahead: timedelta = timedelta(0)) -> tuple[str, list[FeedTarget]]:
    """Migrate, sync the configured feeds, record the run as started and return the feeds to poll
    (with ``respect_schedule``: those due before ``now + lookahead``)."""
    now = now or datetime.now(UTC)
    run_id = now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    with db.writer(settings.warehouse.path) as con, db.transaction(con):
        con.execute("UPDATE runs SET status='crashed', finished_at=?, lake_seq=nextval('lake_seq') WHERE status='running'", [now]).fetchall()
        sync_feeds(con, [(f.name, f.url) for f in settings.feeds])
        con.execute("INSERT INTO runs (run_id, started_at, status) VALUES (?, ?, 'running')", [run_id, now]).fetchall()
        urls = {feed_id_for(f.url): f.url for f in settings.feeds if f.enabled}  # enabled: false pauses a feed
        targets = due_feeds(con, list(urls), now=now, respect_schedule=respect_schedule, lookahead=lookahead)
    # Poll the configured URL (secrets expanded); the warehouse only holds its redacted form.
    return run_id, [replace(t, url=urls[t.feed_id]) for t in targets]


def polled_feeds(settings: Settings, targets: list[FeedTarget], client: HttpClient,
                 progress: Progress = NO_PROGRESS) -> list[FeedPoll]:
    """Poll every target concurrently (the client enforces per-host limits); ``progress`` hears of each poll."""
    if not targets:
        return []

    def one(t: FeedTarget) -> FeedPoll:
        try:
            return poll_feed(client, t, max_items=settings.fetch.max_items_per_feed)
        finally:
            progress.advance("poll")

    with ThreadPoolExecutor(max_workers=min(settings.fetch.concurrency, len(targets))) as ex:
        return list(ex.map(one, targets))


def _canonical_for(feed_id: str, item_key: str, url: str) -> str:
    # Redacted first: a feed that copies its API key into item links must not put it in article ids.
    return normalized_url(secrets.redacted(url)) if url else f"urn:newswatch:{feed_id}:{item_key}"


def planned_items(settings: Settings, polls: list[FeedPoll]) -> Plan:
    """Split the polled entries into known, duplicate and new candidates (capped per cycle)."""
    plan = Plan()
    cands: list[Candidate] = []
    for p in polls:
        seen_keys: set[str] = set()
        for e in p.entries:
            key = item_key_for(e)
            if key in seen_keys:  # a GUID repeated inside one document
                continue
            seen_keys.add(key)
            cands.append(Candidate(p.feed_id, key, e, _canonical_for(p.feed_id, key, e.url)))
    with db.writer(settings.warehouse.path) as con:
        known = known_items(con, [(c.feed_id, c.item_key) for c in cands])
        fresh = [c for c in cands if (c.feed_id, c.item_key) not in known]
        existing = existing_articles(con, [article_id_for(c.canonical_url) for c in fresh])
    plan.known = [c for c in cands if (c.feed_id, c.item_key) in known]
    leaders: dict[str, Candidate] = {}
    limit = settings.fetch.max_articles_per_cycle
    for c in fresh:
        aid = article_id_for(c.canonical_url)
        if aid in existing:
            plan.duplicates.append((c, aid))
        elif aid in leaders:
            plan.followers.setdefault(aid, []).append(c)
        elif not c.entry.url and not c.entry.content_html:
            plan.rejections.append((c, Rejection("feed", c.item_key, "", "no_link", "feed item has neither a link nor a body")))
        elif len(leaders) >= limit:
            plan.deferred += 1
            plan.hold_validators.add(c.feed_id)
            continue
        else:
            leaders[aid] = c
    plan.candidates = list(leaders.values())
    plan.seen = len(cands) - plan.deferred
    return plan


def fetched_jobs(settings: Settings, candidates: list[Candidate], client: HttpClient,
                 progress: Progress = NO_PROGRESS) -> tuple[list[PageJob], list[tuple[Candidate, Rejection, bool]]]:
    """Fetch candidate pages concurrently; ``progress`` hears of each page. Rejections carry whether the
    failure is retriable."""
    if not candidates:
        return [], []
    now = datetime.now(UTC)

    def one(c: Candidate) -> PageJob | Rejection:
        try:
            return page_job(client, c, now=now, item_seconds=settings.runner.item_seconds)
        finally:
            progress.advance("fetch")

    with ThreadPoolExecutor(max_workers=min(settings.fetch.concurrency, len(candidates))) as ex:
        results = list(ex.map(one, candidates))
    crash_point("during_fetch")
    jobs: list[PageJob] = []
    rejections: list[tuple[Candidate, Rejection, bool]] = []
    for cand, res in zip(candidates, results, strict=True):
        if isinstance(res, Rejection):
            rejections.append((cand, res, res.retriable))
        else:
            jobs.append(res)
    return jobs, rejections


def load_cycle(settings: Settings, run_id: str, polls: list[FeedPoll], plan: Plan, processed: list[Processed],
           fetch_rejections: list[tuple[Candidate, Rejection, bool]], *, now: datetime | None = None) -> LoadCounts:
    """The single write of the cycle: everything in one transaction."""
    now = now or datetime.now(UTC)
    batch = LoadBatch(run_id=run_id, now=now, polls=polls, known=plan.known, duplicates=list(plan.duplicates))
    batch.hold_validators |= plan.hold_validators
    rejected: list[tuple[Candidate, Rejection, bool]] = [(c, r, False) for c, r in plan.rejections]
    rejected += [(c, r, retry) for c, r, retry in fetch_rejections]
    for p in processed:
        if p.article is not None:
            batch.articles.append((p.candidate, p.article, p.analysis, p.topics))
        elif p.rejection is not None:
            rejected.append((p.candidate, p.rejection, False))
    # A leader's article may have taken the page's rel=canonical: followers point at what was loaded.
    loaded_as = {article_id_for(c.canonical_url): a.article_id for c, a, _, _ in batch.articles}
    failed = {article_id_for(c.canonical_url): r for c, r, _ in rejected}
    for aid, followers in plan.followers.items():
        for f in followers:
            if aid in loaded_as:
                batch.duplicates.append((f, loaded_as[aid]))
            else:
                r = failed[aid]
                rejected.append((f, Rejection(r.stage, f.item_key, redacted_url(f.entry.url), r.reason, r.message,
                                              retriable=r.retriable), r.retriable))
    with db.writer(settings.warehouse.path) as con, db.transaction(con):
        retry_keys = [r.item_key for _, r, retry in rejected if retry]
        attempts = attempts_of(con, "fetch", retry_keys)
        for cand, rej, retry in rejected:
            final = not retry or attempts.get(rej.item_key, 0) + 1 >= MAX_PAGE_ATTEMPTS
            if not final:
                batch.hold_validators.add(cand.feed_id)
            batch.rejections.append((cand, rej, final))
        for poll in polls:
            if poll.status == "failed":
                batch.rejections.append((None, Rejection("feed", poll.feed_id, poll.url, poll.reason or "error",
                                                         poll.message or ""), True))
        logged_internal_errors([r for _, r, _ in batch.rejections])
        tuned: dict[str, Any] = {k: v for k, v in (("threshold", settings.stories.threshold),
                                    ("containment_threshold", settings.stories.containment_threshold)) if v}
        clock = StageClock()
        # A cycle without new articles has nothing to match: it does not read the story window at all.
        stories = (StoryIndex.load(con, window_days=settings.stories.window_days, **tuned) if batch.articles
                   else StoryIndex(window_days=settings.stories.window_days, **tuned))
        clock.lap("story_index")
        counts = load_batch(con, batch, stories, poll_bounds(settings))
        clock.lap("load")
        refresh_trend_tables(con)  # the views' daily counts commit with the rows they count
        clock.lap("trends")
        # the outbox, in the same transaction as the articles; stories are examined when an item arrived
        queue_alerts(con, alert_routes(settings), now=now, new_items=bool(counts.loaded or batch.duplicates))
        clock.lap("queue_alerts")
        prune_texts(con, keep_days=settings.warehouse.retention_text_days, now=now)
    clock.lap("retention")  # the commit included
    refreshed_search_index(settings.warehouse.path, run_id)  # after the commit: the index follows the warehouse
    clock.lap("search_index")
    counts.stage_seconds.update(clock.seconds)
    return counts


class StageClock:
    """Wall seconds between consecutive ``lap`` calls, by stage name (the names of ``STAGES``)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.seconds: dict[str, float] = {}
        self._last = self.started

    def lap(self, stage: str) -> None:
        t = time.monotonic()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + t - self._last
        self._last = t

    def split(self, stage: str, parts: dict[str, float]) -> None:
        """Replace ``stage``'s time by the ``parts`` a task timed inside it; what is left stays under ``stage``
        (the task's orchestration, or the part it did not time)."""
        inner = {k: v for k, v in parts.items() if k != stage}
        self.seconds[stage] = max(0.0, self.seconds.get(stage, 0.0) - sum(inner.values()))
        for k, v in inner.items():
            self.seconds[k] = self.seconds.get(k, 0.0) + v

    def in_order(self) -> dict[str, float]:
        """The stages timed so far, in cycle order, rounded for the summary."""
        return {k: round(self.seconds[k], 4) for k in STAGES if k in self.seconds}


def logged_internal_errors(rejections: list[Rejection]) -> int:
    """Log each distinct internal error of the cycle once, with its traceback; returns how many items had one.

    Why once: the quarantine keeps every item; the log is for the operator, who needs each bug once with
    where it was raised and how many items it hit, not the same traceback 500 times.
    """
    records = internal_error_records(rejections)
    for rec in records:
        log.error("internal error in stage %s, %d item(s) (e.g. %s): %s raised at %s\n%s", rec.stage, rec.count,
                  rec.example_url or "-", rec.error_type, rec.location, rec.message)
    return sum(rec.count for rec in records)


def finish_cycle(settings: Settings, run_id: str, summary: CycleSummary, *, started: float | None = None) -> CycleSummary:
    """Record the run's counts and final status, publish what the cycle changed to the analysts' lake (and the
    full copy of the file when configured), and return the summary with the finish and publication timed and
    ``seconds`` counted up to the end of publication.

    Why the second write: the published ``runs`` must carry the run as finished, but the run's end is only
    known once publication is done, so the live row gets its final ``finished_at`` afterwards (the published
    copy is earlier by the publication's duration). ``started``: the cycle's ``time.monotonic()`` at its start;
    without it ``seconds`` gains only this step.
    """
    t0 = time.monotonic()
    paths = LakePaths.beside(settings.warehouse.path, settings.warehouse.lake_dir)
    with db.writer(settings.warehouse.path) as con:
        con.execute(
            "UPDATE runs SET finished_at=?, status=?, feeds_polled=?, feeds_failed=?, entries_seen=?, articles_new=?, "
            "duplicates=?, failures=?, message=?, lake_seq=nextval('lake_seq') WHERE run_id=?",
            [datetime.now(UTC), summary.status, summary.feeds_polled, summary.feeds_failed, summary.entries_seen,
             summary.articles_new, summary.duplicates, summary.quarantined, summary.message, run_id],
        ).fetchall()
        t1 = time.monotonic()
        publication = publish_lake(con, paths)
        if settings.warehouse.hot_days is not None:
            moved_to_cold(con, publication.version, paths, hot_days=settings.warehouse.hot_days, now=datetime.now(UTC))
    if settings.warehouse.snapshot_copy:
        publish_snapshot(settings.warehouse.path, settings.warehouse.snapshot_dir)
    t2 = time.monotonic()
    with db.writer(settings.warehouse.path) as con:
        con.execute("UPDATE runs SET finished_at=?, lake_seq=nextval('lake_seq') WHERE run_id=?", [datetime.now(UTC), run_id]).fetchall()
    t3 = time.monotonic()
    stages = {**summary.stage_seconds, "finish": (t1 - t0) + (t3 - t2), "publication": t2 - t1}
    total = (t3 - started) if started is not None else summary.seconds + (t3 - t0)
    return replace(summary, seconds=round(total, 2), stage_seconds={k: round(v, 4) for k, v in stages.items()})


def chunked(items: list[PageJob], size: int, workers: int = 1, min_size: int = 4) -> list[list[PageJob]]:
    """Consecutive chunks of at most ``size`` items that shrink towards the end ("guided" scheduling).

    Why: the workers take chunks in order, and equal chunks leave a worker idle at the end for up to a
    whole chunk (measured: 400 articles in 25 chunks of 16 on 2 workers, one worker alone for the last
    ~1.6 s, 7% of the cycle). A chunk is at most an equal share of what remains over ``2 * workers``, so
    the last chunks are small and the workers finish within a small chunk of each other. ``min_size``
    keeps a chunk's work (~0.1 s an article) well above the ~10-40 ms a Prefect task costs.
    """
    out: list[list[PageJob]] = []
    i = 0
    while i < len(items):
        k = max(min_size, min(size, -(-(len(items) - i) // (2 * max(1, workers)))))
        out.append(items[i : i + k])
        i += k
    return out


def feeds_failed(polls: list[FeedPoll]) -> int:
    return sum(1 for p in polls if p.status == "failed")
