"""Stories in the warehouse: each new article joins the story of an earlier copy, or starts its own.

Why: the load step must decide, inside its one write transaction, which story every new article belongs
to, against everything seen in the last ``window_days`` (across runs and feeds) and without a cost that
grows with the warehouse. ``StoryIndex.load`` rebuilds the in-memory index from ``story_signatures``
(only rows inside the window are read); ``assign`` asks ``transform.stories.story_match`` (the pure
cascade: exact hash, then URL identity, then MinHash-LSH candidates verified on exact shingles, then
same-site headline) where each article of a batch belongs, and writes its decisions to ``story_links``,
``story_signatures`` and ``stories``. The rules and their measured thresholds are in transform/stories.py.

The window is measured on the articles' own times, not the wall clock: a copy joins an earlier article
whose time is within ``window_days`` of its own, so a back catalogue, a backfill or a feed with dates
months off still forms stories. ``load`` reads the window ending now (the usual case); an article dated
outside what is in memory makes ``assign`` read the rows around its time first.

Memory and the ``story_signatures`` table stay bounded: entries older than ``window_days`` before the
article being matched are evicted from memory (still on disk, read again when needed), and a row is
deleted once both its article time and its fetch time are older than ``window_days`` before the newest
article (a wider window set later fills up as new articles arrive). After a rolled-back transaction,
load the index again.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from newswatch.models import Article
from transform.stories import (
    MIN_MATCH_WORDS,
    NEAR_CONTAINMENT,
    NEAR_JACCARD,
    NUM_PERM,
    LshIndex,
    StoryCandidate,
    headline_key,
    story_match,
    text_fingerprint,
    url_version_key,
)

# Bumped when shingling or MinHash change: rows of another version are not loaded (re-fingerprint them).
SIGNATURE_VERSION = 1

@dataclass(frozen=True, slots=True)
class StoryAssignment:
    """The story an article joined, and why (one row of ``story_links``)."""

    article_id: str
    story_id: str
    matched_article_id: str | None
    method: str  # exact | near | url_update | first
    similarity: float | None


@dataclass(slots=True)
class _StoryDelta:
    """What one batch adds to a story row."""

    first_seen: datetime
    last_seen: datetime
    title: str | None
    count: int


def _article_time(a: Article) -> datetime:
    """Published time, but never later than the fetch (a future date is a feed's timezone bug)."""
    return min(a.published_at, a.fetched_at)


class StoryIndex:
    """Stored articles around the times being matched, indexed for story matching. Build it with ``load``."""

    def __init__(
        self,
        *,
        window_days: float = 7,
        threshold: float = NEAR_JACCARD,
        containment_threshold: float = NEAR_CONTAINMENT,
        now: datetime | None = None,
    ) -> None:
        self.window_seconds = window_days * 86400.0
        self.threshold = threshold
        self.containment_threshold = containment_threshold
        self.horizon = (now or datetime.now(UTC)).timestamp()
        self._lsh = LshIndex()
        self._entries: dict[int, StoryCandidate] = {}
        self._by_article: dict[str, int] = {}
        self._by_hash: dict[str, int] = {}
        self._by_url: dict[str, int] = {}
        self._by_headline: dict[str, int] = {}
        self._heap: list[tuple[float, int]] = []
        self._next_slot = 0
        self._pruned_before = float("-inf")
        # The span of article times whose stored rows are all in memory (rows added later are inserted too).
        self._covered = (self.horizon - self.window_seconds, float("inf"))

    @classmethod
    def load(
        cls,
        con: duckdb.DuckDBPyConnection,
        *,
        window_days: float = 7,
        threshold: float = NEAR_JACCARD,
        containment_threshold: float = NEAR_CONTAINMENT,
        now: datetime | None = None,
    ) -> StoryIndex:
        """Rebuild the index from the ``story_signatures`` rows of the window ending at ``now``.

        Args:
            con: a migrated warehouse connection.
            window_days: how far back a new article looks for copies.
            threshold: shingle Jaccard at which two texts are one story (NEAR_JACCARD, measured).
            containment_threshold: containment at which a trimmed or padded copy joins (NEAR_CONTAINMENT).
            now: the end of the window; the wall clock by default.
        Returns:
            The index, holding every signature whose article time is inside the window.
        """
        index = cls(window_days=window_days, threshold=threshold, containment_threshold=containment_threshold, now=now)
        index._add_loaded(index._rows(con, index._covered[0], None))
        return index

    @staticmethod
    def _rows(con: duckdb.DuckDBPyConnection, start: float, end: float | None) -> pa.Table:
        """The stored signatures whose article time is in [start, end] (no upper bound when None)."""
        bounds = {"lo": datetime.fromtimestamp(start, UTC), "v": SIGNATURE_VERSION}
        upper = ""
        if end is not None:
            bounds["hi"] = datetime.fromtimestamp(end, UTC)
            upper = " AND article_time <= $hi"
        return con.sql(
            "SELECT article_id, story_id, epoch(article_time) AS t, content_hash, word_count, url_keys, headline_key,"
            f" shingles, minhash FROM story_signatures WHERE article_time >= $lo{upper} AND signature_version = $v"
            " ORDER BY article_time, article_id",
            params=bounds,
        ).to_arrow_table()

    def _cover(self, con: duckdb.DuckDBPyConnection, t: float) -> None:
        """Make sure every stored row within the window of article time ``t`` is in memory.

        Why: the copies of an old article are old too; they are on disk but not in the window loaded at
        start. Reads only what is missing: the part of [t - window, t + window] outside the covered span.
        """
        lo, hi = t - self.window_seconds, t + self.window_seconds
        c_lo, c_hi = self._covered
        if c_lo <= lo and hi <= c_hi:
            return
        if hi < c_lo or lo > c_hi:  # disjoint: read the whole span; what is already in memory is skipped
            self._add_loaded(self._rows(con, lo, hi))
            self._covered = (lo, hi)
            return
        if lo < c_lo:
            self._add_loaded(self._rows(con, lo, c_lo))
        if hi > c_hi:
            self._add_loaded(self._rows(con, c_hi, hi))
        self._covered = (min(lo, c_lo), max(hi, c_hi))

    def _add_loaded(self, table: pa.Table) -> None:
        if table.num_rows and self._by_article:  # rows already in memory (a span read again) are skipped
            keep = pa.array([aid not in self._by_article for aid in table.column("article_id").to_pylist()])
            table = table.filter(keep)
        if table.num_rows == 0:
            return
        shingles = table.column("shingles").combine_chunks()
        flat = shingles.flatten().to_numpy(zero_copy_only=False).astype(np.uint32, copy=False)
        bounds = np.concatenate([[0], np.cumsum(pc.list_value_length(shingles).to_numpy(zero_copy_only=False))])
        minhash = table.column("minhash").combine_chunks()
        has_sig = minhash.is_valid().to_numpy(zero_copy_only=False)
        sigs = minhash.flatten().to_numpy(zero_copy_only=False).astype(np.uint32).reshape(-1, NUM_PERM)
        cols = [table.column(c).to_pylist() for c in ("article_id", "story_id", "t", "content_hash", "word_count",
                                                       "url_keys", "headline_key")]
        first = self._next_slot
        for i, (aid, sid, t, digest, words, urls, hkey) in enumerate(zip(*cols, strict=True)):
            self._insert(StoryCandidate(aid, sid, float(t), digest, int(words), tuple(urls), hkey,
                                flat[bounds[i] : bounds[i + 1]], bool(has_sig[i])), None)
        if len(sigs):
            slots = np.arange(first, self._next_slot, dtype=np.int64)[has_sig]
            self._lsh.add_many(slots, self._lsh.band_keys(sigs))

    def __len__(self) -> int:
        return len(self._entries)

    def assign(self, con: duckdb.DuckDBPyConnection, articles: Sequence[Article], *,
               unlinked: bool = False) -> list[StoryAssignment]:
        """Decide each article's story and record it; call inside the load transaction, before the inserts.

        Articles are taken in article-time order (published, capped at fetched), so within a batch the
        earliest copy starts the story and later ones join it. Writes ``story_links``, ``story_signatures``
        and inserts or updates ``stories`` (first/last seen, title of the earliest article, count).
        Idempotent: an article already linked is returned as it was and not counted again. ``unlinked``:
        the caller knows that none is (the load passes articles it has just found absent, and a link is
        written with its article), so ``story_links`` is not read: with no key to look up by, that read
        scans every link's id (~25 ms at 1M links, in every cycle with news).

        Returns:
            One assignment per input article, in input order.
        """
        if not articles:
            return []
        done = {} if unlinked else self._linked(con, list(dict.fromkeys(a.article_id for a in articles)))
        linked_at = datetime.now(UTC)
        links: list[StoryAssignment] = []
        sig_rows: list[tuple[StoryCandidate, np.ndarray | None, datetime, datetime]] = []
        deltas: dict[str, _StoryDelta] = {}
        for art in sorted(articles, key=lambda a: (_article_time(a), a.fetched_at, a.article_id)):
            if art.article_id in done:
                continue
            when = _article_time(art)
            self._advance(when.timestamp())
            self._cover(con, when.timestamp())
            fp = text_fingerprint(art.text)
            url_keys = tuple(sorted({k for k in (url_version_key(art.canonical_url), url_version_key(art.url)) if k}))
            entry = StoryCandidate(art.article_id, art.article_id, when.timestamp(), fp.content_hash, fp.word_count,
                                   url_keys, headline_key(art.canonical_url, art.title), fp.shingles,
                                   fp.signature is not None)
            keys = None if fp.signature is None else self._lsh.band_keys(fp.signature)
            found = story_match(entry, _WindowLookup(self, entry.time), functools.partial(self._near, keys, entry.time),
                                jaccard_threshold=self.threshold, containment_threshold=self.containment_threshold)
            if found is None:
                assignment = StoryAssignment(art.article_id, art.article_id, None, "first", None)
            else:
                old = found.candidate
                entry = replace(entry, story_id=old.story_id)
                assignment = StoryAssignment(art.article_id, old.story_id, old.article_id, found.method, found.similarity)
            self._insert(entry, keys)
            done[art.article_id] = assignment
            links.append(assignment)
            sig_rows.append((entry, fp.signature, when, art.fetched_at))
            delta = deltas.get(entry.story_id)
            if delta is None:
                deltas[entry.story_id] = _StoryDelta(when, when, art.title, 1)
            else:  # articles come in time order: the first one seen has the story's title
                delta.first_seen, delta.last_seen = min(delta.first_seen, when), max(delta.last_seen, when)
                delta.title = delta.title or art.title
                delta.count += 1
        self._write(con, links, sig_rows, deltas, linked_at)
        self._prune(con)
        return [done[a.article_id] for a in articles]

    def _slot_near(self, slot: int | None, time: float) -> StoryCandidate | None:
        """The entry at ``slot`` when its article time is within the window of ``time``, else None.

        Why relative: the window runs on the articles' own times, so entries newer than an old article's
        window stay in memory while it is matched, and must not join it.
        """
        if slot is None:
            return None
        entry = self._entries[slot]
        return entry if abs(entry.time - time) <= self.window_seconds else None

    def _near(self, keys: np.ndarray | None, time: float) -> list[StoryCandidate]:
        """The entries sharing an LSH band with ``keys`` within the window of ``time`` (none for a text too
        short to have a signature)."""
        if keys is None:
            return []
        return [e for e in (self._slot_near(slot, time) for slot in self._lsh.candidates(keys)) if e is not None]

    def _insert(self, entry: StoryCandidate, keys: np.ndarray | None) -> None:
        """Add ``entry`` to the maps, and to the LSH under ``keys`` (None: the caller bulk-adds it)."""
        slot = self._next_slot
        self._next_slot += 1
        self._entries[slot] = entry
        self._by_article[entry.article_id] = slot
        if entry.word_count >= MIN_MATCH_WORDS:
            # The newest holder of a key stays longest in the window; any holder leads to the same story.
            self._by_hash[entry.content_hash] = slot
            for key in entry.url_keys:
                self._by_url[key] = slot
            if entry.headline_key:
                self._by_headline[entry.headline_key] = slot
        if keys is not None:
            self._lsh.add(slot, keys)
        heapq.heappush(self._heap, (entry.time, slot))

    def _advance(self, t: float) -> None:
        """Move the pruning clock to ``t`` (never back) and evict entries older than the window before ``t``
        from memory (their rows stay until pruned: an older article read later reads them again)."""
        self.horizon = max(self.horizon, t)
        cutoff = t - self.window_seconds
        if cutoff > self._covered[0]:
            self._covered = (cutoff, self._covered[1])
        while self._heap and self._heap[0][0] < cutoff:
            _, slot = heapq.heappop(self._heap)
            entry = self._entries.pop(slot)
            if self._by_article.get(entry.article_id) == slot:
                del self._by_article[entry.article_id]
            for mapping, key in [(self._by_hash, entry.content_hash), (self._by_headline, entry.headline_key),
                                 *((self._by_url, k) for k in entry.url_keys)]:
                if key is not None and mapping.get(key) == slot:
                    del mapping[key]
            if entry.indexed:
                self._lsh.remove(slot)

    def _prune(self, con: duckdb.DuckDBPyConnection) -> None:
        """Delete signature rows that fell out of the window: only the window is ever loaded, and the rows
        (~3 KB each, mostly shingles) would otherwise grow the warehouse file and its snapshot copies.
        ``story_links`` keeps the history. A row fetched recently stays whatever its date: the copies of
        a back catalogue arrive over the following cycles."""
        cutoff = self.horizon - self.window_seconds
        if cutoff > self._pruned_before:
            at = datetime.fromtimestamp(cutoff, UTC)
            con.execute("DELETE FROM story_signatures WHERE article_time < ? AND coalesce(fetched_at, article_time) < ?",
                        [at, at])
            self._pruned_before = cutoff

    def _linked(self, con: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, StoryAssignment]:
        """Assignments already recorded for ``ids`` (one scan of ``story_links`` per batch)."""
        rows = con.execute(
            "SELECT article_id, story_id, matched_article_id, method, similarity FROM story_links"
            " WHERE article_id IN (SELECT unnest(?)) ORDER BY linked_at",
            [ids],
        ).fetchall()
        found: dict[str, StoryAssignment] = {}
        for aid, sid, matched, method, sim in rows:
            found.setdefault(aid, StoryAssignment(aid, sid, matched, method, sim))
        return found

    def _write(
        self,
        con: duckdb.DuckDBPyConnection,
        links: list[StoryAssignment],
        sig_rows: list[tuple[StoryCandidate, np.ndarray | None, datetime, datetime]],
        deltas: dict[str, _StoryDelta],
        linked_at: datetime,
    ) -> None:
        if not links:
            return
        link_table = pa.table({
            "article_id": [x.article_id for x in links],
            "story_id": [x.story_id for x in links],
            "matched_article_id": pa.array([x.matched_article_id for x in links], pa.string()),
            "method": [x.method for x in links],
            "similarity": pa.array([x.similarity for x in links], pa.float64()),
            "linked_at": pa.array([linked_at] * len(links), pa.timestamp("us", tz="UTC")),
        })
        sig_table = pa.table({
            "article_id": [e.article_id for e, _, _, _ in sig_rows],
            "story_id": [e.story_id for e, _, _, _ in sig_rows],
            "article_time": pa.array([w for _, _, w, _ in sig_rows], pa.timestamp("us", tz="UTC")),
            "fetched_at": pa.array([f for _, _, _, f in sig_rows], pa.timestamp("us", tz="UTC")),
            "content_hash": [e.content_hash for e, _, _, _ in sig_rows],
            "word_count": pa.array([e.word_count for e, _, _, _ in sig_rows], pa.int32()),
            "url_keys": pa.array([list(e.url_keys) for e, _, _, _ in sig_rows], pa.list_(pa.string())),
            "headline_key": pa.array([e.headline_key for e, _, _, _ in sig_rows], pa.string()),
            "shingles": _uint32_lists([e.shingles for e, _, _, _ in sig_rows]),
            "minhash": _uint32_lists([s for _, s, _, _ in sig_rows]),
            "signature_version": pa.array([SIGNATURE_VERSION] * len(sig_rows), pa.int32()),
        })
        story_table = pa.table({
            "story_id": list(deltas),
            "first_seen_at": pa.array([d.first_seen for d in deltas.values()], pa.timestamp("us", tz="UTC")),
            "last_seen_at": pa.array([d.last_seen for d in deltas.values()], pa.timestamp("us", tz="UTC")),
            "title": pa.array([d.title for d in deltas.values()], pa.string()),
            "article_count": pa.array([d.count for d in deltas.values()], pa.int32()),
        })
        for name, table, sql in [
            ("_story_links_batch", link_table, "INSERT INTO story_links BY NAME SELECT * FROM _story_links_batch"),
            ("_story_sigs_batch", sig_table, "INSERT INTO story_signatures BY NAME SELECT * FROM _story_sigs_batch"),
            ("_stories_batch", story_table,
             "INSERT INTO stories BY NAME SELECT * FROM _stories_batch ON CONFLICT (story_id) DO UPDATE SET"
             " first_seen_at = least(stories.first_seen_at, excluded.first_seen_at),"
             " last_seen_at = greatest(stories.last_seen_at, excluded.last_seen_at),"
             " title = coalesce(stories.title, excluded.title),"
             " article_count = stories.article_count + excluded.article_count"),
        ]:
            con.register(name, table)
            try:
                con.execute(sql)
            finally:
                con.unregister(name)


def _uint32_lists(arrays: list[np.ndarray | None]) -> pa.Array:
    """A list<uint32> Arrow column from numpy arrays (None -> NULL), built without per-value Python objects."""
    lengths = np.array([0 if a is None else a.size for a in arrays], dtype=np.int32)
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    present = [a for a in arrays if a is not None]
    values = pa.array(np.concatenate(present) if present else np.empty(0, np.uint32), pa.uint32())
    mask = pa.array([a is None for a in arrays])
    return pa.ListArray.from_arrays(offsets, values, mask=mask)


@dataclass(frozen=True, slots=True)
class _WindowLookup:
    """The index's earlier copies by key, limited to the window around one article's time (``story_match``'s
    ``StoryLookup``)."""

    index: StoryIndex
    time: float

    def with_content_hash(self, content_hash: str) -> StoryCandidate | None:
        return self.index._slot_near(self.index._by_hash.get(content_hash), self.time)

    def with_url_key(self, key: str) -> StoryCandidate | None:
        return self.index._slot_near(self.index._by_url.get(key), self.time)

    def with_headline_key(self, key: str) -> StoryCandidate | None:
        return self.index._slot_near(self.index._by_headline.get(key), self.time)
