"""The full-text search index beside the warehouse: built, kept up to date and repaired from ``articles``.

Why tantivy: DuckDB's own full-text extension downloads itself at run time (not offline, not pinned),
and ``ILIKE`` scans every text. tantivy is an embedded Lucene-like engine with official Python wheels;
``bench/search.py`` measures it against ``ILIKE`` on the same archive.

Layout: ``<warehouse dir>/<warehouse stem>.search`` is a symbolic link to the current index folder
(``<stem>.search-<version>``). Each cycle's writer adds its new articles to that folder in one tantivy
commit; readers (``newswatch search``) open whatever was last committed and are never blocked. A rebuild
writes a new folder and switches the link atomically, so a reader never sees a half-built index.

Consistency with the warehouse: the index is derived data, never the source of truth. Its folder holds
``position.json``, written only after tantivy's commit: the last run whose articles are all indexed
(run ids start with their start time, so they sort in run order). ``updated_search_index`` indexes everything after that
position, so the per-cycle update costs what the new articles cost, and the same call catches up after
a crash between the warehouse's commit and the index's. Adding an article first deletes any document
with its id, so catching up twice is harmless. Retention blanks the texts published before a cutoff, so
the documents it affects are the index's oldest: each update asks the index for its documents published
up to the latest blanked article and removes those whose text is now blank (a day's worth per cycle,
not the archive). A missing, unreadable or foreign-format index is rebuilt.

Texts are folded (case, accents, apostrophes) with the topic matcher's own folding before indexing, so
the index's tokens are the matcher's words; ``warehouse/search.py`` checks every candidate with the
matcher itself.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import tantivy

from newswatch.errors import FatalError
from transform.topics import folded_text

log = logging.getLogger(__name__)

# Bumped whenever the schema or the folding changes: an index of another format is rebuilt.
INDEX_FORMAT = 2
POSITION_FILE = "position.json"
TOKENIZER = "newswatch"
# Writer memory: tantivy needs at least 15 MB per thread; one thread, because the machine running the
# pipeline also runs the NLP workers. A rebuild flushes a segment each time the heap fills.
WRITER_HEAP_BYTES = 64_000_000
# Rows read from DuckDB per batch while (re)building: bounds memory to a few MB of text.
READ_BATCH = 2_000


@dataclass(frozen=True, slots=True)
class IndexPosition:
    """How far the index has followed the warehouse."""

    last_run_id: str  # every article of this run and earlier runs is indexed ('' = none)


@dataclass(frozen=True, slots=True)
class IndexUpdate:
    """What one update did."""

    added: int
    removed: int
    rebuilt: bool
    seconds: float
    reason: str = ""  # why it was rebuilt


def search_index_path(warehouse_path: str | Path) -> Path:
    """Where the index of ``warehouse_path`` lives (a link to the current index folder)."""
    wp = Path(warehouse_path)
    return wp.with_name(wp.stem + ".search")


def _analyzer() -> tantivy.TextAnalyzer:
    # No stemming, no stop words and no length limit: the matcher has none, and a dropped token would be
    # a match the index cannot find. The text is already folded, lowercase is only a safety net.
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.lowercase()).build()


def query_tokens(text: str) -> list[str]:
    """The index's tokens for ``text`` (already folded): what a phrase of the query must find in order."""
    return [str(t) for t in _analyzer().analyze(text)]


def index_schema() -> tantivy.Schema:
    """The index's fields: ids and filters as raw terms, title and folded text with positions."""
    b = tantivy.SchemaBuilder()
    b.add_text_field("article_id", stored=True, tokenizer_name="raw")
    b.add_text_field("story_id", stored=True, tokenizer_name="raw")
    b.add_text_field("feed_id", stored=False, tokenizer_name="raw")
    b.add_text_field("language", stored=False, tokenizer_name="raw")
    b.add_date_field("published_at", stored=True, indexed=True, fast=True)
    # The article's DuckDB rowid when indexed: fetching a candidate's text by rowid reads one row, by
    # article_id it scans the id column (measured 9 ms vs 110 ms for 80 candidates at 100k articles).
    # A rowid can change (a compacted copy), so a reader checks the article_id it gets back.
    b.add_unsigned_field("row", stored=True)
    b.add_text_field("title", stored=False, tokenizer_name=TOKENIZER, index_option="position")
    b.add_text_field("body", stored=False, tokenizer_name=TOKENIZER, index_option="position")
    return b.build()


