"""Share of attention: each topic's and feed's daily stories as a share of all stories.

Why shares: raw counts rise and fall with how much the feed list publishes (a feed added, a holiday, an
outage), so Media Cloud and GDELT report attention as a share of everything. The denominator,
``all_stories``, is the number of distinct ``story_id`` among all articles published that UTC day, by
every feed, matching a topic or not; a story whose copies span several days counts on each of those days
(the same convention as ``topic_daily``, see ``warehouse/views.py``). So ``share`` is in [0, 1], and a
feed's shares of one day add up to more than 1 when feeds carry the same stories.

Dense from each topic's (feed's) first day: a day with articles but none of the topic's has share 0; a
day without any article in the warehouse has no row. ``entity_daily`` gains the same two columns
(``all_stories``, ``story_share``) that ``topic_daily`` already has; its other columns are unchanged.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
CREATE OR REPLACE VIEW topic_share_daily AS
WITH days AS (
    SELECT CAST(published_at AT TIME ZONE 'UTC' AS DATE) AS day, count(DISTINCT story_id) AS all_stories
    FROM articles GROUP BY ALL
), matched AS (
    SELECT t.topic, CAST(a.published_at AT TIME ZONE 'UTC' AS DATE) AS day, count(DISTINCT a.story_id) AS stories
    FROM topic_matches t JOIN articles a USING (article_id)
    GROUP BY ALL
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
    SELECT CAST(published_at AT TIME ZONE 'UTC' AS DATE) AS day, count(DISTINCT story_id) AS all_stories
    FROM articles GROUP BY ALL
), per_feed AS (
    SELECT feed_id, CAST(published_at AT TIME ZONE 'UTC' AS DATE) AS day,
           count(*) AS articles, count(DISTINCT story_id) AS stories
    FROM articles GROUP BY ALL
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
WITH days AS (
    SELECT CAST(published_at AT TIME ZONE 'UTC' AS DATE) AS day, count(*) AS all_articles, count(DISTINCT story_id) AS all_stories
    FROM articles GROUP BY ALL
), per_day AS (
    SELECT m.entity_id, CAST(a.published_at AT TIME ZONE 'UTC' AS DATE) AS day,
           count(*) AS mentions, count(DISTINCT m.article_id) AS articles, count(DISTINCT a.story_id) AS stories
    FROM mentions m JOIN articles a USING (article_id)
    GROUP BY ALL
)
SELECT p.day, p.entity_id, e.name, e.type, p.mentions, p.articles, p.stories,
       d.all_articles, p.articles / d.all_articles AS share,
       d.all_stories, p.stories / d.all_stories AS story_share
FROM per_day p
JOIN days d USING (day)
LEFT JOIN entities e USING (entity_id);
"""
