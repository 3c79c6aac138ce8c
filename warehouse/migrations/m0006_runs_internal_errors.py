"""``runs.internal_errors``: items a bug (not the input's own fault) turned into quarantine rows.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
ALTER TABLE runs ADD COLUMN internal_errors INTEGER NOT NULL DEFAULT 0;
"""