def _opened(folder: Path) -> tantivy.Index:
    index = tantivy.Index(index_schema(), path=str(folder), reuse=True)
    index.register_tokenizer(TOKENIZER, _analyzer())
    return index


def read_position(folder: Path) -> IndexPosition | None:
    """The recorded position of the index in ``folder``, or None when it is missing or of another format."""
    try:
        data = json.loads((folder / POSITION_FILE).read_text(encoding="utf-8"))
        if data.get("format") != INDEX_FORMAT:
            return None
        return IndexPosition(str(data["last_run_id"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_position(folder: Path, pos: IndexPosition) -> None:
    tmp = folder / (POSITION_FILE + ".tmp")
    data = {"format": INDEX_FORMAT, "last_run_id": pos.last_run_id}
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, folder / POSITION_FILE)


def opened_index(warehouse_path: str | Path) -> tuple[tantivy.Index, IndexPosition]:
    """The current index for reading, and its position.

    Raises:
        FatalError: there is no usable index yet.
    """
    link = search_index_path(warehouse_path)
    pos = read_position(link)
    if not link.exists() or pos is None:
        raise FatalError("no_search_index", f"no search index at {link} yet (hint: `newswatch search --rebuild`, "
                                            "or the next `newswatch run` builds it)")
    try:
        return _opened(link), pos
    except (OSError, ValueError) as e:
        raise FatalError("search_index_unreadable", f"the search index at {link} cannot be read ({e}); "
                                                   "hint: `newswatch search --rebuild`") from e


def _document(row: tuple[Any, ...]) -> tantivy.Document:
    article_id, story_id, feed_id, language, published_at, title, text, rowid = row
    doc = tantivy.Document()
    doc.add_unsigned("row", int(rowid))
    doc.add_text("article_id", article_id)
    doc.add_text("story_id", story_id)
    doc.add_text("feed_id", feed_id)
    doc.add_text("language", (language or "").lower())
    doc.add_date("published_at", published_at)
    doc.add_text("title", folded_text(title or ""))
    doc.add_text("body", folded_text(text))
    return doc


_ROW_SQL = ("SELECT article_id, story_id, feed_id, language, published_at, title, text, rowid "
            "FROM articles WHERE text <> '' ")


def _rows(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> Iterator[tuple[Any, ...]]:
    cur = con.execute(_ROW_SQL + where, params)
    while batch := cur.fetchmany(READ_BATCH):
        yield from batch


def _blanked_ids(con: duckdb.DuckDBPyConnection, index: tantivy.Index) -> list[str]:
    """Indexed articles whose text the warehouse has blanked since they were indexed (retention)."""
    row = con.execute("SELECT max(published_at) FROM articles WHERE text = ''").fetchall()[0]
    if row is None or row[0] is None:
        return []
    index.reload()
    searcher = index.searcher()
    older = tantivy.Query.range_query(index.schema, "published_at", tantivy.FieldType.Date, None, row[0])
    ids: list[str] = []
    while True:
        page = searcher.search(older, READ_BATCH, count=False, offset=len(ids)).hits
        ids += [str(searcher.doc(addr)["article_id"][0]) for _, addr in page]
        if len(page) < READ_BATCH:
            break
    if not ids:
        return []
    rows = con.execute("SELECT article_id FROM articles WHERE text = '' AND article_id IN (SELECT unnest(?))",
                       [ids]).fetchall()
    return [str(r[0]) for r in rows]


def _latest_run(con: duckdb.DuckDBPyConnection) -> str:
    # fetchall, never fetchone: a streaming result left open blocks the connection (DuckDB 2.0)
    row = con.execute("SELECT coalesce(max(run_id), '') FROM articles").fetchall()[0]
    return str(row[0]) if row else ""


def rebuilt_search_index(con: duckdb.DuckDBPyConnection, warehouse_path: str | Path, reason: str = "on demand") -> IndexUpdate:
    """Build a new index of every article with text, then switch the link to it (readers never wait).

    Args:
        con: a connection to the warehouse (or a copy of it) to read ``articles`` from.
        warehouse_path: the live warehouse's path (the index goes beside it).
        reason: why, for the log.
    Returns:
        What was done.
    Raises:
        FatalError: the folder cannot be written.
    """
    started = time.monotonic()
    link = search_index_path(warehouse_path)
    folder = link.with_name(f"{link.name}-{time.time_ns()}")
    try:
        folder.mkdir(parents=True)
        index = _opened(folder)
        writer = index.writer(WRITER_HEAP_BYTES, 1)
        last_run = _latest_run(con)  # read first: articles a concurrent load adds later are caught up next time
        added = 0
        for row in _rows(con, "AND coalesce(run_id, '') <= ?", [last_run]):
            writer.add_document(_document(row))
            added += 1
        writer.commit()
        writer.wait_merging_threads()
        _write_position(folder, IndexPosition(last_run))
        _switched_link(link, folder)
    except (OSError, ValueError) as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise FatalError("search_index_unwritable", f"cannot build the search index at {folder}: {e}") from e
    seconds = time.monotonic() - started
    log.info("search index rebuilt (%s): %d articles in %.1fs", reason, added, seconds)
    return IndexUpdate(added, 0, True, seconds, reason)


def _switched_link(link: Path, folder: Path) -> None:
    """Point ``link`` at ``folder`` atomically, then delete the folders it no longer points at."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.link")
    tmp.unlink(missing_ok=True)
    os.symlink(folder.name, tmp)
    if link.exists() and not link.is_symlink():  # a plain folder in the way (copied without links)
        shutil.rmtree(link)
    os.replace(tmp, link)
    for old in link.parent.glob(f"{link.name}-*"):
        if old != folder and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)  # an open reader keeps its files until it closes them


def updated_search_index(con: duckdb.DuckDBPyConnection, warehouse_path: str | Path) -> IndexUpdate:
    """Bring the index up to the warehouse: index the runs after its position, remove blanked texts.

    Called by the writer after each load (then it costs what the new articles cost) and usable at any
    time to catch up after a crash. Rebuilds when the index is missing, unreadable or of another format.

    Args:
        con: the writer's connection to the live warehouse, after the load's commit.
        warehouse_path: the warehouse's path.
    Returns:
        What was done.
    Raises:
        FatalError: the index folder cannot be written.
    """
    started = time.monotonic()
    link = search_index_path(warehouse_path)
    pos = read_position(link) if link.exists() else None
    if pos is None:
        return rebuilt_search_index(con, warehouse_path, "missing" if not link.exists() else "unreadable position")
    try:
        index = _opened(link)
        writer = index.writer(WRITER_HEAP_BYTES, 1)
    except (OSError, ValueError) as e:
        log.warning("search index at %s unreadable (%s): rebuilding", link, e)
        return rebuilt_search_index(con, warehouse_path, f"unreadable: {e}")
    last_run = _latest_run(con)
    added = 0
    for row in _rows(con, "AND coalesce(run_id, '') > ? AND coalesce(run_id, '') <= ?", [pos.last_run_id, last_run]):
        writer.delete_documents_by_term("article_id", row[0])
        writer.add_document(_document(row))
        added += 1
    pruned = _blanked_ids(con, index)
    for article_id in pruned:
        writer.delete_documents_by_term("article_id", article_id)
    if added or pruned:
        writer.commit()
    writer.wait_merging_threads()
    _write_position(link.resolve(), IndexPosition(max(last_run, pos.last_run_id)))
    return IndexUpdate(added, len(pruned), False, time.monotonic() - started)


def articles_behind(con: duckdb.DuckDBPyConnection, pos: IndexPosition) -> int:
    """How many articles with text the warehouse ``con`` holds beyond the index's position."""
    row = con.execute("SELECT count(*) FROM articles WHERE text <> '' AND coalesce(run_id, '') > ?",
                      [pos.last_run_id]).fetchall()[0]
    return int(row[0]) if row else 0
