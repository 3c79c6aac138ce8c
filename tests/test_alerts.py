"""Alert rules, messages, feed health and the outbox queue, without Prefect or the network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.alert_routes import alert_routes
from pipeline.feed_health import MIN_SILENCE, FeedHealth, Rhythm, feed_incident, usual_gap
from pipeline.settings import settings_from_dict
from transform.alerts import (
    DIGEST_MAX_STORIES,
    AlertRule,
    QuoteRow,
    StoryAlert,
    StoryCopy,
    alert_message,
    digest_due_at,
    digest_message,
    story_alert,
    top_quote,
)
from warehouse.outbox import channel_identities, queue_alerts

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOOK = "json://127.0.0.1:9/hook"
HOOK2 = "json://127.0.0.1:9/other"


def copy(story="s1", article="a1", feed="f1", name="Feed One", *, hours_ago=2.0, topic="korea", terms=("North Korea",),
         language="en", title="North Korea agrees to talks") -> StoryCopy:
    at = NOW - timedelta(hours=hours_ago)
    return StoryCopy(story, article, feed, name, title, f"https://{feed}.example/{article}", at, language, at,
                     topic=topic, matched_terms=tuple(terms) if topic else ())


RULE = AlertRule(name="korea", topic="korea")


# --- decisions -------------------------------------------------------------------------------------------

def test_a_story_matching_the_topic_gives_one_alert_describing_its_earliest_copy():
    copies = [copy(article="late", feed="f2", name="Feed Two", hours_ago=1, terms=("Kim Jong Un",)),
              copy(article="early", hours_ago=3), copy(article="early", feed="f3", name="Feed Three", hours_ago=3)]
    alert = story_alert(RULE, copies, [], now=NOW)
    assert alert is not None
    assert (alert.article_id, alert.source, alert.outlets) == ("early", "Feed One", 3)
    assert alert.matched_terms == ("North Korea", "Kim Jong Un")  # every copy's terms, earliest first


def test_min_sources_counts_distinct_feeds_and_holds_the_alert_until_reached():
    rule = AlertRule(name="r", topic="korea", min_sources=3)
    two = [copy(article="a", feed="f1"), copy(article="a", feed="f1", name="again"), copy(article="b", feed="f2", topic=None)]
    assert story_alert(rule, two, [], now=NOW) is None
    assert story_alert(rule, [*two, copy(article="c", feed="f3", topic=None)], [], now=NOW).outlets == 3


def test_language_and_feed_filters_apply_to_the_matching_copy():
    copies = [copy(language="de"), copy(article="a2", feed="f2", name="Wire", language="en-GB", hours_ago=1)]
    assert story_alert(AlertRule("r", "korea", languages=frozenset({"fr"})), copies, [], now=NOW) is None
    alert = story_alert(AlertRule("r", "korea", languages=frozenset({"en"})), copies, [], now=NOW)
    assert alert.source == "Wire"
    assert story_alert(AlertRule("r", "korea", feeds=frozenset({"wire"})), copies, [], now=NOW).article_id == "a2"
    assert story_alert(AlertRule("r", "korea", feeds=frozenset({"nobody"})), copies, [], now=NOW) is None


def test_other_topics_and_old_news_do_not_alert():
    assert story_alert(RULE, [copy(topic="sport")], [], now=NOW) is None
    assert story_alert(RULE, [copy(topic=None)], [], now=NOW) is None
    assert story_alert(RULE, [copy(hours_ago=72)], [], now=NOW) is None  # max_age 48 h by default


def test_top_quote_is_confidently_attributed_then_most_repeated_then_the_originals():
    quotes = [QuoteRow("a1", "Unattributed but first", "", 0),
              QuoteRow("a1", "Said once", "Park Min-jun", 50, "subject"),
              QuoteRow("a2", "Said everywhere", "Kim Yo Jong", 90, "sentence"),
              QuoteRow("a3", "said  everywhere", "Kim Yo Jong", 10, "subject")]
    assert top_quote(quotes, "a1") == quotes[3]  # in two copies; the earlier of the two
    assert top_quote(quotes[:2], "a1").speaker == "Park Min-jun"
    assert top_quote(quotes[:1], "a1") is None  # no speaker: no top quote
    assert top_quote([], "a1") is None


def test_top_quote_never_uses_a_carried_over_or_guessed_speaker():
    carried = [QuoteRow("a1", "Carried over from the sentence before", "Hillary Clinton", 0, "neighbour"),
               QuoteRow("a2", "Carried over from the sentence before", "Hillary Clinton", 0, "neighbour"),
               QuoteRow("a1", "In a sentence about him", "Adam Schiff", 80, "guess"),
               QuoteRow("a1", "Loaded before confidence was recorded", "Adam Schiff", 120)]
    assert top_quote(carried, "a1") is None
    named = QuoteRow("a1", "Named by its own sentence", "Adam Schiff", 200, "subject")
    assert top_quote([*carried, named], "a1") == named


# --- messages --------------------------------------------------------------------------------------------

def _alert(story="s1", headline="North Korea agrees to talks", hours_ago=2.0, quote="We are ready", speaker="Park Min-jun"):
    return StoryAlert("korea", "korea", story, "a1", headline, "Feed One", f"https://x.example/{story}",
                      NOW - timedelta(hours=hours_ago), ("North Korea", "talks"), 3, quote, speaker)


def test_instant_message_carries_everything_a_subscriber_needs():
    msg = alert_message(_alert())
    assert msg.title == "[korea] North Korea agrees to talks"
    for part in ("North Korea agrees to talks", "Feed One", "2026-11-20 10:00 UTC", "https://x.example/s1",
                 "North Korea, talks", "3 outlets", "\u201cWe are ready\u201d \u2014 Park Min-jun"):
        assert part in msg.body
    assert "\u2014" not in alert_message(_alert(speaker=None)).body.splitlines()[-1]
    assert len(alert_message(_alert(quote=None)).body.splitlines()) == 4


def test_payload_round_trips_through_json():
    a = _alert()
    assert StoryAlert.from_json(a.to_json()) == a


def test_digest_lists_stories_newest_first_and_caps_the_list():
    msg = digest_message("korea", [_alert("old", "Old story", 5), _alert("new", "New story", 1), _alert("mid", "Mid story", 3)])
    assert msg.title == "[korea] 3 new stories"
    assert msg.body.index("1. New story") < msg.body.index("2. Mid story") < msg.body.index("3. Old story")
    many = digest_message("korea", [_alert(f"s{i}", f"Story {i}", i / 10) for i in range(DIGEST_MAX_STORIES + 5)])
    assert many.body.endswith("\u2026 and 5 more") and f"{DIGEST_MAX_STORIES}. " in many.body


def test_digest_windows_are_aligned_to_the_clock():
    assert digest_due_at(NOW + timedelta(minutes=7), timedelta(minutes=60)) == NOW + timedelta(hours=1)
    assert digest_due_at(NOW, timedelta(minutes=60)) == NOW
    assert digest_due_at(NOW + timedelta(hours=1), timedelta(days=1)) == datetime(2026, 11, 21, tzinfo=UTC)


# --- feed health -----------------------------------------------------------------------------------------

def _feed(**kw) -> FeedHealth:
    base = dict(feed_id="f1", name="Wire", url="https://wire.example/rss?key=abc", last_status="ok", last_error=None,
                consecutive_failures=0, failing_since=None, disabled=False, disabled_reason=None, rhythm=None)
    return FeedHealth(**{**base, **kw})


def _hourly(n: int, end: datetime) -> tuple[datetime, ...]:
    return tuple(end - timedelta(hours=i) for i in reversed(range(n)))


def test_usual_gap_needs_enough_history():
    assert usual_gap(_hourly(6, NOW)) is None  # 5 gaps but only 5 hours of history
    assert usual_gap(_hourly(60, NOW)) == timedelta(hours=1)


def test_a_feed_failing_long_enough_is_an_incident_keyed_on_when_it_started():
    since = NOW - timedelta(hours=30)
    failing = _feed(consecutive_failures=9, failing_since=since, last_status="http_500", last_error="Server Error")
    inc = feed_incident(failing, now=NOW, failing_after=timedelta(hours=24), silent_factor=5)
    assert (inc.kind, inc.key) == ("feed_failing", since.isoformat())
    assert "http_500" in inc.body and "Wire" in inc.title
    assert feed_incident(failing, now=since + timedelta(hours=2), failing_after=timedelta(hours=24), silent_factor=5) is None


def test_a_disabled_feed_and_a_silent_feed_are_incidents_a_healthy_one_is_not():
    disabled = _feed(disabled=True, disabled_reason="gone (http_410) 3 times", failing_since=NOW - timedelta(hours=1))
    assert feed_incident(disabled, now=NOW, failing_after=timedelta(hours=24), silent_factor=5).kind == "feed_disabled"
    arrivals = _hourly(60, NOW - timedelta(hours=6))
    silent = feed_incident(_feed(rhythm=Rhythm.of(arrivals)), now=NOW, failing_after=timedelta(hours=24), silent_factor=5)
    assert silent.kind == "feed_silent" and silent.key == arrivals[-1].isoformat()
    quiet_hour = _hourly(60, NOW - MIN_SILENCE + timedelta(minutes=5))
    assert feed_incident(_feed(rhythm=Rhythm.of(quiet_hour)), now=NOW, failing_after=timedelta(hours=24), silent_factor=1.5) is None



def test_the_warehouse_reads_each_feeds_rhythm_as_usual_gap_defines_it(tmp_path):
    """``_rhythms`` sums the arrivals up in SQL; it must give what ``usual_gap`` gives over the same arrivals
    (those within ``HISTORY`` of the feed's last one), for busy, irregular, young and long-silent feeds."""
    import random

    import duckdb

    from pipeline.feed_health import HISTORY, RECENT, _rhythms
    from warehouse.migrations import migrate

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    migrate(con)
    rng = random.Random(7)
    feeds: dict[str, list[datetime]] = {
        "busy": [NOW - timedelta(minutes=rng.randint(0, 40 * 24 * 60)) for _ in range(3000)],
        "irregular": [NOW - timedelta(hours=rng.expovariate(1 / 30)) for _ in range(40)],
        "young": [NOW - timedelta(hours=h) for h in (1, 2, 3, 5, 8, 13)],  # 5 gaps, not 48 hours
        "silent": [NOW - RECENT - timedelta(days=3, hours=7 * i) for i in range(30)],  # last one before RECENT
    }
    feeds["busy"] += feeds["busy"][:50]  # several items first seen in the same cycle: one arrival
    rows = [(fid, f"{fid}-{i}", None, None, "loaded", t) for fid, ts_ in feeds.items() for i, t in enumerate(ts_)]
    con.executemany("INSERT INTO feed_items (feed_id, item_key, canonical_url, article_id, status, first_seen_at, "
                    "item_hash) VALUES (?, ?, ?, ?, ?, ?, md5_number_lower(?))", [(*r, r[1]) for r in rows])
    got = _rhythms(con, [*feeds, "never"], NOW)
    assert set(got) == set(feeds)  # a feed with no item has no rhythm
    for fid, times in feeds.items():
        last = max(times)
        expected = Rhythm.of([t for t in times if t >= last - HISTORY])
        assert got[fid] == expected, fid
    assert got["young"].usual_gap is None and got["busy"].usual_gap is not None
    assert got["silent"].usual_gap == timedelta(hours=7)

# --- the outbox queue ------------------------------------------------------------------------------------

def settings_with(*rules: dict, feeds: int = 3):
    return settings_from_dict({
        "feeds": [{"name": f"Feed {i}", "url": f"https://f{i}.example/rss"} for i in range(1, feeds + 1)],
        "topics": [{"name": "korea", "query": '"North Korea"'}, {"name": "sport", "query": "football"}],
        "alerts": list(rules),
    })


def add_copy(con, story: str, article: str, feed: int, *, seen: datetime = NOW, topic: str | None = "korea",
             published: datetime | None = None) -> None:
    fid = f"feed{feed}"
    con.execute("INSERT INTO feeds (feed_id, name, url) SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM feeds WHERE feed_id = ?)",
                [fid, f"Feed {feed}", f"https://f{feed}.example/rss", fid])
    if not con.execute("SELECT count(*) FROM articles WHERE article_id = ?", [article]).fetchone()[0]:
        con.execute(
            "INSERT INTO articles (article_id, url, canonical_url, feed_id, title, published_at, published_at_source, "
            "fetched_at, language, text, word_count, content_hash, story_id, article_key, story_key) "
            "VALUES (?, ?, ?, ?, ?, ?, 'feed', ?, 'en', 't', 1, ?, ?, md5_number_lower(?), md5_number_lower(?))",
            [article, f"https://f{feed}.example/{article}", f"https://f{feed}.example/{article}", fid,
             f"Headline {article}", published or seen - timedelta(hours=1), seen, f"h-{article}", story, article, story])
        if topic:
            con.execute("INSERT INTO topic_matches (article_id, topic, matched_terms, matched_at, article_key) "
                        "VALUES (?, ?, ['North Korea'], ?, md5_number_lower(?))", [article, topic, seen, article])
    con.execute("INSERT INTO feed_items (feed_id, item_key, canonical_url, article_id, status, first_seen_at, item_hash, article_key) "
                "VALUES (?, ?, NULL, ?, 'loaded', ?, md5_number_lower(?), md5_number_lower(?))",
                [fid, f"item-{article}-{feed}", article, seen, f"item-{article}-{feed}", article])


def alert_rows(con):
    return con.execute("SELECT rule, story_id, channel, status, next_attempt_at FROM alerts ORDER BY rule, story_id, channel").fetchall()


def test_a_story_carried_by_three_feeds_is_queued_once_per_channel_and_never_again(mem_db):
    s = settings_with({"topic": "korea", "notify": [HOOK, HOOK2]})
    for feed in (1, 2, 3):
        add_copy(mem_db, "s1", "a1" if feed < 3 else "a3", feed)
    add_copy(mem_db, "s2", "b1", 1, topic="sport")
    assert queue_alerts(mem_db, alert_routes(s), now=NOW) == 2
    assert [(r[0], r[1]) for r in alert_rows(mem_db)] == [("korea", "s1"), ("korea", "s1")]
    add_copy(mem_db, "s1", "a4", 2, seen=NOW + timedelta(minutes=15))  # an update of the story later
    assert queue_alerts(mem_db, alert_routes(s), now=NOW + timedelta(minutes=15)) == 0
    payload = mem_db.execute("SELECT payload FROM alerts LIMIT 1").fetchone()[0]
    assert StoryAlert.from_json(payload).outlets == 3


def test_a_story_reaching_min_sources_later_is_queued_then(mem_db):
    s = settings_with({"topic": "korea", "notify": [HOOK], "min_sources": 2})
    add_copy(mem_db, "s1", "a1", 1)
    assert queue_alerts(mem_db, alert_routes(s), now=NOW) == 0
    later = NOW + timedelta(minutes=30)
    add_copy(mem_db, "s1", "a1", 2, seen=later)  # the same article, now carried by a second feed
    assert queue_alerts(mem_db, alert_routes(s), now=later) == 1


def test_a_rule_added_later_starts_with_new_stories_and_digests_wait_for_their_window(mem_db):
    add_copy(mem_db, "s1", "a1", 1)
    queue_alerts(mem_db, alert_routes(settings_with({"topic": "korea", "notify": [HOOK]})), now=NOW)
    later = NOW + timedelta(minutes=20)
    add_copy(mem_db, "s2", "b1", 2, seen=later)
    s = settings_with({"topic": "korea", "notify": [HOOK]},
                      {"name": "korea-daily", "topic": "korea", "notify": [HOOK], "mode": "digest", "digest_every_minutes": 1440})
    assert queue_alerts(mem_db, alert_routes(s), now=later) == 2  # s2 for both rules; s1 is history for the new rule
    rows = alert_rows(mem_db)
    assert [(r[0], r[1]) for r in rows] == [("korea", "s1"), ("korea", "s2"), ("korea-daily", "s2")]
    assert rows[2][4] == datetime(2026, 11, 21, tzinfo=UTC)


def test_old_articles_from_a_new_feed_do_not_alert(mem_db):
    add_copy(mem_db, "s1", "a1", 1, published=NOW - timedelta(days=20))
    assert queue_alerts(mem_db, alert_routes(settings_with({"topic": "korea", "notify": [HOOK]})), now=NOW) == 0


def test_channels_that_mask_alike_stay_distinct():
    same = ["json://user:one@127.0.0.1:9/hook", "json://user:two@127.0.0.1:9/hook"]
    ids = channel_identities(same)
    assert ids[0] != ids[1] and ids[1].endswith("#2") and "one" not in ids[0] and "two" not in ids[1]


def test_config_rejects_duplicate_rule_names_and_unknown_feeds():
    from newswatch.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        settings_with({"topic": "korea", "notify": [HOOK]}, {"topic": "korea", "notify": [HOOK2], "feeds": ["Nope"]})
    text = "\n".join(e.value.problems)
    assert "alerts[1].name" in text and "alerts[1].feeds[0]" in text


def test_a_load_without_new_items_reexamines_stories_only_when_the_routes_changed(mem_db):
    """No new item and the same routes: nothing can match that did not before, so nothing is read or queued.
    A changed rule (a lowered min_sources) re-examines the stories of the last day even without new items."""
    strict = settings_with({"topic": "korea", "notify": [HOOK], "min_sources": 2})
    add_copy(mem_db, "s1", "a1", 1)
    assert queue_alerts(mem_db, alert_routes(strict), now=NOW) == 0
    later = NOW + timedelta(minutes=15)
    assert queue_alerts(mem_db, alert_routes(strict), now=later, new_items=False) == 0
    # an item that arrived without the caller saying so is not looked at: the caller is the load that wrote it
    add_copy(mem_db, "s1", "a1", 2, seen=later)
    assert queue_alerts(mem_db, alert_routes(strict), now=later, new_items=False) == 0
    assert queue_alerts(mem_db, alert_routes(strict), now=later, new_items=True) == 1
    lowered = settings_with({"topic": "korea", "notify": [HOOK2], "min_sources": 1})
    assert queue_alerts(mem_db, alert_routes(lowered), now=later, new_items=False) == 1  # the new channel's row


def test_with_the_same_routes_a_load_examines_only_stories_with_copies_since_the_last_examination(mem_db):
    """The stories read are those that gained a copy since the last examination: a story whose copies all
    came before it is not read again (here: a topic match added behind the pipeline's back stays unseen)
    until the routes change, which looks back over the last day again."""
    s = settings_with({"topic": "korea", "notify": [HOOK]})
    add_copy(mem_db, "s1", "a1", 1, topic="sport")  # not a korea story when examined
    assert queue_alerts(mem_db, alert_routes(s), now=NOW) == 0
    t1, t2 = NOW + timedelta(minutes=5), NOW + timedelta(minutes=15, microseconds=987_654)
    add_copy(mem_db, "s2", "b1", 2, seen=t1)
    assert queue_alerts(mem_db, alert_routes(s), now=t1) == 1
    mem_db.execute("INSERT INTO topic_matches (article_id, topic, matched_terms, matched_at, article_key) "
                   "VALUES ('a1', 'korea', ['North Korea'], ?, md5_number_lower('a1'))", [t1])
    add_copy(mem_db, "s3", "c1", 3, seen=t2)
    assert queue_alerts(mem_db, alert_routes(s), now=t2) == 1  # s3 only: s1's copies are older than t1
    # An item seen at the very moment of the last examination is still examined (a later load of the
    # same cycle shares its clock).
    add_copy(mem_db, "s4", "d1", 3, seen=t2)
    assert queue_alerts(mem_db, alert_routes(s), now=t2) == 1
    assert [r[1] for r in alert_rows(mem_db)] == ["s2", "s3", "s4"]
    changed = settings_with({"topic": "korea", "notify": [HOOK], "max_age_hours": 47})
    assert queue_alerts(mem_db, alert_routes(changed), now=t2, new_items=False) == 1
    assert [r[1] for r in alert_rows(mem_db)] == ["s1", "s2", "s3", "s4"]
