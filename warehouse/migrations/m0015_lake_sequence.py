"""``lake_seq`` on the append-only tables: a load order the lake publisher exports from.

Why: the analysts' lake (``warehouse/lake.py``) publishes after each cycle only the rows added since the
previous publication. A column filled from one sequence at insert says which rows those are without any
scan of the archive (DuckDB skips row groups by their min/max), whatever the clock said when they were
loaded. Rows already present get numbers now, so the first publication exports them all.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
CREATE SEQUENCE lake_seq;
ALTER TABLE articles ADD COLUMN lake_seq BIGINT DEFAULT nextval('lake_seq');
ALTER TABLE mentions ADD COLUMN lake_seq BIGINT DEFAULT nextval('lake_seq');
ALTER TABLE quotes ADD COLUMN lake_seq BIGINT DEFAULT nextval('lake_seq');
ALTER TABLE topic_matches ADD COLUMN lake_seq BIGINT DEFAULT nextval('lake_seq');
ALTER TABLE story_links ADD COLUMN lake_seq BIGINT DEFAULT nextval('lake_seq');
ALTER TABLE feed_items ADD COLUMN lake_seq BIGINT DEFAULT nextval('lake_seq');
"""
