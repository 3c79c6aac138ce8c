"""A small warehouse for the workbench tests, loaded through the pipeline's own ``load_batch``.

Three feeds (one failing), a Korea story carried as an exact copy and a trimmed near copy, a spike of
Korea stories in the last 24 hours over a quiet fortnight, entities, attributed quotes, and one story
whose title is hostile (a script tag, an ESC sequence and a right-to-left override).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from newswatch.models import Article, ArticleAnalysis, Entity, FeedEntry, Mention, Quote
from newswatch.records import Candidate, FeedPoll
from transform.polling import PollBounds
from transform.urls import stable_id
from warehouse.db import transaction
from warehouse.load import LoadBatch, load_batch
from warehouse.migrations import migrate
from warehouse.snapshot import publish_snapshot
from warehouse.state import feed_id_for, sync_feeds
from warehouse.stories import StoryIndex
from warehouse.trend_tables import refresh_trend_tables

FEEDS = [("Harbor Courier", "http://127.0.0.1:9/harbor.xml"), ("Northern Wire", "http://127.0.0.1:9/wire.xml"),
         ("Broken Feed", "http://127.0.0.1:9/broken.xml")]
HOSTILE_TITLE = "<script>alert('x')</script>\x1b[31mRED\u202eGNP.exe"
KIM = Entity("person:kim jong un", "Kim Jong Un", "PERSON", ("Kim Jong Un", "Kim"))
PARK = Entity("person:park min-jun", "Park Min-jun", "PERSON", ("Park Min-jun",))
KOREA = Entity("gpe:north korea", "North Korea", "GPE", ("North Korea",))
BOUNDS = PollBounds(300, 14400, 43200, 3)

TALKS = ("SEOUL North Korea has agreed to a new round of talks with South Korea, officials in both capitals said on "
         "Tuesday, the first such meeting in more than two years after weeks of quiet diplomacy brokered by Sweden. "
         "\u201cWe are ready to sit down without preconditions,\u201d said Park Min-jun, a spokesman for the ministry. "
         "Kim Jong Un did not comment directly, but state media described the meeting as a chance to reduce tension "
         "on the peninsula, and analysts said the gap between the two sides remained wide on sanctions relief.")


def _words(seed: int) -> str:
    vocab = ("harbor council budget storm ferry market rates bank inflation school teachers road bridge election "
             "hospital river farmers train airport museum festival court judge police mayor").split()
    return " ".join(vocab[(seed * 7 + i * 3) % len(vocab)] + str(seed) for i in range(80))


def _article(feed: str, slug: str, title: str, text: str, published: datetime, fetched: datetime) -> Article:
    url = f"https://{feed.lower().replace(' ', '-')}.example/{slug}"
    return Article(stable_id(url), url, url, feed_id_for(dict(FEEDS)[feed]), title, "Staff", published, "feed",
                   fetched, "en", text, len(text.split()), stable_id("text", text))


def _analysis(text: str, entities: list[Entity], quotes: list[Quote]) -> ArticleAnalysis:
    mentions = []
    for e in entities:
        for surface in e.aliases[:1]:
            start = text.find(surface)
            while start >= 0:
                mentions.append(Mention(e.entity_id, surface, start, start + len(surface)))
                start = text.find(surface, start + 1)
    return ArticleAnalysis(tuple(entities), tuple(mentions), tuple(quotes))


def _talks_quote(text: str) -> Quote:
    start = text.index("\u201cWe")
    end = text.index("\u201d", start) + 1
    return Quote("We are ready to sit down without preconditions,", "Park Min-jun", PARK.entity_id, "said", start, end)


def build_ui_warehouse(path: Path, now: datetime | None = None) -> Path:
    """Write the warehouse to ``path`` and publish its snapshot; return the snapshot link."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    # Today's stories lie up to six hours back; shortly after midnight UTC that would be yesterday, and the
    # tests read "today" from the server's clock, so the offsets shrink to fit into today (a second's margin).
    since_midnight = now - now.replace(hour=0, minute=0, second=0)
    scale = min(1.0, max(since_midnight - timedelta(seconds=1), timedelta(0)) / timedelta(hours=6))

    def ago(**kw: float) -> datetime:
        return now - timedelta(**kw) * scale

    items: list[tuple[Article, ArticleAnalysis | None, dict[str, tuple[str, ...]]]] = []
    korea = {"korea": ("north korea",)}
    # The story with copies: the original, an exact copy from another outlet, a trimmed near copy.
    t0 = ago(hours=5)
    original = _article("Harbor Courier", "korea-talks", "North Korea agrees to new round of talks", TALKS, t0, t0)
    items.append((original, _analysis(TALKS, [KOREA, KIM, PARK], [_talks_quote(TALKS)]), korea))
    exact = _article("Northern Wire", "wire-korea-talks", "North Korea agrees to talks (wire)", TALKS,
                     t0 + timedelta(minutes=20) * scale, t0 + timedelta(minutes=20) * scale)
    items.append((exact, _analysis(TALKS, [KOREA, KIM, PARK], [_talks_quote(TALKS)]), korea))
    trimmed = TALKS.rsplit(",", 1)[0] + "."
    near = _article("Northern Wire", "korea-talks-short", "Korea talks agreed", trimmed, t0 + timedelta(hours=1) * scale,
                    t0 + timedelta(hours=1) * scale)
    items.append((near, _analysis(trimmed, [KOREA, KIM, PARK], [_talks_quote(trimmed)]), korea))
    # More Korea stories today (a spike), one a week ago, and everyday news over the fortnight.
    for i in range(4):
        text = f"North Korea {_words(100 + i)} Kim Jong Un said the army was ready {i}."
        at = ago(hours=2 + i)
        items.append((_article("Harbor Courier", f"korea-{i}", f"North Korea update {i}", text, at, at),
                      _analysis(text, [KOREA, KIM], []), korea))
    week = now - timedelta(days=7)
    text = f"North Korea {_words(200)} quiet week."
    items.append((_article("Northern Wire", "korea-old", "North Korea last week", text, week, week),
                  _analysis(text, [KOREA], []), korea))
    for d in range(14):
        at = now - timedelta(days=d, hours=1)
        text = _words(d)
        items.append((_article("Harbor Courier", f"local-{d}", f"Harbor council meets, day {d}", text, at, at), None, {}))
    hostile_text = _words(300) + " North Korea was mentioned once."
    at = ago(hours=1)
    items.append((_article("Northern Wire", "hostile", HOSTILE_TITLE, hostile_text, at, at),
                  _analysis(hostile_text, [KOREA], []), {}))

    con = duckdb.connect(str(path))
    try:
        migrate(con)
        sync_feeds(con, FEEDS)
        batch = LoadBatch(run_id="run-ui-1", now=now)
        ok = {feed_id_for(u) for n, u in FEEDS if n != "Broken Feed"}
        batch.polls = [FeedPoll(fid, "ok") for fid in sorted(ok)] + [
            FeedPoll(feed_id_for(FEEDS[2][1]), "failed", url=FEEDS[2][1], reason="http_500", message="server error")]
        for art, analysis, topics in items:
            entry = FeedEntry(art.feed_id, art.url, title=art.title, published_at=art.published_at)
            cand = Candidate(art.feed_id, stable_id("item", art.url), entry, art.canonical_url)
            batch.articles.append((cand, art, analysis, topics))
        with transaction(con):
            load_batch(con, batch, StoryIndex.load(con, window_days=30, now=now), BOUNDS)
            refresh_trend_tables(con)  # as the cycle does in its load transaction
            con.execute("INSERT INTO runs (run_id, started_at, finished_at, status, feeds_polled, feeds_failed, "
                        "entries_seen, articles_new) VALUES ('run-ui-1', ?, ?, 'completed', 3, 1, ?, ?)",
                        [now - timedelta(minutes=1), now, len(items), len(items)])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return publish_snapshot(path)


@contextlib.contextmanager
def running_ui(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``newswatch ui --port 0 ARGS`` in a subprocess; yields its base URL (``http://127.0.0.1:N``)."""
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "ui", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
                            cwd=Path(__file__).resolve().parents[1])
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://[^ /]+", line)
        if match is None:
            proc.kill()
            raise AssertionError(f"ui did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        yield match.group()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
