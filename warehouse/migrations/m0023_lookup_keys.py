"""Numeric lookup keys with ART indexes: ``articles`` by article and by story, ``feed_items`` by item and by
article, ``topic_matches`` and ``quotes`` by article.

Why: a cycle asks a few dozen questions of the kind "is this article/item already there?" and "which articles
belong to these stories?". Without an index each one scans the whole column (a 16-character text per row),
so a cycle of 50 new articles cost more the larger the archive: at 1M articles the load's lookups, the lake's
month lookup of the new child rows and the outbox's story copies each scanned ``articles`` or ``feed_items``.
An ART index on the text ids would make them point lookups but grows the file about five times; an index on a
64-bit number costs about 40 bytes a row. The key is the low 64 bits of the MD5 of the id
(``md5_number_lower``, a fixed function, so a key stored today matches one computed by any later version);
lookups compare the text id as well, so a collision costs a second candidate, never a wrong answer.
``feed_items`` is keyed by ``item_key`` alone (not the feed), so re-keying a feed (``sync_feeds``) leaves its
keys valid. The columns are NOT NULL (except ``feed_items.article_key``: a quarantined item has no article),
so a writer that forgets them fails instead of hiding rows from lookups.
Rows present now get their keys here, through ``SET DATA TYPE ... USING`` on a placeholder column rather than
an ``UPDATE``: DuckDB refuses to build an index in a transaction with outstanding updates to its table (and
to alter a table that has an index, so the indexes come last).

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
ALTER TABLE articles ADD COLUMN article_key BOOLEAN;
ALTER TABLE articles ALTER COLUMN article_key SET DATA TYPE UBIGINT USING md5_number_lower(article_id);
ALTER TABLE articles ALTER COLUMN article_key SET NOT NULL;
ALTER TABLE articles ADD COLUMN story_key BOOLEAN;
ALTER TABLE articles ALTER COLUMN story_key SET DATA TYPE UBIGINT USING md5_number_lower(story_id);
ALTER TABLE articles ALTER COLUMN story_key SET NOT NULL;
ALTER TABLE feed_items ADD COLUMN item_hash BOOLEAN;
ALTER TABLE feed_items ALTER COLUMN item_hash SET DATA TYPE UBIGINT USING md5_number_lower(item_key);
ALTER TABLE feed_items ALTER COLUMN item_hash SET NOT NULL;
ALTER TABLE feed_items ADD COLUMN article_key BOOLEAN;
ALTER TABLE feed_items ALTER COLUMN article_key SET DATA TYPE UBIGINT USING md5_number_lower(article_id);
ALTER TABLE topic_matches ADD COLUMN article_key BOOLEAN;
ALTER TABLE topic_matches ALTER COLUMN article_key SET DATA TYPE UBIGINT USING md5_number_lower(article_id);
ALTER TABLE topic_matches ALTER COLUMN article_key SET NOT NULL;
ALTER TABLE quotes ADD COLUMN article_key BOOLEAN;
ALTER TABLE quotes ALTER COLUMN article_key SET DATA TYPE UBIGINT USING md5_number_lower(article_id);
ALTER TABLE quotes ALTER COLUMN article_key SET NOT NULL;
CREATE INDEX articles_by_article_key ON articles (article_key);
CREATE INDEX articles_by_story_key ON articles (story_key);
CREATE INDEX feed_items_by_item_hash ON feed_items (item_hash);
CREATE INDEX feed_items_by_article_key ON feed_items (article_key);
CREATE INDEX topic_matches_by_article_key ON topic_matches (article_key);
CREATE INDEX quotes_by_article_key ON quotes (article_key);
"""
