"""Story grouping: hand-written copies that must join, near-misses that must not, and the warehouse side."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pytest

from newswatch.models import Article
from transform.stories import (
    LshIndex,
    StoryCandidate,
    content_hash,
    headline_key,
    minhash_signature,
    near_duplicate_score,
    shingle_hashes,
    shingle_similarity,
    story_match,
    text_fingerprint,
    text_tokens,
    url_version_key,
)
from transform.urls import article_id_for, normalized_url
from warehouse.migrations import migrate
from warehouse.stories import StoryIndex

# Hand-written articles (fiction written for these tests).
MISSILE = [
    "SEOUL - North Korea fired a short-range ballistic missile into the sea off its east coast on Tuesday "
    "morning, the South Korean military said, the third launch in as many weeks.",
    "The missile was launched from an area near the capital shortly after 7 a.m. and flew about 600 "
    "kilometres before falling into the water outside Japan's exclusive economic zone, officials said.",
    "Japan's defence ministry said no damage to ships or aircraft had been reported, and Tokyo lodged a "
    "protest through diplomatic channels in Beijing.",
    "Analysts said the timing suggested a response to joint air drills that the United States and South "
    "Korea began on Monday, which Pyongyang has called a rehearsal for invasion.",
    "North Korea has conducted six nuclear tests since 2006 and is barred by United Nations Security "
    "Council resolutions from developing ballistic missile technology.",
    "The South Korean president convened a meeting of his national security council and ordered the "
    "military to keep a close watch on further provocations, his office said.",
]
TALKS = [
    "SEOUL - Envoys from South Korea and the United States met in Washington on Thursday to discuss how to "
    "bring North Korea back to negotiations over its weapons programmes, the foreign ministry said.",
    "The two sides agreed to keep the door open to dialogue and to expand humanitarian aid through "
    "international agencies if Pyongyang accepted, according to a joint statement.",
    "North Korea has conducted six nuclear tests since 2006 and is barred by United Nations Security "
    "Council resolutions from developing ballistic missile technology.",
    "A senior official said the allies were also discussing sanctions enforcement at sea, where tankers "
    "have been seen transferring fuel to North Korean vessels in violation of the limits.",
    "Pyongyang has not responded publicly to repeated offers of talks since the collapse of a summit in "
    "2019, and its state media on Wednesday described the allies' proposals as a deception.",
]
BUDGET = [
    "The city council approved a budget of 4.2 billion dollars on Wednesday night after a five-hour "
    "meeting in which residents urged members to protect library hours and bus routes.",
    "The plan raises property taxes by 2 percent, the first increase in six years, and sets aside money to "
    "hire 40 additional paramedics for the fire department's ambulance service.",
    "Council member Dana Whitfield, who voted against the measure, said the increase would fall hardest on "
    "older homeowners living on fixed incomes in the city's eastern neighbourhoods.",
    "The mayor is expected to sign the budget next week. It takes effect on July 1.",
]
BRIEF = ("A water main break flooded three blocks of Elm Street early on Saturday, closing the road to traffic "
         "for most of the day while crews replaced a section of the 80-year-old pipe.")
OTHER_BRIEFS = [
    "The county fair opens on Friday with a new livestock pavilion and extended evening hours for families "
    "who want to see the fireworks show over the lake after dark.",
    "Police are asking for help finding a bicycle thief who took six bikes from a rack outside the train "
    "station over the weekend, according to a statement released on Sunday.",
    "The public library will host a free seminar on planning for retirement next Tuesday, with advisers "
    "from two local credit unions answering questions from residents.",
    "A new bakery opened on Main Street this week, offering sourdough bread and pastries made with flour "
    "from a mill in the next county, and a small cafe with outdoor seating.",
]
T0 = datetime(2024, 11, 4, 7, 30, tzinfo=UTC)


def text(paras: list[str]) -> str:
    return "\n\n".join(paras)


def article(url: str, paras: list[str] | str, *, minutes: float = 0, title: str | None = "A headline") -> Article:
    body = paras if isinstance(paras, str) else text(paras)
    when = T0 + timedelta(minutes=minutes)
    canonical = normalized_url(url)
    return Article(article_id_for(canonical), url, canonical, "feed", title, None, when, "feed",
                   when + timedelta(minutes=3), "en", body, len(body.split()), content_hash(body))


def sim(a: str, b: str) -> float | None:
    return near_duplicate_score(shingle_similarity(text_fingerprint(a).shingles, text_fingerprint(b).shingles))


@pytest.fixture()
def con(mem_db: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return mem_db


def assign(con: duckdb.DuckDBPyConnection, index: StoryIndex, arts: list[Article]):
    con.execute("BEGIN")
    out = index.assign(con, arts)
    con.execute("COMMIT")
    return out


# --- pure functions -----------------------------------------------------------------------------------

def test_content_hash_ignores_case_punctuation_and_spacing_but_not_words():
    a = "North Korea fired a missile, officials said."
    assert content_hash(a) == content_hash("  north KOREA fired a missile -- officials said ")
    assert content_hash(a) == content_hash("North Korea fired a missile; officials said!")
    assert content_hash(a) != content_hash("North Korea fired two missiles, officials said.")
    assert len(content_hash(a)) == 40
    assert text_fingerprint(a).content_hash == content_hash(a)


def test_signatures_are_deterministic_because_they_are_stored():
    shingles = shingle_hashes(text_tokens(text(MISSILE)))
    assert shingles.dtype == np.uint32 and np.all(np.diff(shingles.astype(np.int64)) > 0)
    sig = minhash_signature(shingles)
    assert sig is not None and sig.shape == (128,)
    # Pinned values: if these change, stored signatures are stale; bump SIGNATURE_VERSION.
    assert shingle_hashes(["north", "korea", "fired", "a", "missile"]).tolist() == [1526164818]
    assert minhash_signature(np.array([1, 2, 3], dtype=np.uint32))[:3].tolist() == [3435895495, 1638756650, 1790797699]


def test_the_minhash_estimate_tracks_the_exact_jaccard():
    a, b = text_fingerprint(text(MISSILE)), text_fingerprint(text(MISSILE[:4] + MISSILE[5:]))
    exact = shingle_similarity(a.shingles, b.shingles).jaccard
    assert abs(float(np.mean(a.signature == b.signature)) - exact) < 0.15


@pytest.mark.parametrize(
    "copy",
    [
        pytest.param(text(MISSILE[:3] + MISSILE[4:]), id="dropped paragraph"),
        pytest.param(text(MISSILE[:4]), id="trimmed from the bottom"),
        pytest.param(text(MISSILE[:2] + ["Officials in Tokyo said they would brief reporters later in the day "
                                         "on what radar had shown about the flight."] + MISSILE[2:]), id="added paragraph"),
        pytest.param(text(MISSILE + ["(Reporting by Jane Park; Editing by Tom Hale)"]), id="credit line"),
        pytest.param(text(["Advertisement", *MISSILE, "Copyright 2024 Wire Services. All rights reserved.",
                           "Sign up for our newsletter to get the top headlines every morning."]), id="site template"),
        pytest.param(text(MISSILE).replace("kilometres", "km").replace("Tuesday morning", "Tuesday"), id="copy edits"),
    ],
)
def test_newsroom_copies_are_near_duplicates(copy):
    assert sim(text(MISSILE), copy) is not None


def test_two_stories_on_one_topic_sharing_a_background_paragraph_are_not_near_duplicates():
    s = shingle_similarity(text_fingerprint(text(MISSILE)).shingles, text_fingerprint(text(TALKS)).shingles)
    assert s.containment > 0.1  # they do share a paragraph
    assert near_duplicate_score(s) is None


def test_a_short_brief_inside_a_long_roundup_is_not_a_copy_of_it():
    roundup = text([OTHER_BRIEFS[0], BRIEF, *OTHER_BRIEFS[1:]])
    s = shingle_similarity(text_fingerprint(BRIEF).shingles, text_fingerprint(roundup).shingles)
    assert s.containment > 0.95
    assert near_duplicate_score(s) is None


def test_url_version_key_removes_update_markers_only():
    key = url_version_key("https://news.example/2024/11/04/north-korea-missile.html")
    assert key is not None
    assert url_version_key("https://www.news.example/2024/11/04/north-korea-missile-updated.html") == key
    assert url_version_key("https://news.example/2024/11/04/north-korea-missile.html?update=2&utm_source=x") == key
    assert url_version_key("https://news.example/world/north-korea-missile/amp") == \
        url_version_key("https://news.example/world/north-korea-missile")
    assert url_version_key("https://news.example/2024/11/05/north-korea-talks.html") != key
    assert url_version_key("https://news.example/") is None
    assert url_version_key("https://news.example/world") is None


def test_headline_key_ignores_update_markers_and_short_headlines():
    k = headline_key("https://news.example/a", "North Korea fires missile into sea off east coast")
    assert k == headline_key("https://www.news.example/b", "UPDATE 2-North Korea fires missile into sea off east coast")
    assert k == headline_key("https://news.example/c", "North Korea fires missile into sea off east coast (updated)")
    assert k != headline_key("https://other.example/a", "North Korea fires missile into sea off east coast")
    assert headline_key("https://news.example/a", "Live updates") is None
    assert headline_key("https://news.example/a", None) is None


def test_lsh_index_finds_a_copy_and_forgets_removed_items():
    lsh = LshIndex()
    fps = [text_fingerprint(t) for t in (text(MISSILE), text(BUDGET), text(MISSILE[:3] + MISSILE[4:]))]
    keys = [lsh.band_keys(f.signature) for f in fps]
    lsh.add(0, keys[0])
    lsh.add(1, keys[1])
    assert lsh.candidates(keys[2]) == {0}
    lsh.remove(0)
    assert lsh.candidates(keys[2]) == set() and len(lsh) == 1
    bulk = LshIndex()
    bulk.add_many(np.array([5, 6]), bulk.band_keys(np.stack([fps[0].signature, fps[1].signature])))
    assert bulk.candidates(keys[2]) == {5}


def test_lsh_index_stays_correct_through_compactions():
    lsh = LshIndex(bands=4, rows=2)
    rng = np.random.default_rng(3)
    sigs = rng.integers(0, 2**32, size=(2000, 128), dtype=np.uint64).astype(np.uint32)
    keys = lsh.band_keys(sigs)
    for i in range(2000):
        lsh.add(i, keys[i])
        if i >= 500:
            lsh.remove(i - 500)
    assert len(lsh) == 500
    assert all(lsh.candidates(keys[i]) == {i} for i in (1500, 1999, 1700))
    assert lsh.candidates(keys[10]) == set()


# --- the warehouse side -------------------------------------------------------------------------------

def test_copies_in_one_batch_join_the_story_of_the_earliest(con):
    orig = article("https://wire.example/2024/11/04/north-korea-missile-launch", MISSILE, title="N. Korea fires missile")
    copies = [
        article("https://paper-a.example/world/nk-missile", MISSILE, minutes=30, title="Missile launched"),  # exact
        article("https://paper-b.example/asia/north-korea-fires", MISSILE[:3] + MISSILE[4:], minutes=45),
        article("https://wire.example/2024/11/04/north-korea-missile-launch-updated",
                ["UPDATED 9:40 a.m.: adds Japan's reaction.", *MISSILE], minutes=90),
    ]
    other = article("https://city.example/news/council-approves-budget", BUDGET, minutes=10)
    result = assign(con, StoryIndex.load(con, now=T0), [*reversed(copies), other, orig])
    by = {a.article_id: a for a in result}
    assert by[orig.article_id].method == "first" and by[orig.article_id].story_id == orig.article_id
    assert [by[c.article_id].method for c in copies] == ["exact", "near", "url_update"]
    assert {by[c.article_id].story_id for c in copies} == {orig.article_id}
    assert by[copies[1].article_id].similarity >= 0.8
    assert by[other.article_id].story_id == other.article_id
    rows = con.execute("SELECT story_id, first_seen_at, last_seen_at, title, article_count FROM stories ORDER BY article_count DESC").fetchall()
    assert rows[0] == (orig.article_id, orig.published_at, copies[2].published_at, "N. Korea fires missile", 4)
    assert rows[1][4] == 1
    copies_sql = con.execute("SELECT article_id, method FROM story_copies WHERE story_id = ? ORDER BY linked_at, article_id",
                             [orig.article_id]).fetchall()
    assert len(copies_sql) == 4


def test_the_index_survives_a_restart_and_assign_is_idempotent(con):
    orig = article("https://wire.example/2024/11/04/north-korea-missile-launch", MISSILE)
    first = assign(con, StoryIndex.load(con, now=T0), [orig])
    copy = article("https://paper-c.example/nk", ["Advertisement", *MISSILE[:5]], minutes=300)
    reloaded = StoryIndex.load(con, now=copy.fetched_at)
    assert len(reloaded) == 1
    second = assign(con, reloaded, [copy])
    assert second[0].story_id == orig.article_id and second[0].method == "near"
    again = assign(con, StoryIndex.load(con, now=copy.fetched_at), [copy, orig])
    assert again == [second[0], first[0]]
    assert con.execute("SELECT count(*) FROM story_links").fetchone() == (2,)
    assert con.execute("SELECT count(*) FROM story_signatures").fetchone() == (2,)
    assert con.execute("SELECT article_count FROM stories").fetchall() == [(2,)]


def test_same_topic_stories_from_different_days_stay_apart(con):
    day1 = article("https://wire.example/2024/11/04/missile", MISSILE, title="North Korea fires missile off east coast")
    day2 = article("https://wire.example/2024/11/07/talks", TALKS, minutes=3 * 24 * 60,
                   title="Allies discuss how to bring North Korea back to talks")
    out = assign(con, StoryIndex.load(con, now=T0), [day1, day2])
    assert [a.method for a in out] == ["first", "first"]
    assert con.execute("SELECT count(*) FROM stories").fetchone() == (2,)


def test_a_copy_outside_the_window_starts_a_new_story(con):
    orig = article("https://wire.example/2024/11/04/missile", MISSILE)
    late = article("https://paper.example/missile-recap", MISSILE, minutes=8 * 24 * 60)
    assign(con, StoryIndex.load(con, now=T0), [orig])
    assert assign(con, StoryIndex.load(con, now=late.fetched_at), [late])[0].method == "first"
    con2 = duckdb.connect(":memory:")
    migrate(con2)
    assign(con2, StoryIndex.load(con2, now=T0), [orig])
    wide = StoryIndex.load(con2, window_days=10, now=late.fetched_at)
    assert assign(con2, wide, [late])[0].story_id == orig.article_id


def test_the_window_evicts_old_articles_and_prunes_their_signatures(con):
    index = StoryIndex.load(con, window_days=1, now=T0)
    assign(con, index, [article("https://a.example/2024/budget-vote", BUDGET)])
    assert len(index) == 1
    assign(con, index, [article("https://b.example/2024/missile-story", MISSILE, minutes=2 * 24 * 60)])
    assert len(index) == 1
    assert con.execute("SELECT count(*) FROM story_signatures").fetchone() == (1,)
    assert con.execute("SELECT count(*) FROM story_links").fetchone() == (2,)


def test_short_generic_texts_never_merge(con):
    stub = "Subscribe to continue reading. Already a subscriber? Log in."
    out = assign(con, StoryIndex.load(con, now=T0),
                 [article("https://p.example/2024/story-one", stub), article("https://p.example/2024/story-two", stub, minutes=5)])
    assert [a.method for a in out] == ["first", "first"]


def test_a_rewritten_update_with_the_same_headline_on_the_same_site_joins(con):
    orig = article("https://wire.example/world/a1", MISSILE, title="North Korea fires ballistic missile into sea")
    rewrite = article("https://wire.example/world/a2",
                      MISSILE[:3] + ["A second missile was fired an hour later, the military said, and flew a "
                                     "shorter distance before splashing down near the coast."] + TALKS[:2],
                      minutes=120, title="UPDATE 1-North Korea fires ballistic missile into sea")
    s = shingle_similarity(text_fingerprint(orig.text).shingles, text_fingerprint(rewrite.text).shingles)
    assert near_duplicate_score(s) is None  # too rewritten for a near-duplicate
    out = assign(con, StoryIndex.load(con, now=T0), [orig, rewrite])
    assert out[1].method == "url_update" and out[1].story_id == orig.article_id


def test_a_recurring_headline_on_one_site_with_a_shared_footer_is_not_an_update(con):
    footer = ["Letters may be edited for length and clarity. Send yours to the opinion desk with your name, "
              "address and a daytime phone number so that we can confirm you wrote it."]
    week1 = article("https://paper.example/opinion/letters-1", BUDGET[:2] + footer, title="Letters to the editor: readers respond")
    week2 = article("https://paper.example/opinion/letters-2", TALKS[:2] + footer, minutes=7 * 24 * 60 - 60,
                    title="Letters to the editor: readers respond")
    out = assign(con, StoryIndex.load(con, window_days=8, now=T0), [week1, week2])
    assert [a.method for a in out] == ["first", "first"]


def test_a_brief_and_a_roundup_that_quotes_it_stay_apart(con):
    brief = article("https://local.example/2024/water-main-break", BRIEF)
    roundup = article("https://local.example/2024/weekend-news-roundup", [OTHER_BRIEFS[0], BRIEF, *OTHER_BRIEFS[1:]],
                      minutes=60)
    out = assign(con, StoryIndex.load(con, now=T0), [brief, roundup])
    assert out[1].story_id == roundup.article_id


def _dated_back(a: Article, days: float) -> Article:
    return dataclasses.replace(a, published_at=a.published_at - timedelta(days=days))


def test_copies_of_news_dated_eleven_months_back_join_their_story_across_cycles(con):
    """The window runs on the articles' own dates: a back catalogue read today still forms stories."""
    orig = _dated_back(article("https://wire.example/2024/01/04/missile", MISSILE), 330)
    copy = _dated_back(article("https://paper.example/world/missile-fired", MISSILE, minutes=90), 330)
    assert assign(con, StoryIndex.load(con, now=orig.fetched_at), [orig])[0].method == "first"
    # the next cycle: a fresh index loaded from the warehouse, a copy fetched an hour and a half later
    out = assign(con, StoryIndex.load(con, now=copy.fetched_at), [copy])
    assert out[0].story_id == orig.article_id and out[0].method != "first"
    assert con.execute("SELECT count(*) FROM story_signatures").fetchone() == (2,)  # fetched recently: kept


