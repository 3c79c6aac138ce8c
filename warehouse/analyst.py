"""Read-only access for analysts: the latest lake version (or snapshot), never the live file.

Why: see ``warehouse/lake.py`` and ``warehouse/snapshot.py``. ``connect()`` is the documented way to open
the warehouse from Python; ``newswatch sql`` uses it too.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from newswatch.config import WarehousePaths
from newswatch.errors import FatalError
from warehouse.db import open_connection
from warehouse.lake import CURRENT, LakePaths, catalog_lake, lake_connection, refused_statement
from warehouse.snapshot import snapshot_path
from warehouse.sql_guard import query_error, sealed

log = logging.getLogger(__name__)

# Opening a snapshot read-only can only collide with a writer when the snapshot does not exist yet
# and we fall back to the live file; then wait up to this long for the writer's short transaction.
READ_WAIT_SECONDS = 15.0


def analyst_db_path(warehouse: WarehousePaths | None = None, db: str | None = None) -> Path:
    """The file analysts should open: ``db`` if given, else the configured warehouse's snapshot."""
    if db:
        return Path(db)
    if warehouse is None:
        raise FatalError("no_warehouse", "no config and no --db given")
    lake = LakePaths.beside(warehouse.path, warehouse.lake_dir)
    current = lake.lake / CURRENT
    if current.exists():
        return current
    snap = snapshot_path(warehouse.path, warehouse.snapshot_dir)
    if snap.is_symlink() and not snap.exists():
        # Falling back to the live file here would hand the analyst another database without a word
        # (and contend with the writer's lock); say what is wrong instead.
        raise FatalError("snapshot_missing", f"the snapshot link {snap} points to {os.readlink(snap)}, which does not "
                         "exist (hint: the next `newswatch run` publishes a new snapshot; or pass --db "
                         f"{warehouse.path} to read the live file)")
    if snap.exists():
        return snap
    log.warning("no snapshot published yet at %s; reading the live warehouse %s", snap, warehouse.path)
    return Path(warehouse.path)


def connect(warehouse: WarehousePaths | None = None, db: str | None = None, *,
            wait_seconds: float = READ_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the analysts' copy of the warehouse: the lake once one is published
    (``db`` names a file to open instead)."""
    path = analyst_db_path(warehouse, db)
    lake = catalog_lake(path)
    if lake is not None and path.exists():
        return lake_connection(lake, sealed=False)
    if not path.exists():
        raise FatalError("no_warehouse", f"{path} does not exist yet (hint: run `newswatch run` first)")
    return open_connection(path, read_only=True, wait_seconds=wait_seconds)


def query_rows(sql: str, *, warehouse: WarehousePaths | None = None, db: str | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one read-only query; its column names and rows as DuckDB gives them (ints stay ints, NULL is None)."""
    con = sealed(connect(warehouse, db))
    try:
        refused_statement(con, sql)
        cur = con.execute(sql)
        return [d[0] for d in cur.description or []], cur.fetchall()
    except duckdb.Error as e:
        raise query_error(e) from e
    finally:
        con.close()


def _cell(value: Any, width: int) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.6g}" if abs(value) < 1e15 else repr(value)
    text = " ".join(str(value).split())  # one row per line, whatever the text holds
    return text if len(text) <= width else text[: width - 1] + "…"


def table_text(columns: list[str], rows: list[tuple[Any, ...]], *, max_width: int = 80) -> str:
    """An aligned text table: NULL shown as NULL, integers as integers, numbers right-aligned.

    Why not pandas: a column with a NULL became float (a sum of 9 printed ``9.0``) and NULL printed
    as ``NaN`` or ``None``, which analysts read as values.
    """
    if not rows:
        return "(no rows)"
    cells = [[_cell(v, max_width) for v in row] for row in rows]
    numeric = [all(isinstance(r[i], int | float) and not isinstance(r[i], bool) or r[i] is None for r in rows)
               for i in range(len(columns))]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def query_frame(sql: str, *, warehouse: WarehousePaths | None = None, db: str | None = None) -> pd.DataFrame:
    """Run one read-only query and return its result as a DataFrame."""
    con = sealed(connect(warehouse, db))
    try:
        refused_statement(con, sql)
        # Through Arrow: DuckDB's own .df() raises a deprecation warning under pandas 3.1.
        rel = con.sql(sql)
        return pd.DataFrame() if rel is None else rel.to_arrow_table().to_pandas()
    except duckdb.Error as e:
        raise query_error(e) from e
    finally:
        con.close()
