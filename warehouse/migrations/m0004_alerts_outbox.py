"""The alert outbox's message payload, per-channel subscriptions, the operator outbox and ``alert_outbox``.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
ALTER TABLE alerts ADD COLUMN payload VARCHAR;   -- the StoryAlert as JSON (transform/alerts.py)

-- When each (rule, channel) was first configured: older stories never alert it.
CREATE TABLE alert_channels (
    rule    VARCHAR NOT NULL,                   -- an alert rule's name, or '@operator'
    channel VARCHAR NOT NULL,                   -- masked channel URL (no secrets)
    since   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (rule, channel)
);

-- The operator's outbox (feed health, failed cycles): one row per (incident, channel).
CREATE TABLE operator_alerts (
    alert_id        VARCHAR PRIMARY KEY,        -- sha1(kind, subject, incident, channel), 16 hex
    kind            VARCHAR NOT NULL,           -- feed_failing | feed_disabled | feed_silent | cycle_failed
    subject         VARCHAR NOT NULL,           -- feed_id or run_id
    incident        VARCHAR NOT NULL,           -- what tells this incident from the subject's earlier ones
    channel         VARCHAR NOT NULL,
    channel_index   INTEGER NOT NULL,
    status          VARCHAR NOT NULL,           -- pending | sending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    error           VARCHAR,
    title           VARCHAR NOT NULL,
    body            VARCHAR NOT NULL
);

-- Both outboxes in one list (``newswatch alerts list`` reads it).
CREATE VIEW alert_outbox AS
SELECT 'story' AS kind, alert_id, rule, topic AS subject, story_id, channel, status, attempts, created_at,
       next_attempt_at, sent_at, error, json_extract_string(payload, '$.headline') AS title
FROM alerts
UNION ALL
SELECT kind, alert_id, '@operator' AS rule, subject, NULL AS story_id, channel, status, attempts, created_at,
       next_attempt_at, sent_at, error, title
FROM operator_alerts;
"""
