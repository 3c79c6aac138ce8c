"""``newswatch search`` (full-text search in the topic query language) and ``newswatch export`` (files for other tools).

Why its own module: both only read the analysts' snapshot (``warehouse.analyst.connect``), so they work
while a cycle writes; the search index is read from beside the live warehouse. ``register`` is the one
hook ``flows/cli.py`` calls.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from newswatch.errors import FatalError
from pipeline.settings import reader_settings, warehouse_paths


def _instant(text: str) -> datetime:
    """``--since``/``--until``: an ISO date or date-time; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r} (e.g. 2026-11-30 or 2026-11-30T08:00)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _warehouse_path(settings: Any, db: str | None) -> str:
    """The warehouse the index lives beside: the configured one, or ``--db``."""
    return str(db) if db else str(settings.warehouse.path)


def _syntax_error_lines(query: str, e: Any) -> list[str]:
    return [f"error: bad query: {e.message} at position {e.position}", f"  {query}", "  " + " " * e.position + "^"]


def cmd_search(args: argparse.Namespace) -> int:
    """Search (or rebuild the index) and print the hits in the chosen format."""
    from transform.topics import QuerySyntaxError, compiled_query
    from warehouse.analyst import connect
    from warehouse.search import SearchFilters, search_hits
    from warehouse.search_index import opened_index, rebuilt_search_index

    settings = reader_settings(args.config, args.db)
    warehouse = _warehouse_path(settings, args.db)
    if args.rebuild:
        con = connect(warehouse_paths(settings), args.db)
        try:
            done = rebuilt_search_index(con, warehouse)
        finally:
            con.close()
        print(f"search index rebuilt: {done.added} articles in {done.seconds:.1f}s")
        if args.query is None:
            return 0
    if args.query is None:
        raise FatalError("no_query", "give a QUERY (or --rebuild)")
    try:
        query = compiled_query(args.query)
    except QuerySyntaxError as e:
        print("\n".join(_syntax_error_lines(args.query, e)), file=sys.stderr)
        return 2
    since = args.since
    if args.days is not None:
        since = datetime.now(UTC) - timedelta(days=args.days)
    filters = SearchFilters(since=since, until=args.until, feeds=tuple(args.feed or ()), topic=args.topic,
                            language=args.language, speaker=args.speaker)
    index, position = opened_index(warehouse)
    con = connect(warehouse_paths(settings), args.db)
    try:
        result = search_hits(con, index, position, query, filters, limit=args.limit, sort=args.sort)
    finally:
        con.close()
    if result.articles_not_indexed:
        print(f"note: the search index has not caught up with {result.articles_not_indexed} articles yet "
              "(the next cycle adds them; or run `newswatch search --rebuild`)", file=sys.stderr)
    records = [h.as_record() for h in result.hits]
    if args.format == "json":
        print(json.dumps(records, ensure_ascii=False, indent=1))
    elif args.format == "csv":
        _write_csv(records)
    else:
        print("\n".join(_table_lines(records)) if records else "(no matches)")
    return 0


CSV_COLUMNS = ("article_id", "story_id", "url", "title", "published_at", "feed", "language", "score", "snippet",
               "copies", "matched_terms", "speakers")


def _write_csv(records: list[dict[str, Any]]) -> None:
    w = csv.writer(sys.stdout)
    w.writerow(CSV_COLUMNS)
    for r in records:
        w.writerow([" ".join(v) if isinstance(v := r[c], list) else v for c in CSV_COLUMNS])


def _table_lines(records: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for i, r in enumerate(records, 1):
        copies = f"  (+{len(r['copies'])} matching copies)" if r["copies"] else ""
        lines.append(f"{i:>3}. {r['published_at'][:16].replace('T', ' ')}  {r['feed']}  score {r['score']:.2f}{copies}")
        lines.append(f"     {r['title'] or '(no title)'}")
        lines.append(f"     {r['url']}")
        lines.append(f"     {r['snippet']}")
        if r["quotes"]:
            lines += [f"     {q['speaker']}: \u201c{q['text'][:160]}\u201d" for q in r["quotes"][:3]]
        elif r["speakers"]:
            lines.append(f"     quoted: {', '.join(r['speakers'][:8])}")
    return lines


def cmd_export(args: argparse.Namespace) -> int:
    """Write the rows of a view or query to a file."""
    from warehouse.analyst import connect
    from warehouse.export import FORMATS, exported_rows
    from warehouse.sql_guard import sealed

    fmt = args.format or next((f for f in FORMATS if args.out.lower().endswith("." + f)), "parquet")
    settings = reader_settings(args.config, args.db)
    con = sealed(connect(warehouse_paths(settings), args.db))
    try:
        rows = exported_rows(con, args.query_or_view, fmt, args.out)
    finally:
        con.close()
    print(f"wrote {rows} rows to {args.out} ({fmt})")
    return 0


def register(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Add ``search`` and ``export`` to the ``newswatch`` sub-commands."""
    from warehouse.export import FORMATS
    from warehouse.search import SORTS

    sp = with_config(sub.add_parser("search", help="full-text search in the topic query language"))
    sp.add_argument("query", nargs="?", help='a topic query, e.g. \'"North Korea" AND summit* NOT sport*\'')
    when = sp.add_mutually_exclusive_group()
    when.add_argument("--days", type=_positive, help="only articles published in the last N days")
    when.add_argument("--since", type=_instant, help="only articles published at or after this (ISO; UTC if no zone)")
    sp.add_argument("--until", type=_instant, help="only articles published before this")
    sp.add_argument("--feed", action="append", help="only this feed (name or id; repeat for several)")
    sp.add_argument("--topic", help="only articles matching this configured topic")
    sp.add_argument("--language", help="only articles in this language (e.g. en)")
    sp.add_argument("--speaker", help="only articles quoting this speaker (part of the name, any case)")
    sp.add_argument("--limit", type=_positive, default=20, help="stories to show (default 20)")
    sp.add_argument("--sort", choices=SORTS, default="relevance", help="relevance (BM25, default) or date (newest first)")
    sp.add_argument("--format", choices=["table", "json", "csv"], default="table")
    sp.add_argument("--rebuild", action="store_true", help="rebuild the search index from the warehouse first")
    sp.add_argument("--db", default=None, help="search this DuckDB file (its index beside it) instead of the configured warehouse")
    sp.set_defaults(fn=cmd_search)

    ep = with_config(sub.add_parser("export", help="write a view's or query's rows to Parquet, CSV or JSON"))
    ep.add_argument("query_or_view", help="a table or view name (e.g. topic_daily) or a SELECT")
    ep.add_argument("--format", choices=FORMATS, default=None, help="default: from --out's suffix, else parquet")
    ep.add_argument("--out", required=True, help="the file to write (replaced if it exists)")
    ep.add_argument("--db", default=None, help="read this DuckDB file instead of the configured warehouse's snapshot")
    ep.set_defaults(fn=cmd_export)

