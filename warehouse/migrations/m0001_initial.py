"""The initial schema: feeds and their poll state, runs, articles, stories, topic matches, entities,
mentions, quotes, alerts and quarantine.

Why no PRIMARY KEY on the big tables: an ART index on text ids grows the file about five times and slows
loads; loads are idempotent by anti-join on deterministic keys instead. Small tables updated in place
(feeds, runs) keep their keys.

Shipped: never edit this file; change the schema with a new migration.
"""

SQL = """
CREATE TABLE feeds (
    feed_id              VARCHAR PRIMARY KEY,   -- sha1 of the feed URL, 16 hex
    name                 VARCHAR NOT NULL,
    url                  VARCHAR NOT NULL,
    etag                 VARCHAR,
    last_modified        VARCHAR,
    last_content_hash    VARCHAR,
    last_polled_at       TIMESTAMPTZ,
    last_success_at      TIMESTAMPTZ,
    last_new_item_at     TIMESTAMPTZ,
    last_status          VARCHAR,               -- ok | not_modified | unchanged | error reason
    last_error           VARCHAR,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since        TIMESTAMPTZ,
    next_poll_at         TIMESTAMPTZ,
    poll_interval_seconds DOUBLE,
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    disabled_reason      VARCHAR
);

CREATE TABLE runs (
    run_id        VARCHAR PRIMARY KEY,
    started_at    TIMESTAMPTZ NOT NULL,
    finished_at   TIMESTAMPTZ,
    status        VARCHAR NOT NULL,             -- running | completed | failed
    feeds_polled  INTEGER NOT NULL DEFAULT 0,
    feeds_failed  INTEGER NOT NULL DEFAULT 0,
    entries_seen  INTEGER NOT NULL DEFAULT 0,
    articles_new  INTEGER NOT NULL DEFAULT 0,
    duplicates    INTEGER NOT NULL DEFAULT 0,
    failures      INTEGER NOT NULL DEFAULT 0,
    message       VARCHAR
);

-- Every item each feed has carried: the per-feed "seen" cursor, and how many outlets carry a story.
CREATE TABLE feed_items (
    feed_id       VARCHAR NOT NULL,
    item_key      VARCHAR NOT NULL,             -- sha1 of guid or link
    canonical_url VARCHAR,
    article_id    VARCHAR,                      -- NULL while quarantined
    status        VARCHAR NOT NULL,             -- loaded | duplicate | quarantined
    first_seen_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE articles (
    article_id          VARCHAR NOT NULL,       -- sha1(canonical_url), 16 hex
    url                 VARCHAR NOT NULL,
    canonical_url       VARCHAR NOT NULL,
    feed_id             VARCHAR NOT NULL,
    title               VARCHAR,
    author              VARCHAR,
    published_at        TIMESTAMPTZ NOT NULL,
    published_at_source VARCHAR NOT NULL,       -- feed | page_metadata | url | fetched
    fetched_at          TIMESTAMPTZ NOT NULL,
    language            VARCHAR,
    text                VARCHAR NOT NULL,
    word_count          INTEGER NOT NULL,
    content_hash        VARCHAR NOT NULL,
    story_id            VARCHAR NOT NULL,
    run_id              VARCHAR
);

CREATE TABLE stories (
    story_id      VARCHAR PRIMARY KEY,           -- the article_id of the story's earliest article
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    title         VARCHAR,
    article_count INTEGER NOT NULL
);

-- Why each article joined its story: method exact | near | url_update | first, with the similarity.
CREATE TABLE story_links (
    article_id         VARCHAR NOT NULL,
    story_id           VARCHAR NOT NULL,
    matched_article_id VARCHAR,
    method             VARCHAR NOT NULL,
    similarity         DOUBLE,
    linked_at          TIMESTAMPTZ NOT NULL
);

CREATE TABLE topic_matches (
    article_id    VARCHAR NOT NULL,
    topic         VARCHAR NOT NULL,
    matched_terms VARCHAR[] NOT NULL,
    matched_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE entities (
    entity_id     VARCHAR PRIMARY KEY,          -- normalised key, e.g. "person:kim jong un"
    name          VARCHAR NOT NULL,
    type          VARCHAR NOT NULL,
    aliases       VARCHAR[] NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE mentions (
    article_id VARCHAR NOT NULL,
    entity_id  VARCHAR NOT NULL,
    surface    VARCHAR NOT NULL,
    start_char INTEGER NOT NULL,
    end_char   INTEGER NOT NULL
);

CREATE TABLE quotes (
    quote_id          VARCHAR NOT NULL,         -- sha1(article_id, start_char), 16 hex
    article_id        VARCHAR NOT NULL,
    text              VARCHAR NOT NULL,
    speaker           VARCHAR NOT NULL,         -- resolved name, '' when unattributed
    speaker_entity_id VARCHAR,
    cue               VARCHAR,
    start_char        INTEGER NOT NULL,
    end_char          INTEGER NOT NULL
);

-- The alert outbox: written in the load transaction, sent after commit.
CREATE TABLE alerts (
    alert_id        VARCHAR PRIMARY KEY,        -- sha1(rule, story_id, channel), 16 hex
    rule            VARCHAR NOT NULL,
    topic           VARCHAR NOT NULL,
    story_id        VARCHAR NOT NULL,
    article_id      VARCHAR NOT NULL,
    channel         VARCHAR NOT NULL,           -- the channel URL with secrets masked
    channel_index   INTEGER NOT NULL,
    status          VARCHAR NOT NULL,           -- pending | sending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL,
    next_attempt_at TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    error           VARCHAR
);

CREATE TABLE quarantine (
    stage         VARCHAR NOT NULL,             -- feed | fetch | extract | nlp | load | alert
    item_key      VARCHAR NOT NULL,
    run_id        VARCHAR,
    url           VARCHAR,
    feed_id       VARCHAR,
    reason        VARCHAR NOT NULL,
    message       VARCHAR,
    attempts      INTEGER NOT NULL DEFAULT 1,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stage, item_key)
);
"""