def test_old_and_current_news_in_one_batch_each_join_their_own_copies(con):
    old, old_copy = (_dated_back(article(u, MISSILE, minutes=m), 300)
                     for u, m in (("https://wire.example/a/missile", 0), ("https://paper.example/b/missile", 5)))
    new, new_copy = (article(u, BUDGET, minutes=m)
                     for u, m in (("https://wire.example/a/budget", 0), ("https://paper.example/b/budget", 5)))
    index = StoryIndex.load(con, now=T0)
    out = assign(con, index, [new, old, new_copy, old_copy])
    assert [a.story_id for a in out] == [new.article_id, old.article_id, new.article_id, old.article_id]
    far = _dated_back(article("https://third.example/c/missile", MISSILE, minutes=9), 300 + 8)  # 8 days earlier
    assert assign(con, StoryIndex.load(con, now=T0), [far])[0].method == "first"  # the window still applies


def test_migration_0008_gives_existing_signatures_their_article_time_as_fetch_time():
    from warehouse.migrations import migrations

    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)")
    every = migrations()
    names = [m.name for m in every]
    for m in every[: names.index("0008_story_fetched_at")]:
        con.execute(m.sql)
        con.execute("INSERT INTO _migrations VALUES (?, now())", [m.name])
    con.execute("INSERT INTO story_signatures (article_id, story_id, article_time, content_hash, word_count, url_keys,"
                " shingles, signature_version) VALUES ('a', 'a', ?, 'h', 50, [], [], 1)", [T0])
    assert migrate(con)[0] == "0008_story_fetched_at"  # then any later migrations
    assert con.execute("SELECT fetched_at = article_time FROM story_signatures").fetchone() == (True,)
