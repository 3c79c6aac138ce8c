"""Trend views for analysts (migrations 0003 and 0005): daily volumes, spikes, co-occurrence and top speakers.

Why views and table macros rather than tables: they are always as fresh as the snapshot they read, cost
nothing to store, and every consumer (``newswatch sql``, ``newswatch trends``, a notebook) gets the same
definitions. The SQL is stored in the database when the migration runs; a change to anything below
(including the spike thresholds, which are formatted into the SQL) needs a new migration that drops and
recreates the objects. Never edit ``TREND_VIEWS_SQL`` in place once it has shipped.

Conventions shared by every object here:

- A *day* is the UTC calendar day of ``articles.published_at``. The cast goes through
  ``AT TIME ZONE 'UTC'`` because a plain ``published_at::DATE`` uses the session's ``TimeZone``
  setting, so the same query would give different days on machines in different zones.
- ``articles`` counts copies; ``stories`` counts distinct ``story_id`` (copies of one wire story
  count once). A story that runs over several days counts once on each of those days.
- Spikes are scored on stories, not articles: fifty outlets carrying one wire story is one event, and
  should not read as a surge of coverage.
"""

from __future__ import annotations

import math

import duckdb

# Length of the trailing baseline before the latest 24 hours, in 24-hour windows (issue 6: "trailing
# 14-day baseline"). Two weeks covers two weekly cycles, so weekday/weekend swings average out.
SPIKE_BASELINE_DAYS = 14

# A key spikes when its latest 24 hours hold at least this many distinct stories ...
# Why 3: with an empty baseline the score equals the count, and 1 or 2 stories after a quiet fortnight
# is what an entity picked up by chance looks like; 3 keeps that noise out. Chosen from the Poisson
# tail, not measured on real traffic (we have no multi-week warehouse yet).
SPIKE_MIN_STORIES = 3

# ... and its score reaches this. The score is (current - baseline) / sqrt(baseline + 1): a z-score
# under a Poisson baseline (variance = mean), with +1 so an empty or near-empty baseline does not
# divide by ~0. Why 3.0: under a stationary Poisson baseline the chance that a key crosses both
# thresholds by luck is below 0.4% per evaluation for any baseline mean (computed exactly from the Poisson
# tail: 0.0006 at mean 1, 0.0035 at mean 10, 0.0020 at mean 50, worst 0.0038 at mean 5.4; see
# tests/test_views.py::test_spike_thresholds_keep_poisson_false_alarms_below_half_a_percent).
# Real news counts are burstier than Poisson, so expect more; query ``spike_scores`` to use your own cut.
SPIKE_MIN_SCORE = 3.0

_DAY = "CAST({col} AT TIME ZONE 'UTC' AS DATE)"
_US_PER_DAY = 86_400_000_000


def spike_score(current: float, baseline_mean: float) -> float:
    """The spike score of ``current`` against a baseline daily mean (the same formula as the SQL)."""
    return (current - baseline_mean) / math.sqrt(baseline_mean + 1.0)


def is_spike(current: float, baseline_mean: float) -> bool:
    """Whether ``current`` stands well above the baseline (the thresholds documented above)."""
    return current >= SPIKE_MIN_STORIES and spike_score(current, baseline_mean) >= SPIKE_MIN_SCORE


