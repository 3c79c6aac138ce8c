"""Alert rules as pure decisions: does a story match a rule now, and what does its message say.

Why: the outbox (``warehouse/outbox.py``) re-evaluates every story with recent activity in each load
transaction, and delivery groups queued alerts into digests. Keeping the decisions and the wording
here, over plain records, makes them testable without DuckDB or apprise, and keeps the rules in one
place:

- A story matches a rule when one of its copies matched the rule's topic, and that copy passes the
  language and feed filters. The alert describes the earliest such copy (the original report).
- ``min_sources`` counts the distinct feeds carrying any copy of the story (filters do not apply to
  the count: "carried by 12 outlets" means 12 outlets).
- A story whose earliest copy was published more than ``max_age`` ago is old news, never alerted
  (a newly added feed that publishes its back catalogue must not flood subscribers).
- The quote shown is the story's "top" quote, chosen among the quotes whose speaker was found with
  confidence (``newswatch.models.CONFIDENT_SPEAKER_LEVELS``: named by the quote's own sentence, not
  carried over from a neighbour or guessed): the one repeated by the most copies, then the
  representative copy's own, then the earliest in its article. With no such quote the alert has none:
  a quote sent to subscribers under the wrong name does more harm than a message without one.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from newswatch.models import CONFIDENT_SPEAKER_LEVELS

# Stories listed in one digest message; the rest are counted ("... and 12 more"). Chat services cut
# messages at 4-40k characters (apprise splits or truncates per service); 50 stories of ~350
# characters stay under Slack's 40k and read as one screenful per topic.
DIGEST_MAX_STORIES = 50
# A quote longer than this is cut at a word boundary with "…" (a tweet's length keeps alerts glanceable).
QUOTE_MAX_CHARS = 280

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alert rule from the config, reduced to what the decision needs."""

    name: str
    topic: str
    min_sources: int = 1
    languages: frozenset[str] | None = None  # primary subtags, lower case ("en")
    feeds: frozenset[str] | None = None  # feed names, case-folded
    max_age: timedelta = timedelta(hours=48)
    mode: str = "instant"  # instant | digest
    digest_every: timedelta = timedelta(minutes=60)


@dataclass(frozen=True, slots=True)
class StoryCopy:
    """One (article, feed) pair of a story: a copy of the story as one feed carried it."""

    story_id: str
    article_id: str
    feed_id: str
    feed_name: str
    title: str | None
    url: str
    published_at: datetime
    language: str | None
    seen_at: datetime  # when this feed first carried the article
    topic: str | None = None  # a topic the article matched (one row per topic), None when none
    matched_terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class QuoteRow:
    """A quote of one of the story's articles."""

    article_id: str
    text: str
    speaker: str  # '' when unattributed
    start_char: int
    confidence: str = ""  # how the speaker was found (newswatch.models.SPEAKER_CONFIDENCE_LEVELS)


