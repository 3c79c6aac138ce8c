"""Numeric lookup keys of the ids of ``articles``, ``feed_items``, ``topic_matches`` and ``quotes``, with ART
indexes on the two a cycle looks up by identity (``articles.article_key``, ``feed_items.item_hash``).

Why: a cycle asks a few dozen questions of the kind "is this article/item already there?", "when was the
article of this new row published?" and "which articles, feed items, topic matches and quotes belong to these
stories?". Each one scanned a whole 16-character text column, so a cycle of 50 new articles cost more the
larger the archive. An index turns the identity lookups (tens of keys) into point lookups. The key is the low
64 bits of the MD5 of the id (``md5_number_lower``, a fixed function, so a key stored today matches one computed
by any later version); lookups compare the text id as well, so a collision costs a second candidate, never a
wrong answer. ``feed_items`` is keyed by ``item_key`` alone (not the feed), so re-keying a feed
(``sync_feeds``) leaves its keys valid.

The other keys (``story_key``, the ``article_key`` of feed items, topic matches and quotes) serve alert
queueing, which reads the copies of every story active in the last day: thousands of rows, above DuckDB's
index-scan threshold (2,048 rows), so it scans a key column either way, and an 8-byte key scans several times
faster than the text. They have no index: every index costs the load's commit a lookup of its own (the
blocks of the tree it touches), which at 1M rows is about what a scan of such a column costs.

The columns are NOT NULL (except ``feed_items.article_key``: a quarantined item has no article), so a writer
that forgets them fails instead of hiding rows from lookups. Rows present now get their keys here, through
``SET DATA TYPE ... USING`` on a placeholder column rather than an ``UPDATE``: DuckDB refuses to build an index
in a transaction with outstanding updates to its table (and to alter a table that has an index, so the indexes
come last).

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
CREATE INDEX feed_items_by_item_hash ON feed_items (item_hash);
"""
