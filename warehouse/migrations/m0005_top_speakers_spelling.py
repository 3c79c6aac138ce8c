"""``top_speakers_between`` names an unlinked speaker deterministically.

0003 named an unlinked speaker by ``mode(q.speaker)``, and ``mode`` breaks ties arbitrarily, so "Jane Roe" once
and "jane roe" once gave either spelling from one run to the next. Now: the most frequent spelling; on a tie
the one with capitals, then the most recently published, then the alphabetically first. ``latest_quote`` had
the same flaw: it is now the last quote of the latest article.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
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
