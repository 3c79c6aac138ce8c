"""Trend tables the writer keeps up to date each cycle, and the trend views rewritten over them.

Why: the views of migrations 0003-0010 joined ``mentions`` (six rows per article) with ``articles`` and
aggregated the whole archive on every query: at 1M articles ``entity_daily`` for one name took 1.9 s and a
week of co-occurrence 2.6 s, and both grew with the archive. Here the writer keeps:

- ``trend_hits``: one row per (article, key) with the article's story, time and UTC day, for three kinds of
  key: ``feed`` (every article, key = its feed), ``topic`` (key = the topic it matched) and ``entity`` (key =
  the entity it mentions, ``mentions`` = how many times). Append-only, in load order, so a time window reads
  only the row groups of that window;
- ``trend_daily``: per UTC day, kind (feed, topic) and key, the distinct articles and distinct stories (kind
  ``all``, key ``''``: everything that day); ``trend_entity_daily`` the same per entity, with its mentions (a
  table of its own: entities are nearly all the rows, and the topic and feed views should not read them).
  Distinct story counts are not additive, so the writer recomputes the whole day from ``trend_hits`` when any
  of its hits is new (a day's hits, not the archive);
- ``trend_pairs``: per UTC day, the pairs of entities in one article (``entity_a < entity_b``), recomputed
  with their day;
- ``trend_topic_quotes``: one row per (topic, attributed quote) with the article's story and time, what
  ``top_speakers_between`` aggregates;
- ``writer_state``: what the writer keeps between cycles: the ``lake_seq`` high-water marks of the base tables
  the trend tables have folded in (``trend:<table>``), and a digest of the alert routes the outbox last examined
  stories with (``alert_routes``, see ``warehouse/outbox.py``).

The views keep their names, columns and results (a test compares them with the old definitions). Every row
is derived from the base tables, so a lost trend table can be rebuilt from them; this migration fills them
from the rows present now. The writer's code is ``warehouse/trend_tables.py``.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
CREATE TABLE trend_hits (
    kind         VARCHAR NOT NULL,      -- feed | topic | entity
    key          VARCHAR NOT NULL,
    article_id   VARCHAR NOT NULL,
    story_id     VARCHAR NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    day          DATE NOT NULL,         -- UTC day of published_at
    mentions     INTEGER NOT NULL,      -- entity: mentions in the article; else 0
    lake_seq     BIGINT DEFAULT nextval('lake_seq')
);

CREATE TABLE trend_daily (
    day      DATE NOT NULL,
    kind     VARCHAR NOT NULL,          -- all | feed | topic
    key      VARCHAR NOT NULL,
    articles BIGINT NOT NULL,
    stories  BIGINT NOT NULL,
    lake_seq BIGINT DEFAULT nextval('lake_seq')
);

CREATE TABLE trend_entity_daily (
    day       DATE NOT NULL,
    entity_id VARCHAR NOT NULL,
    mentions  BIGINT NOT NULL,
    articles  BIGINT NOT NULL,
    stories   BIGINT NOT NULL,
    lake_seq  BIGINT DEFAULT nextval('lake_seq')
);

CREATE TABLE trend_pairs (
    day      DATE NOT NULL,
    entity_a VARCHAR NOT NULL,
    entity_b VARCHAR NOT NULL,
    articles BIGINT NOT NULL,
    stories  BIGINT NOT NULL,
    lake_seq BIGINT DEFAULT nextval('lake_seq')
);

CREATE TABLE trend_topic_quotes (
    topic             VARCHAR NOT NULL,
    quote_id          VARCHAR NOT NULL,
    article_id        VARCHAR NOT NULL,
    story_id          VARCHAR NOT NULL,
    published_at      TIMESTAMPTZ NOT NULL,
    speaker           VARCHAR NOT NULL,
    speaker_entity_id VARCHAR,
    text              VARCHAR NOT NULL,
    start_char        INTEGER NOT NULL,
    lake_seq          BIGINT DEFAULT nextval('lake_seq')
);

CREATE TABLE writer_state (
    name  VARCHAR PRIMARY KEY,          -- trend:<base table> | alert_routes
    value BIGINT NOT NULL               -- a high-water lake_seq, or a digest
);

INSERT INTO writer_state
SELECT 'trend:articles', coalesce(max(lake_seq), 0) FROM articles
UNION ALL SELECT 'trend:mentions', coalesce(max(lake_seq), 0) FROM mentions
UNION ALL SELECT 'trend:topic_matches', coalesce(max(lake_seq), 0) FROM topic_matches
UNION ALL SELECT 'trend:quotes', coalesce(max(lake_seq), 0) FROM quotes;

INSERT INTO trend_hits (kind, key, article_id, story_id, published_at, day, mentions)
SELECT kind, key, article_id, story_id, published_at, CAST(published_at AT TIME ZONE 'UTC' AS DATE), mentions
FROM (
    SELECT 'feed' AS kind, feed_id AS key, article_id, story_id, published_at, 0 AS mentions, lake_seq AS seq
    FROM articles
    UNION ALL
    SELECT 'topic', t.topic, a.article_id, a.story_id, a.published_at, 0, a.lake_seq
    FROM (SELECT DISTINCT article_id, topic FROM topic_matches) t JOIN articles a USING (article_id)
    UNION ALL
    SELECT 'entity', m.entity_id, a.article_id, a.story_id, a.published_at, m.n, a.lake_seq
    FROM (SELECT article_id, entity_id, count(*) AS n FROM mentions GROUP BY ALL) m JOIN articles a USING (article_id)
)
ORDER BY seq, kind, key;

INSERT INTO trend_daily (day, kind, key, articles, stories)
SELECT day, kind, key, count(DISTINCT article_id), count(DISTINCT story_id)
FROM trend_hits WHERE kind <> 'entity' GROUP BY ALL
UNION ALL
SELECT day, 'all', '', count(DISTINCT article_id), count(DISTINCT story_id)
FROM trend_hits WHERE kind = 'feed' GROUP BY ALL
ORDER BY 1, 2, 3;

INSERT INTO trend_entity_daily (day, entity_id, mentions, articles, stories)
SELECT day, key, sum(mentions), count(DISTINCT article_id), count(DISTINCT story_id)
FROM trend_hits WHERE kind = 'entity' GROUP BY ALL
ORDER BY 1, 2;

INSERT INTO trend_pairs (day, entity_a, entity_b, articles, stories)
SELECT x.day, x.key, y.key, count(*), count(DISTINCT x.story_id)
FROM trend_hits x JOIN trend_hits y ON y.article_id = x.article_id AND y.day = x.day AND x.key < y.key
WHERE x.kind = 'entity' AND y.kind = 'entity'
GROUP BY ALL ORDER BY 1, 2, 3;

INSERT INTO trend_topic_quotes (topic, quote_id, article_id, story_id, published_at, speaker, speaker_entity_id,
                                text, start_char)
SELECT DISTINCT ON (t.topic, q.quote_id) t.topic, q.quote_id, q.article_id, a.story_id, a.published_at, q.speaker,
       q.speaker_entity_id, q.text, q.start_char
FROM quotes q JOIN topic_matches t USING (article_id) JOIN articles a USING (article_id)
WHERE q.speaker <> ''
ORDER BY a.published_at, t.topic, q.quote_id;

CREATE OR REPLACE VIEW topic_daily AS
WITH days AS (
    SELECT day, articles AS all_articles, stories AS all_stories FROM trend_daily WHERE kind = 'all'
), matched AS (
    SELECT key AS topic, day, articles, stories FROM trend_daily WHERE kind = 'topic'
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

CREATE OR REPLACE VIEW topic_share_daily AS
WITH days AS (
    SELECT day, stories AS all_stories FROM trend_daily WHERE kind = 'all'
), matched AS (
    SELECT key AS topic, day, stories FROM trend_daily WHERE kind = 'topic'
), first_days AS (
    SELECT topic, min(day) AS first_day FROM matched GROUP BY topic
)
SELECT f.topic, d.day, coalesce(m.stories, 0) AS stories, d.all_stories,
       coalesce(m.stories, 0) / d.all_stories AS share
FROM first_days f
JOIN days d ON d.day >= f.first_day
LEFT JOIN matched m ON m.topic = f.topic AND m.day = d.day;

CREATE OR REPLACE VIEW feed_share_daily AS
WITH days AS (
    SELECT day, stories AS all_stories FROM trend_daily WHERE kind = 'all'
), per_feed AS (
    SELECT key AS feed_id, day, articles, stories FROM trend_daily WHERE kind = 'feed'
), first_days AS (
    SELECT feed_id, min(day) AS first_day FROM per_feed GROUP BY feed_id
)
SELECT coalesce(fe.name, f.feed_id) AS feed, f.feed_id, d.day,
       coalesce(p.stories, 0) AS stories, d.all_stories,
       coalesce(p.stories, 0) / d.all_stories AS share,
       coalesce(p.articles, 0) AS articles
FROM first_days f
JOIN days d ON d.day >= f.first_day
LEFT JOIN per_feed p ON p.feed_id = f.feed_id AND p.day = d.day
LEFT JOIN feeds fe ON fe.feed_id = f.feed_id;

CREATE OR REPLACE VIEW entity_daily AS
WITH per_day AS (
    SELECT t.entity_id, e.name, e.type, t.day, t.mentions, t.articles, t.stories
    FROM trend_entity_daily t LEFT JOIN entities e ON e.entity_id = t.entity_id
), days AS (
    SELECT day, articles AS all_articles, stories AS all_stories FROM trend_daily WHERE kind = 'all'
)
SELECT p.day, p.entity_id, p.name, p.type, p.mentions, p.articles, p.stories,
       d.all_articles, p.articles / d.all_articles AS share,
       d.all_stories, p.stories / d.all_stories AS story_share
FROM per_day p
JOIN days d USING (day);

CREATE OR REPLACE VIEW cooccurrence AS
SELECT p.day, p.entity_a, ea.name AS name_a, ea.type AS type_a,
       p.entity_b, eb.name AS name_b, eb.type AS type_b,
       p.articles, p.stories
FROM trend_pairs p
LEFT JOIN entities ea ON ea.entity_id = p.entity_a
LEFT JOIN entities eb ON eb.entity_id = p.entity_b;

CREATE OR REPLACE MACRO spike_scores_at(as_of) AS TABLE
WITH per_story AS (
    -- trend_hits has one row per (kind, key, article): articles are rows, stories the distinct story_ids
    SELECT kind, key, (epoch_us(CAST(as_of AS TIMESTAMPTZ)) - epoch_us(published_at)) // 86400000000 AS bucket,
           story_id, count(*) AS articles
    FROM trend_hits
    WHERE kind IN ('topic', 'entity')
      AND published_at <= CAST(as_of AS TIMESTAMPTZ)
      AND published_at > CAST(as_of AS TIMESTAMPTZ) - INTERVAL 15 DAY
    GROUP BY ALL
), per_bucket AS (
    SELECT kind, key, bucket, sum(articles) AS articles, count(*) AS stories
    FROM per_story GROUP BY ALL
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

CREATE OR REPLACE MACRO top_speakers_between(since, until) AS TABLE
WITH q AS (
    SELECT topic, coalesce(speaker_entity_id, 'name:' || lower(speaker)) AS speaker_key,
           speaker, speaker_entity_id, text, start_char, article_id, story_id, published_at
    FROM trend_topic_quotes
    WHERE published_at >= CAST(since AS TIMESTAMPTZ) AND published_at < CAST(until AS TIMESTAMPTZ)
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
"""
