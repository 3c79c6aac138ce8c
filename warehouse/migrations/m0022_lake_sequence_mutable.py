"""``lake_seq`` on the small tables whose rows change in place (runs, alerts, the operator's alerts, quarantine).

Why: the lake republished each of these whole whenever any row changed, and ``runs`` changes every cycle: at 1M
articles (720k runs, 120k alerts) that rewrite cost about a second per cycle, growing with the archive. With a
number taken at insert (the default) and again at every update (the code that updates them sets
``lake_seq = nextval('lake_seq')``), a publication finds the rows changed since the last one without a scan and
writes them as a delta, like ``stories``. Rows present now get numbers, so the first publication after this
migration writes them all once.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
ALTER TABLE runs ADD COLUMN lake_seq BIGINT DEFAULT nextval('lake_seq');
ALTER TABLE alerts ADD COLUMN lake_seq BIGINT DEFAULT nextval('lake_seq');
ALTER TABLE operator_alerts ADD COLUMN lake_seq BIGINT DEFAULT nextval('lake_seq');
ALTER TABLE quarantine ADD COLUMN lake_seq BIGINT DEFAULT nextval('lake_seq');
"""