class _Lookup:
    """Earlier copies by key, as the warehouse index would answer (the newest holder of a key wins)."""

    def __init__(self, candidates: list[StoryCandidate]) -> None:
        self.hashes = {c.content_hash: c for c in candidates}
        self.urls = {k: c for c in candidates for k in c.url_keys}
        self.headlines = {c.headline_key: c for c in candidates if c.headline_key}

    def with_content_hash(self, content_hash: str) -> StoryCandidate | None:
        return self.hashes.get(content_hash)

    def with_url_key(self, key: str) -> StoryCandidate | None:
        return self.urls.get(key)

    def with_headline_key(self, key: str) -> StoryCandidate | None:
        return self.headlines.get(key)


def _candidate(aid: str, text: str, url: str, title: str | None = None, t: float = 0.0) -> StoryCandidate:
    fp = text_fingerprint(text)
    keys = tuple(sorted({k for k in [url_version_key(url)] if k}))
    return StoryCandidate(aid, f"story-{aid}", t, fp.content_hash, fp.word_count, keys, headline_key(url, title),
                          fp.shingles, fp.signature is not None)


def test_story_match_runs_the_cascade_exact_then_url_then_near_then_headline_without_a_warehouse() -> None:
    text = "\n".join(MISSILE)
    orig = _candidate("a", text, "https://wire.example/2024/05/07/missile-launch", "North Korea fires missile into the sea")
    lookup = _Lookup([orig])
    asked: list[str] = []

    def near() -> list[StoryCandidate]:
        asked.append("near")
        return [orig]

    exact = story_match(_candidate("b", text.upper(), "https://other.example/x/missile"), lookup, near)
    assert exact is not None and (exact.candidate.article_id, exact.method, exact.similarity) == ("a", "exact", 1.0)
    updated = story_match(_candidate("c", "\n".join(MISSILE[:4]), "https://wire.example/2024/05/07/missile-launch-updated"),
                          lookup, near)
    assert updated is not None and updated.method == "url_update"
    assert asked == []  # the LSH candidates are not even asked for when a keyed rule decides
    copied = story_match(_candidate("d", "\n".join(MISSILE[:5]) + "\nCopyright Other News.", "https://other.example/x/y"),
                         lookup, near)
    assert copied is not None and copied.method == "near" and asked == ["near"]
    assert story_match(_candidate("e", "\n".join(TALKS), "https://other.example/x/talks"), lookup, near) is None
    short = _candidate("f", "North Korea fired a missile.", "https://wire.example/2024/05/07/missile-launch")
    assert story_match(short, lookup, near) is None  # too short to match anything, even its own URL


def test_story_match_takes_the_best_near_copy_and_the_oldest_on_a_tie() -> None:
    text = "\n".join(MISSILE)
    older = _candidate("old", text + "\nA trailing credit line.", "https://a.example/x/one", t=1.0)
    newer = _candidate("new", text + "\nA trailing credit line.", "https://b.example/x/two", t=2.0)
    lookup = _Lookup([])
    found = story_match(_candidate("n", text, "https://c.example/x/three"), lookup, lambda: [newer, older])
    assert found is not None and found.candidate.article_id == "old" and found.method == "near"
