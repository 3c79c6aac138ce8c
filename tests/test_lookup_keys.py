"""The numeric lookup keys (migration 0023): computed alike in Python and in SQL, filled by every insert,
and never trusted alone (a lookup compares the text ids too, so a key collision cannot hide or invent a row)."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from tests.warehouse_rows import add_article
from warehouse.frames import insert_rows
from warehouse.keys import IDENTITY_KEY, KEY_COLUMNS, lookup_key
from warehouse.migrations import migrate
from warehouse.state import existing_articles, known_items

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def con():
    c = duckdb.connect(":memory:")
    migrate(c)
    yield c
    c.close()


def test_the_python_key_is_duckdbs_md5_number_lower(con):
    for text in ["0123456789abcdef", "a1", "", "Zürich – 東京", "item:feed/42?x=1"]:
        assert lookup_key(text) == con.execute("SELECT md5_number_lower(?)", [text]).fetchone()[0], text


def test_every_key_column_exists_and_the_identity_keys_of_articles_and_items_are_indexed(con):
    indexed = {(t, sql.split("(")[-1].rstrip(");")) for t, sql in con.execute("SELECT table_name, sql FROM duckdb_indexes()").fetchall()}
    for table, keys in KEY_COLUMNS.items():
        columns = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [table]).fetchall()}
        for key, source in keys.items():
            assert {key, source} <= columns, (table, key)
    assert {("articles", IDENTITY_KEY["articles"]), ("feed_items", IDENTITY_KEY["feed_items"])} <= indexed


def test_insert_rows_fills_the_keys_and_an_insert_without_them_fails(con):
    insert_rows(con, "feed_items", ["feed_id", "item_key", "canonical_url", "article_id", "status", "first_seen_at"],
                [("f1", "k1", None, "a1", "loaded", NOW), ("f1", "k2", None, None, "quarantined", NOW)],
                anti_join_on=["feed_id", "item_key"])
    rows = con.execute("SELECT item_key, item_hash, article_key FROM feed_items ORDER BY 1").fetchall()
    assert rows == [("k1", lookup_key("k1"), lookup_key("a1")), ("k2", lookup_key("k2"), None)]
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO topic_matches (article_id, topic, matched_terms, matched_at) VALUES ('a1', 't', [], now())")


def test_a_key_shared_by_two_ids_neither_hides_nor_invents_a_row(con):
    add_article(con, "a1", NOW)
    # Another id stored under a1's key (a collision, forced): lookups must compare the text ids.
    con.execute("UPDATE articles SET article_key = md5_number_lower('b2') WHERE article_id = 'a1'")
    assert existing_articles(con, ["b2"]) == set()
    con.execute("UPDATE articles SET article_key = md5_number_lower('a1')")
    add_article(con, "c3", NOW)
    con.execute("UPDATE articles SET article_key = md5_number_lower('a1') WHERE article_id = 'c3'")
    assert existing_articles(con, ["a1", "zz"]) == {"a1"}  # c3's row, under a1's key too, is not a1

    insert_rows(con, "feed_items", ["feed_id", "item_key", "canonical_url", "article_id", "status", "first_seen_at"],
                [("f1", "k1", None, "a1", "loaded", NOW)], anti_join_on=["feed_id", "item_key"])
    con.execute("UPDATE feed_items SET item_hash = md5_number_lower('k2')")  # k1's row under k2's key
    assert known_items(con, [("f1", "k2"), ("f2", "k1")]) == set()
    inserted = insert_rows(con, "feed_items", ["feed_id", "item_key", "canonical_url", "article_id", "status", "first_seen_at"],
                           [("f1", "k2", None, "a1", "duplicate", NOW)], anti_join_on=["feed_id", "item_key"])
    assert inserted == 1  # same key as the stored row, different item: inserted
    again = insert_rows(con, "feed_items", ["feed_id", "item_key", "canonical_url", "article_id", "status", "first_seen_at"],
                        [("f1", "k2", None, "a1", "duplicate", NOW)], anti_join_on=["feed_id", "item_key"])
    assert again == 0 and known_items(con, [("f1", "k2")]) == {("f1", "k2")}


def test_a_quote_already_stored_is_not_inserted_again_and_a_new_one_of_the_same_article_is(con):
    """Quotes anti-join through their article's key (a quote id is derived from its article's id)."""
    add_article(con, "a1", NOW)
    cols = ["quote_id", "article_id", "text", "speaker", "speaker_entity_id", "cue", "start_char", "end_char",
            "speaker_confidence"]
    row = ("q1", "a1", "We will win", "Ann Lee", None, "said", 0, 11, "subject")
    assert insert_rows(con, "quotes", cols, [row], anti_join_on=["article_id", "quote_id"]) == 1
    assert insert_rows(con, "quotes", cols, [row, ("q2", *row[1:])], anti_join_on=["article_id", "quote_id"]) == 1
    assert con.execute("SELECT quote_id, article_key FROM quotes ORDER BY 1").fetchall() == [
        ("q1", lookup_key("a1")), ("q2", lookup_key("a1"))]
