"""One snapshot version per request, opened read-only with external access disabled.

Why: the pipeline publishes each snapshot as a new file behind an atomically replaced symlink
(``warehouse/snapshot.py``). A request resolves the link once and runs every query of the page on that
one file, so a switch in the middle of a request can never give half-old, half-new numbers. Opening a
DuckDB file costs ~15 ms and its catalog is re-read each time, so each version stays open while it is
current and requests take cheap cursors on it; a version is closed once it is no longer current and no
request is using it (the pipeline unlinks old versions; an open file survives that).

The live warehouse file (used only before the first snapshot exists) is never kept open: a reader that
holds it blocks the writer, so it is opened per request and closed right after.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse.lake import catalog_lake, seal

# The same settings for every connection of the process (DuckDB refuses a second configuration for a
# file it already has open). ``lock_configuration`` stops a console query from ``SET``ting external
# access back on. (Days are UTC in the views themselves; pages print timestamps in UTC.)
READ_CONFIG: dict[str, str | bool] = {"enable_external_access": False, "lock_configuration": True}


class SnapshotMissing(RuntimeError):
    """There is nothing to read yet (no snapshot and no warehouse file)."""


@dataclass(frozen=True, slots=True)
class Version:
    """One immutable file the requests read: its resolved path and identity."""

    path: Path
    inode: int
    mtime_ns: int

    @property
    def label(self) -> str:
        """A short name for headers and the page footer."""
        return self.path.name


class _Open:
    __slots__ = ("con", "users")

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.users = 0


def open_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``path`` with external access disabled and the configuration locked.

    A lake version's catalog file (``warehouse/lake.py``, behind the ``current.duckdb`` link like a
    snapshot) holds only views over the lake's Parquet files, so that folder stays readable.
    """
    lake = catalog_lake(path)
    if lake is not None:
        return seal(duckdb.connect(str(path), read_only=True), lake)
    return duckdb.connect(str(path), read_only=True, config=dict(READ_CONFIG))


class SnapshotReader:
    """Hands out cursors on the current version of ``path`` (a snapshot link, a snapshot file, or the live file)."""

    def __init__(self, path: str | Path, *, live: str | Path | None = None) -> None:
        self.path = Path(path)
        self._live = Path(live).resolve() if live else None
        self._lock = threading.Lock()
        self._open: dict[Version, _Open] = {}
        self._current: Version | None = None

    def current_version(self) -> Version:
        """The file the link points at now.

        Raises:
            SnapshotMissing: the path does not exist.
        """
        real = Path(os.path.realpath(self.path))
        try:
            st = real.stat()
        except FileNotFoundError:
            raise SnapshotMissing(f"{self.path} does not exist yet (hint: run `newswatch run` first)") from None
        return Version(real, st.st_ino, st.st_mtime_ns)

    @contextmanager
    def cursor(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, Version]]:
        """A cursor on one version, for all the queries of one request."""
        version = self.current_version()
        if self._live is not None and version.path == self._live:
            con = open_read_only(version.path)
            try:
                yield con, version
            finally:
                con.close()
            return
        with self._lock:
            held = self._open.get(version)
            if held is None:
                held = self._open[version] = _Open(open_read_only(version.path))
            held.users += 1
            self._current = version
        cur = held.con.cursor()
        try:
            yield cur, version
        finally:
            cur.close()
            with self._lock:
                held.users -= 1
                self._close_stale()

    def _close_stale(self) -> None:
        for v, held in list(self._open.items()):
            if v != self._current and held.users == 0:
                held.con.close()
                del self._open[v]

    def open_versions(self) -> list[Version]:
        """The versions held open now (for tests and the status line)."""
        with self._lock:
            return list(self._open)

    def close(self) -> None:
        """Close every connection (at shutdown)."""
        with self._lock:
            for held in self._open.values():
                held.con.close()
            self._open.clear()