TREND_VIEWS_SQL = f"""
-- Per topic and UTC day: matched articles and stories, and their share of everything that day.
-- Dense from the topic's first matched day: days with articles but no match have 0 (days on which the
-- warehouse has no article at all, e.g. while the pipeline was down, have no row).
CREATE VIEW topic_daily AS
WITH days AS (
    SELECT {_DAY.format(col="published_at")} AS day,
           count(*) AS all_articles, count(DISTINCT story_id) AS all_stories
    FROM articles GROUP BY ALL
), matched AS (
    SELECT t.topic, {_DAY.format(col="a.published_at")} AS day,
           count(DISTINCT a.article_id) AS articles, count(DISTINCT a.story_id) AS stories
    FROM topic_matches t JOIN articles a USING (article_id)
    GROUP BY ALL
), first_days AS (
    SELECT topic, min(day) AS first_day FROM matched GROUP BY topic
)
SELECT d.day, f.topic,
       coalesce(m.articles, 0) AS articles, coalesce(m.stories, 0) AS stories,
       d.all_articles, d.all_stories,
       coalesce(m.articles, 0) / d.all_articles AS share,
       coalesce(m.stories, 0) / d.all_stories AS story_share
FROM first_days f
JOIN days d ON d.day >= f.first_day
LEFT JOIN matched m ON m.topic = f.topic AND m.day = d.day;

-- Per entity and UTC day with at least one mention (sparse: entities x days would be huge).
CREATE VIEW entity_daily AS
WITH days AS (
    SELECT {_DAY.format(col="published_at")} AS day, count(*) AS all_articles
    FROM articles GROUP BY ALL
), per_day AS (
    SELECT m.entity_id, {_DAY.format(col="a.published_at")} AS day,
           count(*) AS mentions, count(DISTINCT m.article_id) AS articles, count(DISTINCT a.story_id) AS stories
    FROM mentions m JOIN articles a USING (article_id)
    GROUP BY ALL
)
SELECT p.day, p.entity_id, e.name, e.type, p.mentions, p.articles, p.stories,
       d.all_articles, p.articles / d.all_articles AS share
FROM per_day p
JOIN days d USING (day)
LEFT JOIN entities e USING (entity_id);

-- Every topic and entity seen in the 15 days up to as_of, scored: the latest 24 hours (as_of - 24h, as_of]
-- against the mean of the {SPIKE_BASELINE_DAYS} 24-hour windows before them, counted in distinct stories.
-- score = (current_stories - baseline_stories) / sqrt(baseline_stories + 1);
-- is_spike = current_stories >= {SPIKE_MIN_STORIES} AND score >= {SPIKE_MIN_SCORE}.
CREATE MACRO spike_scores_at(as_of) AS TABLE
WITH hits AS (
    SELECT 'topic' AS kind, t.topic AS key, a.article_id, a.story_id, a.published_at
    FROM topic_matches t JOIN articles a USING (article_id)
    UNION ALL
    SELECT 'entity' AS kind, m.entity_id AS key, a.article_id, a.story_id, a.published_at
    FROM mentions m JOIN articles a USING (article_id)
), windowed AS (
    SELECT kind, key, article_id, story_id,
           (epoch_us(CAST(as_of AS TIMESTAMPTZ)) - epoch_us(published_at)) // {_US_PER_DAY} AS bucket
    FROM hits
    WHERE published_at <= CAST(as_of AS TIMESTAMPTZ)
      AND published_at > CAST(as_of AS TIMESTAMPTZ) - INTERVAL {SPIKE_BASELINE_DAYS + 1} DAY
), per_bucket AS (
    SELECT kind, key, bucket, count(DISTINCT article_id) AS articles, count(DISTINCT story_id) AS stories
    FROM windowed GROUP BY ALL
), totals AS (
    SELECT kind, key,
           coalesce(sum(stories) FILTER (WHERE bucket = 0), 0) AS current_stories,
           coalesce(sum(articles) FILTER (WHERE bucket = 0), 0) AS current_articles,
           coalesce(sum(stories) FILTER (WHERE bucket > 0), 0) / {SPIKE_BASELINE_DAYS} AS baseline_stories,
           coalesce(sum(articles) FILTER (WHERE bucket > 0), 0) / {SPIKE_BASELINE_DAYS} AS baseline_articles
    FROM per_bucket GROUP BY ALL
), scored AS (
    SELECT *, (current_stories - baseline_stories) / sqrt(baseline_stories + 1) AS score
    FROM totals
)
SELECT s.kind, s.key,
       CASE WHEN s.kind = 'topic' THEN s.key ELSE coalesce(e.name, s.key) END AS name,
       e.type,
       CAST(s.current_stories AS BIGINT) AS current_stories,
       CAST(s.current_articles AS BIGINT) AS current_articles,
       s.baseline_stories, s.baseline_articles,
       s.current_stories / nullif(s.baseline_stories, 0) AS ratio,
       s.score,
       s.current_stories >= {SPIKE_MIN_STORIES} AND s.score >= {SPIKE_MIN_SCORE} AS is_spike,
       CAST(as_of AS TIMESTAMPTZ) - INTERVAL 1 DAY AS window_start,
       CAST(as_of AS TIMESTAMPTZ) AS window_end
FROM scored s
LEFT JOIN entities e ON s.kind = 'entity' AND e.entity_id = s.key;

CREATE VIEW spike_scores AS SELECT * FROM spike_scores_at(now());

CREATE VIEW spikes AS SELECT * FROM spike_scores WHERE is_spike ORDER BY score DESC, kind, key;

-- Pairs of entities mentioned in the same article, per UTC day (entity_a < entity_b by entity_id).
CREATE VIEW cooccurrence AS
WITH pairs AS (SELECT DISTINCT article_id, entity_id FROM mentions)
SELECT {_DAY.format(col="a.published_at")} AS day,
       x.entity_id AS entity_a, ea.name AS name_a, ea.type AS type_a,
       y.entity_id AS entity_b, eb.name AS name_b, eb.type AS type_b,
       count(*) AS articles, count(DISTINCT a.story_id) AS stories
FROM pairs x
JOIN pairs y ON y.article_id = x.article_id AND x.entity_id < y.entity_id
JOIN articles a ON a.article_id = x.article_id
LEFT JOIN entities ea ON ea.entity_id = x.entity_id
LEFT JOIN entities eb ON eb.entity_id = y.entity_id
GROUP BY ALL;

-- Who is quoted in articles matching each topic, published in [since, until). Attributed quotes only
-- (speaker <> ''). A speaker is their entity when the quote was linked to one, else their name
-- (case-insensitive). rank: most stories first, then articles, then quote rows (copies included).
CREATE MACRO top_speakers_between(since, until) AS TABLE
WITH q AS (
    SELECT t.topic, coalesce(q.speaker_entity_id, 'name:' || lower(q.speaker)) AS speaker_key,
           q.speaker, q.speaker_entity_id, q.text, q.article_id, a.story_id, a.published_at
    FROM quotes q
    JOIN topic_matches t USING (article_id)
    JOIN articles a USING (article_id)
    WHERE q.speaker <> ''
      AND a.published_at >= CAST(since AS TIMESTAMPTZ) AND a.published_at < CAST(until AS TIMESTAMPTZ)
), per_speaker AS (
    SELECT q.topic, q.speaker_key,
           coalesce(any_value(e.name), mode(q.speaker)) AS speaker,
           any_value(q.speaker_entity_id) AS speaker_entity_id,
           count(*) AS quotes, count(DISTINCT q.article_id) AS articles, count(DISTINCT q.story_id) AS stories,
           min(q.published_at) AS first_quoted_at, max(q.published_at) AS last_quoted_at,
           arg_max(q.text, q.published_at) AS latest_quote
    FROM q LEFT JOIN entities e ON e.entity_id = q.speaker_entity_id
    GROUP BY q.topic, q.speaker_key
)
SELECT topic,
       rank() OVER (PARTITION BY topic ORDER BY stories DESC, articles DESC, quotes DESC) AS rank,
       speaker, speaker_entity_id, quotes, articles, stories, first_quoted_at, last_quoted_at, latest_quote
FROM per_speaker;

CREATE VIEW top_speakers AS
SELECT * FROM top_speakers_between(TIMESTAMPTZ '-infinity', TIMESTAMPTZ 'infinity');
"""

