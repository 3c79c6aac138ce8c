"""Read-only snapshots for analysts, published atomically after each cycle.

Why: while the pipeline holds the live DuckDB file, any other process's open fails at once with a lock
error, and readers that hold the file block the writer (TECH-NOTES §3.1). So analysts never open the
live file: after each cycle the writer checkpoints, closes, copies the file next to a temporary name
and ``os.replace``s it over the snapshot. A reader that has the old snapshot open keeps reading the old
inode; a new reader gets the new one. Nobody waits on anybody.

A raw file copy is safe here because it happens after ``CHECKPOINT`` and ``close()`` by the only
writer, so the file is complete and the WAL is empty.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

SNAPSHOT_NAME = "newswatch.duckdb"


def snapshot_path(warehouse_path: str | Path, snapshot_dir: str | Path | None = None) -> Path:
    """Where the analysts' copy of ``warehouse_path`` lives."""
    wp = Path(warehouse_path)
    folder = Path(snapshot_dir) if snapshot_dir else wp.with_name(wp.stem + "-snapshot")
    return folder / SNAPSHOT_NAME


# Versions kept besides the current one: a reader resolves the link and opens the file within
# microseconds, and a file already open survives its unlink, so one previous version is plenty.
KEEP_PREVIOUS = 1


def published_snapshot(warehouse_path: str | Path, snapshot_dir: str | Path | None = None) -> Path:
    """Copy the (closed, checkpointed) warehouse to a new snapshot version and switch the link to it.

    Each snapshot is a new file behind an atomically replaced symlink (``newswatch.duckdb``): DuckDB
    keeps one database per path and process, so a notebook that still holds a connection would
    otherwise get the old snapshot back from a new ``connect()`` of the same file name.

    Returns:
        The link's path (what analysts open).
    """
    src = Path(warehouse_path)
    link = snapshot_path(src, snapshot_dir)
    link.parent.mkdir(parents=True, exist_ok=True)
    version = link.with_name(f"{link.stem}-{time.time_ns()}{link.suffix}")
    tmp = version.with_name(f".{version.name}.tmp")
    tmp_link = link.with_name(f".{link.name}.{os.getpid()}.link")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, version)
        os.symlink(version.name, tmp_link)
        os.replace(tmp_link, link)
    finally:
        tmp.unlink(missing_ok=True)
        tmp_link.unlink(missing_ok=True)
    for old in sorted(link.parent.glob(f"{link.stem}-*{link.suffix}"))[: -(KEEP_PREVIOUS + 1)]:
        old.unlink(missing_ok=True)
    return link
