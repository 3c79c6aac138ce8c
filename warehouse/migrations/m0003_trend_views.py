"""The analysts' trend views and macros: daily volumes, spikes, co-occurrence and top speakers.

The spike thresholds (14-day baseline, at least 3 stories, score 3.0) are written into the SQL as literals;
``warehouse/views.py`` keeps the same numbers for the Python side (charts, tests) and explains them.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
-- Per topic and UTC day: matched articles and stories, and their share of everything that day.
-- Dense from the topic's first matched day: days with articles but no match have 0 (days on which the
-- warehouse has no article at all, e.g. while the pipeline was down, have no row).
CREATE VIEW topic_daily AS
WITH days AS (
    SELECT CAST(published_at AT TIME ZONE 'UTC' AS DATE) AS day,
           count(*) AS all_articles, count(DISTINCT story_id) AS all_stories
    FROM articles GROUP BY ALL
), matched AS (
    SELECT t.topic, CAST(a.published_at AT TIME ZONE 'UTC' AS DATE) AS day,
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
    SELECT CAST(published_at AT TIME ZONE 'UTC' AS DATE) AS day, count(*) AS all_articles
    FROM articles GROUP BY ALL
), per_day AS (
    SELECT m.entity_id, CAST(a.published_at AT TIME ZONE 'UTC' AS DATE) AS day,
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
-- against the mean of the 14 24-hour windows before them, counted in distinct stories.
-- score = (current_stories - baseline_stories) / sqrt(baseline_stories + 1);
-- is_spike = current_stories >= 3 AND score >= 3.0.
CREATE MACRO spike_scores_at(as_of) AS TABLE
WITH hits AS (
    SELECT 'topic' AS kind, t.topic AS key, a.article_id, a.story_id, a.published_at
    FROM topic_matches t JOIN articles a USING (article_id)
    UNION ALL
    SELECT 'entity' AS kind, m.entity_id AS key, a.article_id, a.story_id, a.published_at
    FROM mentions m JOIN articles a USING (article_id)
), windowed AS (
    SELECT kind, key, article_id, story_id,
           (epoch_us(CAST(as_of AS TIMESTAMPTZ)) - epoch_us(published_at)) // 86400000000 AS bucket
    FROM hits
    WHERE published_at <= CAST(as_of AS TIMESTAMPTZ)
      AND published_at > CAST(as_of AS TIMESTAMPTZ) - INTERVAL 15 DAY
), per_bucket AS (
    SELECT kind, key, bucket, count(DISTINCT article_id) AS articles, count(DISTINCT story_id) AS stories
    FROM windowed GROUP BY ALL
), totals AS (
    SELECT kind, key,
           coalesce(sum(stories) FILTER (WHERE bucket = 0), 0) AS current_stories,
           coalesce(sum(articles) FILTER (WHERE bucket = 0), 0) AS current_articles,
           coalesce(sum(stories) FILTER (WHERE bucket > 0), 0) / 14 AS baseline_stories,
           coalesce(sum(articles) FILTER (WHERE bucket > 0), 0) / 14 AS baseline_articles
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
       s.current_stories >= 3 AND s.score >= 3.0 AS is_spike,
       CAST(as_of AS TIMESTAMPTZ) - INTERVAL 1 DAY AS window_start,
       CAST(as_of AS TIMESTAMPTZ) AS window_end
FROM scored s
LEFT JOIN entities e ON s.kind = 'entity' AND e.entity_id = s.key;

CREATE VIEW spike_scores AS SELECT * FROM spike_scores_at(now());

CREATE VIEW spikes AS SELECT * FROM spike_scores WHERE is_spike ORDER BY score DESC, kind, key;

-- Pairs of entities mentioned in the same article, per UTC day (entity_a < entity_b by entity_id).
CREATE VIEW cooccurrence AS
WITH pairs AS (SELECT DISTINCT article_id, entity_id FROM mentions)
SELECT CAST(a.published_at AT TIME ZONE 'UTC' AS DATE) AS day,
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
