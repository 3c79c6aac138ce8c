"""Bulk inserts through pandas DataFrames (DuckDB's replacement scan).

Why: ``executemany`` runs at ~700 rows/s; a DataFrame ``INSERT ... SELECT`` at ~30k rows/s
(docs/stack-notes.md#bulk-writes). Every multi-row write in the warehouse goes through ``insert_rows``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from warehouse.keys import IDENTITY_KEY, KEY_COLUMNS, optional_key


def insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    anti_join_on: Sequence[str] = (),
) -> int:
    """Insert ``rows`` into ``table``; with ``anti_join_on``, skip rows whose key already exists.

    The batch itself is de-duplicated on the key first (first row wins), since DuckDB resolves
    duplicate keys inside one statement silently (docs/stack-notes.md#bulk-writes). A table with lookup
    keys (``warehouse.keys``) gets them computed here, and its anti-join goes through the indexed key, so
    it reads the rows with the batch's keys instead of the whole table.

    Returns:
        The number of rows inserted.
    """
    if not rows:
        return 0
    frame = pd.DataFrame(list(rows), columns=list(columns))
    if anti_join_on:
        frame = frame.drop_duplicates(subset=list(anti_join_on), keep="first")
    keys = KEY_COLUMNS.get(table, {})
    for key, source in keys.items():
        frame[key] = pd.Series(pd.array([optional_key(v) for v in frame[source]], dtype="UInt64"), index=frame.index)
    cols = ", ".join([*columns, *keys])
    con.register("_batch", frame)
    try:
        if anti_join_on:
            cond = " AND ".join(f"t.{k} IS NOT DISTINCT FROM b.{k}" for k in anti_join_on)
            identity = IDENTITY_KEY.get(table)
            source = table
            if identity and keys[identity] in anti_join_on:
                # The table's rows with the batch's keys, from the index (MATERIALIZED keeps the text
                # comparison out of that scan, which would otherwise read the whole column).
                source = (f"(WITH c AS MATERIALIZED (SELECT {', '.join(anti_join_on)} FROM {table} "
                          f"WHERE {identity} IN (SELECT {identity} FROM _batch)) SELECT * FROM c)")
            sql = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _batch b WHERE NOT EXISTS (SELECT 1 FROM {source} t WHERE {cond})"
        else:
            sql = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _batch"
        inserted = con.execute(sql).fetchall()  # INSERT returns one row: the count
    finally:
        con.unregister("_batch")
    return int(inserted[0][0]) if inserted else 0
