"""Retention: blank the text of old articles, and compact a warehouse file that has free space.

Why: article bodies are most of the warehouse (a cleaned article is ~3-5 KB of text; its metadata,
entities and quotes a few hundred bytes). ``warehouse.retention_text_days`` lets an operator keep the
body only as long as it is useful and keep everything else forever: an article older than N days (by
``published_at``) keeps its row, title, URL, dates, ``word_count``, ``content_hash``, story, topic
matches, entities, mentions and quotes (each quote keeps its own text); only ``articles.text`` becomes
``''``. ``mentions.start_char/end_char`` then point into an empty text: the ``surface`` column still
says what was mentioned. newswatch never stores raw HTML, so there is nothing else to prune; story
fingerprints are already pruned to the stories window by ``warehouse/stories.py``.

Disk: DuckDB never gives space back to the file system. Blanked text and deleted rows become free
blocks that later writes reuse, so with retention the file stops growing once old bodies are blanked as
fast as new ones arrive (measured: ``bench/memory.py --disk``); it does not shrink. ``compacted_copy`` writes a
copy without the free blocks; ``compact_in_place`` swaps it in while holding the file's lock, and
``serve`` does that at start-up when at least ``COMPACT_WHEN_FREE_SHARE`` of the file is free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from warehouse.lake import LakePaths, read_manifest

# Compact at serve start-up only when at least half the file is free blocks. Below that the copy buys
# little, since DuckDB reuses free blocks for new data; measured here: compacting a 80 MB file with 53%
# free blocks took 1.8 s and gave a 38 MB file (a plain copy of the same file: 0.05 s).
COMPACT_WHEN_FREE_SHARE = 0.5
# ...and only files above this size: for small files the saving is not worth a line in the log.
COMPACT_MIN_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileSpace:
    """What ``PRAGMA database_size`` says about a database file."""

    bytes: int
    used_blocks: int
    free_blocks: int

    @property
    def free_share(self) -> float:
        total = self.used_blocks + self.free_blocks
        return self.free_blocks / total if total else 0.0

    @property
    def worth_compacting(self) -> bool:
        """Whether ``compact_in_place`` would give back enough to be worth a copy of the file."""
        return self.bytes >= COMPACT_MIN_BYTES and self.free_share >= COMPACT_WHEN_FREE_SHARE


def prune_texts(con: duckdb.DuckDBPyConnection, *, keep_days: int | None, now: datetime) -> int:
    """Blank ``articles.text`` of articles published more than ``keep_days`` days before ``now``.

    Runs inside the caller's transaction (the cycle's load transaction), so the batch and its pruning
    commit together. Idempotent: already blanked rows are not touched again.

    Args:
        con: a read-write warehouse connection.
        keep_days: ``warehouse.retention_text_days``; ``None`` keeps every text forever.
        now: the cycle's clock.
    Returns:
        How many article texts were blanked now.
    """
    if keep_days is None:
        return 0
    cutoff = now - timedelta(days=keep_days)
    rows = con.execute("UPDATE articles SET text = '' WHERE published_at < ? AND text <> ''", [cutoff]).fetchall()
    return int(rows[0][0]) if rows else 0  # an UPDATE returns one row: the count


# The tables whose rows of old articles leave the live file for the lake's cold months. ``articles`` keeps
# its rows there (the canonical URLs dedupe new entries, the story ids feed the story window), only the
# body goes; ``feed_items`` stays whole, since it is what tells a feed's old entries from new ones.
COLD_TABLES = ("mentions", "quotes", "topic_matches", "story_links")


def moved_to_cold(con: duckdb.DuckDBPyConnection, version: int, paths: LakePaths, *, hot_days: int, now: datetime) -> int:
    """Remove from the live file what the lake already holds of articles older than ``hot_days``.

    The lake publication ``version`` must be the one just written from this same connection: only rows
    at or below its high-water marks are removed, so nothing leaves the live file before a published
    manifest names a file holding it. Analysts read every row from the lake either way (hot and cold
    months are one layout), so their tables and views do not change; the live file stops growing with
    the analysis rows of the archive.

    Returns:
        How many rows were deleted or blanked.
    """
    manifest = read_manifest(paths)
    if manifest is None or manifest["version"] != version:
        return 0
    tables = manifest["tables"]
    cutoff = now - timedelta(days=hot_days)
    old = "SELECT article_id FROM articles WHERE published_at < ?"
    moved = 0
    con.execute("BEGIN TRANSACTION")
    try:
        for table in COLD_TABLES:
            mark = int(tables.get(table, {}).get("high_water", 0))
            row = con.execute(f"DELETE FROM {table} WHERE lake_seq <= ? AND article_id IN ({old})", [mark, cutoff]).fetchone()
            moved += int(row[0]) if row else 0
        mark = int(tables.get("articles", {}).get("high_water", 0))
        row = con.execute("UPDATE articles SET text = '' WHERE lake_seq <= ? AND published_at < ? AND text <> ''",
                          [mark, cutoff]).fetchone()
        moved += int(row[0]) if row else 0
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return moved


def file_space(con: duckdb.DuckDBPyConnection) -> FileSpace:
    """Size and used/free blocks of the connection's database file (after its last checkpoint)."""
    row = con.execute("SELECT block_size, used_blocks, free_blocks FROM pragma_database_size()").fetchone()
    assert row is not None
    block_size, used, free = (int(v) for v in row)
    return FileSpace(bytes=block_size * (used + free), used_blocks=used, free_blocks=free)


def compacted_copy(src: str | Path, dst: str | Path) -> Path:
    """Write a copy of the closed database ``src`` to ``dst`` without its free blocks.

    ``COPY FROM DATABASE`` rewrites every table, view and sequence into a fresh file, so space freed by
    retention (or by any delete) is not carried over.

    Returns:
        ``dst``.
    """
    dst = Path(dst)
    dst.unlink(missing_ok=True)
    con = duckdb.connect(":memory:")
    try:
        con.execute("ATTACH ? AS src (READ_ONLY)", [str(src)])
        con.execute("ATTACH ? AS dst", [str(dst)])
        con.execute("COPY FROM DATABASE src TO dst")
        con.execute("DETACH dst")
        con.execute("DETACH src")
    finally:
        con.close()
    return dst


def compact_in_place(path: str | Path) -> tuple[int, int]:
    """Replace the warehouse file at ``path`` by a compacted copy. Call it holding the cycle lock.

    The copy is made through a read-write connection to the live file, which holds DuckDB's lock on it
    until the new file has been renamed into place: a process that tries to open the warehouse
    meanwhile fails to lock the old file and, retrying by path (``warehouse.db.open_connection``),
    opens the new one. Nothing can be written to the old file after it was copied.

    Returns:
        The file size in bytes before and after.
    """
    from warehouse.db import open_connection

    p = Path(path)
    tmp = p.with_name(f".{p.name}.compact")
    tmp.unlink(missing_ok=True)
    con = open_connection(p)
    try:
        con.execute("CHECKPOINT")  # the WAL (if any) into the file, so the copy and the file agree
        before = p.stat().st_size
        name = con.execute("SELECT current_database()").fetchall()[0][0]  # a FROM-less SELECT has exactly one row
        con.execute("ATTACH ? AS compact_target", [str(tmp)])
        con.execute(f'COPY FROM DATABASE "{name}" TO compact_target')
        con.execute("DETACH compact_target")
        os.replace(tmp, p)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
    return before, p.stat().st_size
