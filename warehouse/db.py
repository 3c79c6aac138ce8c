"""Opening the warehouse: one writer, short-lived connections, migrations applied on open.

Why: DuckDB allows one writing process and a writer's open file locks every reader out
(docs/stack-notes.md#locking). The pipeline therefore opens the file only for its short transactions and closes
it right after; analysts read the published snapshot (``warehouse/snapshot.py``). A brief retry loop
covers the moment another process (an analyst who opened the live file, a second ``newswatch run``)
holds the lock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from newswatch.errors import FatalError
from warehouse.migrations import migrate

# How long a writer waits for the file lock before failing the cycle. A load transaction takes well
# under a second; 30 s covers a snapshot copy or an analyst's short session on the live file.
LOCK_WAIT_SECONDS = 30.0


def _is_lock_error(exc: duckdb.Error) -> bool:
    text = str(exc)
    return "lock" in text.lower() or "Conflicting" in text


def open_connection(path: str | Path, *, read_only: bool = False, wait_seconds: float = LOCK_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the database file, retrying while another process holds its lock.

    Raises:
        FatalError: the lock was not released in time, or the file is not a DuckDB database.
    """
    p = Path(path)
    if not read_only:
        p.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(p), read_only=read_only)
        except duckdb.IOException as e:
            if not _is_lock_error(e) or time.monotonic() >= deadline:
                raise FatalError("warehouse_locked" if _is_lock_error(e) else "warehouse_unreadable", str(e)) from e
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def unwritable_problem(folder: str | Path, what: str) -> str | None:
    """Why newswatch cannot create files in ``folder`` (created if missing), or None when it can.

    Why a probe rather than ``os.access``: a read-only mount, a full disk or a root-owned folder are
    only certain once a file is actually created, and ``os.access`` says yes to root everywhere.
    Checked before a cycle starts, so the operator gets one clear line instead of a failure deep in a
    flow run.
    """
    d = Path(folder)
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".newswatch-write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return f"{what} {d}: cannot write there ({e.strerror or e}; hint: make it writable or choose another path)"
    return None


def unreadable_problem(path: str | Path) -> str | None:
    """Why the database file at ``path`` cannot be opened for reading, or None when it can."""
    try:
        with open(path, "rb") as f:
            f.read(1)
    except FileNotFoundError:
        return None  # reported by the caller, with its own hint
    except OSError as e:
        return f"{path}: cannot read the warehouse ({e.strerror or e})"
    return None


@contextmanager
def writer(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A migrated read-write connection, closed (and checkpointed) on exit."""
    con = open_connection(path)
    try:
        migrate(con)
        yield con
        con.execute("CHECKPOINT")
    finally:
        con.close()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, rolled back on any exception (the batch is all or nothing)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
