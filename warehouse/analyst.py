"""Read-only access for analysts: the latest snapshot, never the live file.

Why: see ``warehouse/snapshot.py``. ``connect()`` is the documented way to open the warehouse from
Python; ``newswatch sql`` uses it too.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from newswatch.errors import FatalError
from warehouse.db import open_connection
from warehouse.snapshot import snapshot_path
from warehouse.sql_guard import query_error, sealed

log = logging.getLogger(__name__)

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
    if snap.is_symlink() and not snap.exists():
        # Falling back to the live file here would hand the analyst another database without a word
        # (and contend with the writer's lock); say what is wrong instead.
        raise FatalError("snapshot_missing", f"the snapshot link {snap} points to {os.readlink(snap)}, which does not "
                         "exist (hint: the next `newswatch run` publishes a new snapshot; or pass --db "
                         f"{settings.warehouse.path} to read the live file)")
    if snap.exists():
        return snap
    log.warning("no snapshot published yet at %s; reading the live warehouse %s", snap, settings.warehouse.path)
    return Path(settings.warehouse.path)


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
