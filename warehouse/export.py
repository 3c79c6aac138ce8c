"""``newswatch export``: a query's or a view's rows written to Parquet, CSV or JSON for other tools.

Why: notebooks, BI tools, pandas, Polars and Spark read Parquet, and should never need the live
warehouse file (whose lock would stop the pipeline). The query runs on the analysts' snapshot through a
sealed connection (``warehouse/sql_guard.py``: the query itself can touch no file), its result comes back
as Arrow, and only this module writes, and only the file it was given: to a temporary name beside it,
then renamed, so a reader never sees half a file. Parquet keeps the column types (timestamps with
their zone, lists, integers) and is compressed with zstd.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from newswatch.errors import FatalError
from warehouse.sql_guard import query_error

FORMATS = ("parquet", "csv", "json")
_COPY_OPTIONS = {
    "parquet": "FORMAT parquet, COMPRESSION zstd",
    "csv": "FORMAT csv, HEADER true",
    "json": "FORMAT json, ARRAY true",  # one JSON array of objects, what `sql --format json` prints
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def export_sql(con: duckdb.DuckDBPyConnection, query_or_view: str) -> str:
    """The SELECT to export: ``SELECT * FROM name`` for a table or view of the warehouse, else the query itself."""
    name = query_or_view.strip()
    if _NAME.fullmatch(name):
        known = con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = $1 UNION ALL "
                            "SELECT 1 FROM duckdb_views() WHERE view_name = $1", [name]).fetchall()
        if not known:
            raise FatalError("unknown_view", f"no table or view named {name!r} (hint: pass a query, "
                                             "e.g. \"SELECT * FROM topic_daily WHERE topic = 'x'\")")
        return f'SELECT * FROM "{name}"'
    return query_or_view


def exported_rows(con: duckdb.DuckDBPyConnection, query_or_view: str, fmt: str, out: str | Path) -> int:
    """Write the rows of ``query_or_view`` to ``out`` in ``fmt``.

    Args:
        con: a sealed read-only connection to the analysts' snapshot.
        query_or_view: a table or view name, or a SELECT.
        fmt: parquet, csv or json.
        out: the file to write (replaced atomically when it exists).
    Returns:
        How many rows were written.
    Raises:
        FatalError: unknown format or view, a bad query, or a file that cannot be written.
    """
    if fmt not in FORMATS:
        raise FatalError("bad_format", f"--format must be one of {', '.join(FORMATS)}")
    target = Path(out)
    if not target.parent.is_dir():
        raise FatalError("bad_output", f"folder {target.parent} does not exist")
    try:
        table = con.sql(export_sql(con, query_or_view)).to_arrow_table()
    except duckdb.Error as e:
        raise query_error(e) from e
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    writer = duckdb.connect(":memory:")  # runs only the fixed COPY below, never the analyst's SQL
    try:
        writer.register("export_rows", table)
        path = str(tmp).replace("'", "''")
        writer.execute(f"COPY export_rows TO '{path}' ({_COPY_OPTIONS[fmt]})")
        os.replace(tmp, target)
    except (duckdb.Error, OSError) as e:
        raise FatalError("export_failed", f"cannot write {target}: {str(e).splitlines()[0]}") from e
    finally:
        writer.close()
        tmp.unlink(missing_ok=True)
    return table.num_rows
