"""Read-only access for analysts: the latest snapshot, never the live file.

Why: see ``warehouse/snapshot.py``. ``connect()`` is the documented way to open the warehouse from
Python; ``newswatch sql`` uses it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from newswatch.errors import FatalError
from warehouse.db import open_connection
from warehouse.snapshot import snapshot_path
from warehouse.sql_guard import query_error, sealed

# Opening a snapshot read-only can only collide with a writer when the snapshot does not exist yet
# and we fall back to the live file; then wait up to this long for the writer's short transaction.
READ_WAIT_SECONDS = 15.0


def analyst_db_path(settings: Any | None = None, db: str | None = None) -> Path:
    """The file analysts should open: ``db`` if given, else the configured warehouse's snapshot."""
    if db:
        return Path(db)
    if settings is None:
        raise FatalError("no_warehouse", "no config and no --db given")
    snap = snapshot_path(settings.warehouse.path, settings.warehouse.snapshot_dir)
    return snap if snap.exists() else Path(settings.warehouse.path)


def connect(settings: Any | None = None, db: str | None = None, *, wait_seconds: float = READ_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the analysts' copy of the warehouse."""
    path = analyst_db_path(settings, db)
    if not path.exists():
        raise FatalError("no_warehouse", f"{path} does not exist yet (hint: run `newswatch run` first)")
    return open_connection(path, read_only=True, wait_seconds=wait_seconds)


def query_frame(sql: str, *, settings: Any | None = None, db: str | None = None) -> pd.DataFrame:
    """Run one read-only query and return its result as a DataFrame."""
    con = sealed(connect(settings, db))
    try:
        return con.execute(sql).df()
    except duckdb.Error as e:
        raise query_error(e) from e
    finally:
        con.close()
