"""Row builders for hand-made warehouses in tests: only the columns a test cares about, the rest filled in."""

from __future__ import annotations

from datetime import UTC, datetime


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def add_article(con, aid: str, published_at: datetime, story: str | None = None) -> None:
    con.execute(
        "INSERT INTO articles (article_id, url, canonical_url, feed_id, title, published_at, published_at_source, "
        "fetched_at, text, word_count, content_hash, story_id, article_key, story_key) "
        "VALUES (?, ?, ?, 'f1', ?, ?, 'feed', ?, 'text', 1, ?, ?, md5_number_lower(?), md5_number_lower(?))",
        [aid, f"https://example.org/{aid}", f"https://example.org/{aid}", f"title {aid}", published_at, published_at,
         f"hash-{aid}", story or aid, aid, story or aid],
    )


def add_match(con, aid: str, topic: str) -> None:
    con.execute("INSERT INTO topic_matches (article_id, topic, matched_terms, matched_at, article_key) "
                "VALUES (?, ?, ['term'], now(), md5_number_lower(?))", [aid, topic, aid])


def add_entity(con, eid: str, name: str, etype: str, aliases: list[str] | None = None) -> None:
    con.execute("INSERT INTO entities VALUES (?, ?, ?, ?, now())", [eid, name, etype, aliases or [name]])


def add_mentions(con, aid: str, eid: str, n: int = 1) -> None:
    for i in range(n):
        con.execute("INSERT INTO mentions (article_id, entity_id, surface, start_char, end_char) VALUES (?, ?, 'surface', ?, ?)", [aid, eid, i * 10, i * 10 + 5])


def add_quote(con, aid: str, speaker: str, entity_id: str | None = None, text: str = "words", start: int = 0) -> None:
    con.execute("INSERT INTO quotes (quote_id, article_id, text, speaker, speaker_entity_id, cue, start_char, end_char, article_key) "
                "VALUES (?, ?, ?, ?, ?, 'said', ?, ?, md5_number_lower(?))",
                [f"q-{aid}-{start}", aid, text, speaker, entity_id, start, start + len(text), aid])
