"""``story_signatures.fetched_at``: when each signature was fetched, so that a back catalogue's rows outlive their
dates (rows are pruned once both their article time and their fetch time are older than the story window).

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
ALTER TABLE story_signatures ADD COLUMN fetched_at TIMESTAMPTZ;
UPDATE story_signatures SET fetched_at = article_time;
"""
