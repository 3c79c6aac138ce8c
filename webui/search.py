"""The web workbench's full-text search: the same engine, query language and result objects as
``newswatch search --format json``.

Why a function the app is handed (``create_app(search=...)``): the page and ``/api/search`` stay independent of
where the index lives; the command wires the warehouse's index and snapshot here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from newswatch.errors import FatalError
from transform.topics import QuerySyntaxError, compiled_query
from warehouse.search import SORTS, SearchFilters, search_hits
from warehouse.search_index import opened_index
from webui.app import BadRequest

# The most stories one request may ask for: a page shows 20, so this is 25 pages.
MAX_LIMIT = 500


def _when(filters: Mapping[str, str], name: str) -> datetime | None:
    raw = filters.get(name, "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name}: not a date or time (use YYYY-MM-DD or an ISO 8601 time)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _int(filters: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = filters.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(f"{name}: a whole number from {low} to {high}")
    return int(raw)


def search_function(warehouse_path: str | Path,
                    cursor: Callable[[], AbstractContextManager[tuple[duckdb.DuckDBPyConnection, Any]]]
                    ) -> Callable[[str, Mapping[str, str]], Sequence[Mapping[str, Any]]]:
    """A search function over the index beside ``warehouse_path``, verifying against the snapshot version a
    ``cursor()`` (``SnapshotReader.cursor``) gives: the same one connection and configuration as every page.

    Filters (query-string names): ``days``, ``since``, ``until``, ``feed``, ``topic``, ``language``,
    ``speaker``, ``limit`` (default 200), ``sort`` (``relevance`` or ``date``).
    """

    def search(q: str, filters: Mapping[str, str]) -> Sequence[Mapping[str, Any]]:
        try:
            query = compiled_query(q)
        except QuerySyntaxError as e:
            raise BadRequest(f"{e} (at character {e.position + 1})") from None
        since = _when(filters, "since")
        if filters.get("days", "").strip():
            since = datetime.now(UTC) - timedelta(days=_int(filters, "days", 0, 1, 36_600))
        sort = filters.get("sort", "relevance") or "relevance"
        if sort not in SORTS:
            raise BadRequest(f"sort: one of {', '.join(SORTS)}")
        feed = filters.get("feed", "").strip()
        wanted = SearchFilters(since=since, until=_when(filters, "until"), feeds=(feed,) if feed else (),
                               topic=filters.get("topic") or None, language=filters.get("language") or None,
                               speaker=filters.get("speaker") or None)
        limit = _int(filters, "limit", 200, 1, MAX_LIMIT)
        try:
            index, position = opened_index(warehouse_path)
            with cursor() as (con, _version):
                result = search_hits(con, index, position, query, wanted, limit=limit, sort=sort)
        except FatalError as e:  # no index yet, an unknown feed name
            raise BadRequest(e.message) from None
        return [h.as_record() for h in result.hits]

    return search
