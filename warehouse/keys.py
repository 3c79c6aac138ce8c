"""The numeric lookup keys of ``articles`` and ``feed_items`` (migration 0023), computed on the Python side.

Why: a lookup prunes by an ART index only when the key values are known before the join (DuckDB pushes a
join's build-side keys into the index scan as a filter, but not keys computed inside the join condition),
so the batch side carries its keys ready-made. The function is the one the migration backfilled with,
``md5_number_lower`` (the low 64 bits of the MD5, little-endian): stable across DuckDB versions and Python
runs, unlike ``hash()``. Keys can collide; every lookup compares the text id too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

# table -> {key column: the text column it is computed from}; every writer of these tables fills them.
KEY_COLUMNS: Mapping[str, Mapping[str, str]] = {
    "articles": {"article_key": "article_id", "story_key": "story_id"},
    "feed_items": {"item_hash": "item_key", "article_key": "article_id"},
    "topic_matches": {"article_key": "article_id"},
    "quotes": {"article_key": "article_id"},
}
# table -> the key an anti-join on the table's identity uses (its text column is compared too); the ones of
# ``articles`` and ``feed_items`` are indexed (migration 0023), the others are scanned (8 bytes a row, not 16).
# ``quotes``: a quote's id is derived from its article's, so rows with one ``quote_id`` share the article key
# (its writer anti-joins on both).
IDENTITY_KEY: Mapping[str, str] = {"articles": "article_key", "feed_items": "item_hash", "topic_matches": "article_key",
                                   "quotes": "article_key"}


def lookup_key(text: str) -> int:
    """The 64-bit key of an id, equal to DuckDB's ``md5_number_lower(text)``."""
    return int.from_bytes(hashlib.md5(text.encode("utf-8")).digest()[8:], "little")


def optional_key(text: object) -> int | None:
    """``lookup_key``, or None for a missing id (a feed item without an article: None, or NaN in a frame)."""
    return lookup_key(text) if isinstance(text, str) else None


def lookup_keys(texts: Iterable[str]) -> list[int]:
    """The keys of ``texts``, de-duplicated and sorted (a parameter list for ``IN (SELECT unnest(?))``)."""
    return sorted({lookup_key(t) for t in texts})
