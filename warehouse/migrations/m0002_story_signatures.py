"""Stored story fingerprints (the story index is rebuilt from them at start) and the ``story_copies`` view.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
CREATE TABLE story_signatures (
    article_id        VARCHAR PRIMARY KEY,
    story_id          VARCHAR NOT NULL,
    article_time      TIMESTAMPTZ NOT NULL,   -- least(published_at, fetched_at): the window's clock
    content_hash      VARCHAR NOT NULL,
    word_count        INTEGER NOT NULL,
    url_keys          VARCHAR[] NOT NULL,     -- URL identities without update markers
    headline_key      VARCHAR,                -- host|headline without update markers
    shingles          UINTEGER[] NOT NULL,    -- sorted word 5-shingle hashes (exact verification)
    minhash           UINTEGER[],             -- NUM_PERM values; NULL when too short to near-match
    signature_version INTEGER NOT NULL
);

-- The copies of every story, with why each joined (method, similarity, the copy it matched).
CREATE VIEW story_copies AS
SELECT l.story_id, s.title AS story_title, l.article_id, a.title, a.url, a.feed_id, a.published_at,
       l.method, l.similarity, l.matched_article_id, l.linked_at
FROM story_links l
JOIN stories s USING (story_id)
LEFT JOIN articles a USING (article_id);
"""