# Every object migration 0003 creates, for documentation checks and ``DROP`` in a later migration.
TREND_VIEWS = ("topic_daily", "entity_daily", "spike_scores", "spikes", "cooccurrence", "top_speakers")
TREND_MACROS = ("spike_scores_at", "top_speakers_between")


def create_trend_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create the trend views and macros (migration 0003; runs inside the migration's transaction)."""
    con.execute(TREND_VIEWS_SQL)


# Migration 0005: 0003 named an unlinked speaker by ``mode(q.speaker)``, and ``mode`` breaks ties
# arbitrarily, so "Jane Roe" once and "jane roe" once gave either spelling from one run to the next.
# Now: the most frequent spelling; on a tie the one with capitals (how a name is written), then the
# most recently published, then the alphabetically first, so the same data always reads the same.
# ``latest_quote`` had the same flaw (``arg_max`` over ``published_at`` ties between the quotes of one
# article): it is now the last quote of the latest article.
TOP_SPEAKERS_0005_SQL = """
CREATE OR REPLACE MACRO top_speakers_between(since, until) AS TABLE
WITH q AS (
    SELECT t.topic, coalesce(q.speaker_entity_id, 'name:' || lower(q.speaker)) AS speaker_key,
           q.speaker, q.speaker_entity_id, q.text, q.start_char, q.article_id, a.story_id, a.published_at
    FROM quotes q
    JOIN topic_matches t USING (article_id)
    JOIN articles a USING (article_id)
    WHERE q.speaker <> ''
      AND a.published_at >= CAST(since AS TIMESTAMPTZ) AND a.published_at < CAST(until AS TIMESTAMPTZ)
), spellings AS (
    SELECT topic, speaker_key, speaker, count(*) AS n, max(published_at) AS latest
    FROM q GROUP BY ALL
), spelling AS (
    SELECT topic, speaker_key,
           first(speaker ORDER BY n DESC, speaker <> lower(speaker) DESC, latest DESC, speaker) AS speaker
    FROM spellings GROUP BY ALL
), per_speaker AS (
    SELECT q.topic, q.speaker_key,
           coalesce(any_value(e.name), any_value(s.speaker)) AS speaker,
           any_value(q.speaker_entity_id) AS speaker_entity_id,
           count(*) AS quotes, count(DISTINCT q.article_id) AS articles, count(DISTINCT q.story_id) AS stories,
           min(q.published_at) AS first_quoted_at, max(q.published_at) AS last_quoted_at,
           first(q.text ORDER BY q.published_at DESC, q.article_id DESC, q.start_char DESC) AS latest_quote
    FROM q
    JOIN spelling s USING (topic, speaker_key)
    LEFT JOIN entities e ON e.entity_id = q.speaker_entity_id
    GROUP BY q.topic, q.speaker_key
)
SELECT topic,
       rank() OVER (PARTITION BY topic ORDER BY stories DESC, articles DESC, quotes DESC) AS rank,
       speaker, speaker_entity_id, quotes, articles, stories, first_quoted_at, last_quoted_at, latest_quote
FROM per_speaker;

CREATE OR REPLACE VIEW top_speakers AS
SELECT * FROM top_speakers_between(TIMESTAMPTZ '-infinity', TIMESTAMPTZ 'infinity');
"""


def replace_top_speakers(con: duckdb.DuckDBPyConnection) -> None:
    """Migration 0005: ``top_speakers_between`` names an unlinked speaker deterministically."""
    con.execute(TOP_SPEAKERS_0005_SQL)