@dataclass(frozen=True, slots=True)
class StoryAlert:
    """What an alert says about one story (stored as JSON in ``alerts.payload``)."""

    rule: str
    topic: str
    story_id: str
    article_id: str
    headline: str
    source: str
    url: str
    published_at: datetime
    matched_terms: tuple[str, ...]
    outlets: int
    quote: str | None = None
    speaker: str | None = None

    def to_json(self) -> str:
        d = asdict(self)
        d["published_at"] = self.published_at.astimezone(UTC).isoformat()
        d["matched_terms"] = list(self.matched_terms)
        return json.dumps(d, ensure_ascii=False, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> StoryAlert:
        d = json.loads(text)
        d["published_at"] = datetime.fromisoformat(d["published_at"])
        d["matched_terms"] = tuple(d["matched_terms"])
        return StoryAlert(**d)


@dataclass(frozen=True, slots=True)
class Message:
    """A notification as apprise sends it."""

    title: str
    body: str


def _primary_language(code: str | None) -> str | None:
    return code.split("-")[0].split("_")[0].strip().lower() if code else None


def copy_passes_filters(rule: AlertRule, copy: StoryCopy) -> bool:
    """Whether this copy matched the rule's topic and passes its language and feed filters."""
    if copy.topic != rule.topic:
        return False
    if rule.languages is not None and _primary_language(copy.language) not in rule.languages:
        return False
    return rule.feeds is None or copy.feed_name.casefold() in rule.feeds


def outlet_count(copies: Iterable[StoryCopy]) -> int:
    """How many distinct feeds carry the story."""
    return len({c.feed_id for c in copies})


def story_alert(rule: AlertRule, copies: Sequence[StoryCopy], quotes: Sequence[QuoteRow], *, now: datetime) -> StoryAlert | None:
    """The alert ``rule`` raises for the story made of ``copies`` now, or None when it does not match.

    Args:
        copies: every (article, feed, topic) row of one story, matching or not.
        quotes: the quotes of the story's articles.
        now: the decision time (the load transaction's clock).
    """
    if not copies:
        return None
    matching = [c for c in copies if copy_passes_filters(rule, c)]
    if not matching:
        return None
    outlets = outlet_count(copies)
    if outlets < rule.min_sources:
        return None
    if min(c.published_at for c in copies) < now - rule.max_age:
        return None
    rep = min(matching, key=lambda c: (c.published_at, c.seen_at, c.feed_name, c.article_id))
    terms: list[str] = []
    for c in sorted(matching, key=lambda c: (c.published_at, c.article_id)):
        terms.extend(t for t in c.matched_terms if t not in terms)
    top = top_quote(quotes, rep.article_id)
    return StoryAlert(
        rule=rule.name, topic=rule.topic, story_id=rep.story_id, article_id=rep.article_id,
        headline=_one_line(rep.title) or rep.url, source=rep.feed_name, url=rep.url,
        published_at=rep.published_at, matched_terms=tuple(terms), outlets=outlets,
        quote=_shortened(top.text) if top else None, speaker=(top.speaker or None) if top else None,
    )


def _quote_key(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def top_quote(quotes: Sequence[QuoteRow], representative_article_id: str) -> QuoteRow | None:
    """The quote to show: among confidently attributed quotes, the most repeated across copies, then the
    original's, then the earliest; None when no quote's speaker is confident."""
    quotes = [q for q in quotes if q.speaker.strip() and q.confidence in CONFIDENT_SPEAKER_LEVELS]
    if not quotes:
        return None
    copies: dict[str, set[str]] = {}
    for q in quotes:
        copies.setdefault(_quote_key(q.text), set()).add(q.article_id)
    return min(
        quotes,
        key=lambda q: (
            -len(copies[_quote_key(q.text)]),
            q.article_id != representative_article_id,
            q.start_char,
            q.article_id,
        ),
    )


def _one_line(text: str | None) -> str:
    return _SPACES.sub(" ", text or "").strip()


def _shortened(text: str, limit: int = QUOTE_MAX_CHARS) -> str:
    text = _one_line(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _when(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _outlets(n: int) -> str:
    return f"{n} outlet" if n == 1 else f"{n} outlets"


def _quote_line(alert: StoryAlert) -> str | None:
    if not alert.quote:
        return None
    return f"\u201c{alert.quote}\u201d" + (f" \u2014 {alert.speaker}" if alert.speaker else "")


def alert_message(alert: StoryAlert) -> Message:
    """The message of an instant alert: headline, source, link, time, terms, outlets, top quote."""
    lines = [
        alert.headline,
        f"{alert.source} \u00b7 {_when(alert.published_at)} \u00b7 carried by {_outlets(alert.outlets)}",
        alert.url,
        "Matched: " + ", ".join(alert.matched_terms) if alert.matched_terms else f"Topic: {alert.topic}",
    ]
    quote = _quote_line(alert)
    if quote:
        lines.append(quote)
    return Message(title=f"[{alert.rule}] {alert.headline}", body="\n".join(lines))


def digest_message(rule: str, alerts: Sequence[StoryAlert]) -> Message:
    """One message grouping several stories, newest first (at most ``DIGEST_MAX_STORIES`` listed)."""
    ordered = sorted(alerts, key=lambda a: (a.published_at, a.story_id), reverse=True)
    shown = ordered[:DIGEST_MAX_STORIES]
    blocks = []
    for i, a in enumerate(shown, 1):
        terms = f" \u00b7 matched: {', '.join(a.matched_terms)}" if a.matched_terms else ""
        block = [f"{i}. {a.headline}",
                 f"   {a.source} \u00b7 {_when(a.published_at)} \u00b7 {_outlets(a.outlets)}{terms}",
                 f"   {a.url}"]
        quote = _quote_line(a)
        if quote:
            block.append(f"   {quote}")
        blocks.append("\n".join(block))
    if len(ordered) > len(shown):
        blocks.append(f"\u2026 and {len(ordered) - len(shown)} more")
    n = len(ordered)
    title = f"[{rule}] {n} new {'story' if n == 1 else 'stories'}"
    return Message(title=title, body="\n\n".join(blocks))


def rule_test_message(rule: AlertRule, *, now: datetime) -> Message:
    """The message ``newswatch alerts test RULE`` sends."""
    return Message(
        title=f"[{rule.name}] newswatch test alert",
        body=(f"This is a test of the alert rule {rule.name!r} (topic {rule.topic!r}, {rule.mode}), "
              f"sent at {_when(now)}. Real alerts look like this one, with the headline, source, link, "
              "published time, matched terms, outlets and top quote."),
    )


def digest_due_at(created_at: datetime, every: timedelta) -> datetime:
    """When a digest holding an alert queued at ``created_at`` goes out: the end of its window.

    Windows are aligned to the Unix epoch (every 60 minutes: on the hour; every 1440: at 00:00 UTC),
    so digests go out at predictable times whatever the cycle schedule; the digest is sent by the
    first delivery at or after that time.
    """
    step = every.total_seconds()
    ts = created_at.timestamp()
    return datetime.fromtimestamp(math.ceil(ts / step) * step, tz=UTC)
