"""The cycle's single write: one short transaction that loads a whole batch, or nothing.

Why: DuckDB has one writer and is built for bulk work (docs/stack-notes.md#locking). Articles, their stories,
entities, quotes, topic matches, the per-feed cursors, quarantine rows and the alert outbox are all
written together, so a crash leaves either the previous state or the new one, never half a batch,
and a rerun finds everything it already did. Keys are deterministic, inserts anti-join on them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

import duckdb

from newswatch.errors import INTERNAL_ERROR
from newswatch.faults import crash_point
from newswatch.models import Article, ArticleAnalysis, Rejection
from newswatch.records import Candidate, FeedPoll
from transform.nlp.entity_merge import merged_analysis, surname_targets
from transform.polling import PollBounds, next_poll_after_failure, next_poll_after_success
from transform.urls import stable_id
from warehouse.frames import insert_rows
from warehouse.quarantine import quarantined
from warehouse.state import existing_articles, feed_rows
from warehouse.stories import StoryIndex


@dataclass
class LoadBatch:
    """What one cycle hands to the writer."""

    run_id: str
    now: datetime
    polls: list[FeedPoll] = field(default_factory=list)
    articles: list[tuple[Candidate, Article, ArticleAnalysis | None, dict[str, tuple[str, ...]]]] = field(default_factory=list)
    known: list[Candidate] = field(default_factory=list)  # entries the feed carried before
    duplicates: list[tuple[Candidate, str]] = field(default_factory=list)  # (entry, article_id it duplicates)
    rejections: list[tuple[Candidate | None, Rejection, bool]] = field(default_factory=list)  # (.., final?)
    hold_validators: set[str] = field(default_factory=set)  # feeds with items left for a later cycle
    feed_ids_with_new: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class LoadCounts:
    loaded: int
    duplicates: int
    quarantined: int
    new_article_ids: tuple[str, ...]
    internal_errors: int = 0  # items (and feed polls) quarantined internal_error: bugs, not bad input
    # Wall seconds of the load's parts (story index, insert, alert queueing ...), filled by the caller that times them.
    stage_seconds: dict[str, float] = field(default_factory=dict, compare=False, hash=False)


def load_batch(con: duckdb.DuckDBPyConnection, batch: LoadBatch, stories: StoryIndex, bounds: PollBounds) -> LoadCounts:
    """Write the batch in one transaction. The caller opens and closes the transaction."""
    now = batch.now
    # 1. Articles that are really new (an earlier cycle or an earlier item of this batch may have them).
    ids = sorted({a.article_id for _, a, _, _ in batch.articles})
    existing = existing_articles(con, ids)
    fresh: list[tuple[Candidate, Article, ArticleAnalysis | None, dict[str, tuple[str, ...]]]] = []
    seen_ids: set[str] = set(existing)
    duplicates = list(batch.duplicates)
    for cand, art, analysis, topics in sorted(batch.articles, key=lambda t: (t[1].published_at, t[1].article_id)):
        if art.article_id in seen_ids:
            duplicates.append((cand, art.article_id))
            continue
        seen_ids.add(art.article_id)
        fresh.append((cand, art, analysis, topics))

    # ``fresh`` holds no stored article, and a story link is written with its article: none is linked yet
    assignments = {s.article_id: s.story_id for s in stories.assign(con, [a for _, a, _, _ in fresh], unlinked=True)}
    insert_rows(
        con, "articles",
        ["article_id", "url", "canonical_url", "feed_id", "title", "author", "published_at", "published_at_source",
         "fetched_at", "language", "text", "word_count", "content_hash", "story_id", "run_id"],
        [(a.article_id, a.url, a.canonical_url, a.feed_id, a.title, a.author, a.published_at, a.published_at_source,
          a.fetched_at, a.language, a.text, a.word_count, a.content_hash, assignments[a.article_id], batch.run_id)
         for _, a, _, _ in fresh],
        anti_join_on=["article_id"],
    )
    crash_point("during_load")  # articles written, the rest of the batch not yet: the transaction must roll back
    insert_rows(
        con, "topic_matches", ["article_id", "topic", "matched_terms", "matched_at"],
        [(a.article_id, t, list(terms), now) for _, a, _, topics in fresh for t, terms in topics.items()],
        anti_join_on=["article_id", "topic"],
    )
    _load_analyses(con, [(a.article_id, an) for _, a, an, _ in fresh if an is not None], now)

    # 2. The per-feed record of items, and quarantine.
    items: list[tuple[str, str, str, str | None, str, datetime]] = [
        (c.feed_id, c.item_key, c.canonical_url, a.article_id, "loaded", now) for c, a, _, _ in fresh]
    items += [(c.feed_id, c.item_key, c.canonical_url, aid, "duplicate", now) for c, aid in duplicates]
    items += [(c.feed_id, c.item_key, c.canonical_url, None, "quarantined", now) for c, _, final in batch.rejections if c and final]
    insert_rows(con, "feed_items", ["feed_id", "item_key", "canonical_url", "article_id", "status", "first_seen_at"],
                items, anti_join_on=["feed_id", "item_key"])
    quarantined(con, [(c.feed_id if c else r.item_key, r) for c, r, _ in batch.rejections], run_id=batch.run_id, now=now)

    # 3. Feed state, advanced only now that the items are committed.
    new_per_feed = Counter(c.feed_id for c, _, _, _ in fresh)
    _update_feeds(con, batch, new_per_feed, bounds)
    item_rejections = sum(1 for c, _, _ in batch.rejections if c is not None)
    internal = sum(1 for _, r, _ in batch.rejections if r.reason == INTERNAL_ERROR)
    con.execute("UPDATE runs SET internal_errors=?, lake_seq=nextval('lake_seq') WHERE run_id=?", [internal, batch.run_id]).fetchall()
    return LoadCounts(len(fresh), len(duplicates) + len(batch.known), item_rejections,
                      tuple(a.article_id for _, a, _, _ in fresh), internal)


def _with_full_names(con: duckdb.DuckDBPyConnection, analyses: list[tuple[str, ArticleAnalysis]]) -> list[tuple[str, ArticleAnalysis]]:
    """Surname-only PERSON entities joined to the one full name the warehouse or the batch knows."""
    single = {e.entity_id for _, an in analyses for e in an.entities if e.type == "PERSON" and " " not in e.entity_id}
    if not single:
        return analyses
    batch = {e.entity_id: e.name for _, an in analyses for e in an.entities if e.type == "PERSON" and " " in e.entity_id}
    rows = con.execute(
        "SELECT entity_id, name FROM entities WHERE type = 'PERSON' AND contains(entity_id, ' ') "
        "AND split_part(entity_id, ' ', -1) IN (SELECT unnest(?))", [sorted(single)]).fetchall()
    names = {**{r[0]: r[1] for r in rows}, **batch}
    targets = surname_targets(single, names)
    return [(aid, merged_analysis(an, targets, names)) for aid, an in analyses]


def _load_analyses(con: duckdb.DuckDBPyConnection, analyses: list[tuple[str, ArticleAnalysis]], now: datetime) -> None:
    analyses = _with_full_names(con, analyses)
    names: dict[str, Counter[str]] = {}
    types: dict[str, Counter[str]] = {}
    aliases: dict[str, set[str]] = {}
    for _, an in analyses:
        for e in an.entities:
            names.setdefault(e.entity_id, Counter())[e.name] += 1
            types.setdefault(e.entity_id, Counter())[e.type] += 1
            aliases.setdefault(e.entity_id, set()).update(e.aliases or (e.name,))
    ent_rows = [(eid, names[eid].most_common(1)[0][0], types[eid].most_common(1)[0][0], sorted(aliases[eid]), now)
                for eid in sorted(names)]
    insert_rows(con, "entities", ["entity_id", "name", "type", "aliases", "first_seen_at"], ent_rows, anti_join_on=["entity_id"])
    if ent_rows:  # widen the alias lists of entities seen before
        import pandas as pd

        con.register("_ent", pd.DataFrame([(r[0], r[3]) for r in ent_rows], columns=["entity_id", "aliases"]))
        try:
            con.execute(
                "UPDATE entities SET aliases = list_sort(list_distinct(list_concat(entities.aliases, n.aliases))) "
                "FROM _ent n WHERE entities.entity_id = n.entity_id "
                "AND len(list_filter(n.aliases, lambda x: NOT list_contains(entities.aliases, x))) > 0"
            ).fetchall()
        finally:
            con.unregister("_ent")
    insert_rows(con, "mentions", ["article_id", "entity_id", "surface", "start_char", "end_char"],
                [(aid, m.entity_id, m.surface, m.start_char, m.end_char) for aid, an in analyses for m in an.mentions])
    insert_rows(con, "quotes",
                ["quote_id", "article_id", "text", "speaker", "speaker_entity_id", "cue", "start_char", "end_char",
                 "speaker_confidence"],
                [(stable_id("quote", aid, str(q.start_char)), aid, q.text, q.speaker, q.speaker_entity_id, q.cue,
                  q.start_char, q.end_char, q.confidence) for aid, an in analyses for q in an.quotes],
                anti_join_on=["article_id", "quote_id"])  # the article's key finds the stored rows to compare


def _update_feeds(con: duckdb.DuckDBPyConnection, batch: LoadBatch, new_per_feed: Counter[str], bounds: PollBounds) -> None:
    state = feed_rows(con, [p.feed_id for p in batch.polls])
    now = batch.now
    for p in batch.polls:
        row = state.get(p.feed_id)
        if row is None:
            continue
        # DuckDB rows are untyped; the schema makes these DOUBLE (nullable) and INTEGER NOT NULL.
        interval = cast("float | None", row["poll_interval_seconds"])
        if p.status == "failed":
            failures = int(cast("int | None", row["consecutive_failures"]) or 0) + 1
            nxt = next_poll_after_failure(now, interval, failures, p.reason, p.retry_after, bounds)
            con.execute(
                "UPDATE feeds SET last_polled_at=?, last_status=?, last_error=?, consecutive_failures=?, "
                "failing_since=coalesce(failing_since, ?), next_poll_at=?, poll_interval_seconds=?, disabled=?, "
                "disabled_reason=CASE WHEN ? THEN ? ELSE disabled_reason END WHERE feed_id=?",
                [now, p.reason, p.message, failures, now, nxt.next_poll_at, nxt.interval_seconds, nxt.disable,
                 nxt.disable, f"gone ({p.reason}) {failures} times", p.feed_id],
            ).fetchall()
            continue
        new = new_per_feed.get(p.feed_id, 0)
        nxt = next_poll_after_success(now, interval, new, bounds)
        hold = p.feed_id in batch.hold_validators
        con.execute(
            "UPDATE feeds SET last_polled_at=?, last_success_at=?, last_status=?, last_error=NULL, "
            "consecutive_failures=0, failing_since=NULL, next_poll_at=?, poll_interval_seconds=?, "
            "etag=CASE WHEN ? THEN etag ELSE ? END, last_modified=CASE WHEN ? THEN last_modified ELSE ? END, "
            "last_content_hash=CASE WHEN ? THEN last_content_hash ELSE ? END, "
            "last_new_item_at=CASE WHEN ? > 0 THEN ? ELSE last_new_item_at END WHERE feed_id=?",
            [now, now, p.status, nxt.next_poll_at, nxt.interval_seconds, hold, p.etag, hold, p.last_modified,
             hold, p.content_hash, new, now, p.feed_id],
        ).fetchall()
