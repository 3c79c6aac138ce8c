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
from pathlib import Path

SNAPSHOT_NAME = "newswatch.duckdb"


def snapshot_path(warehouse_path: str | Path, snapshot_dir: str | Path | None = None) -> Path:
    """Where the analysts' copy of ``warehouse_path`` lives."""
    wp = Path(warehouse_path)
    folder = Path(snapshot_dir) if snapshot_dir else wp.with_name(wp.stem + "-snapshot")
    return folder / SNAPSHOT_NAME


def published_snapshot(warehouse_path: str | Path, snapshot_dir: str | Path | None = None) -> Path:
    """Copy the (closed, checkpointed) warehouse to the snapshot path atomically. Returns the path."""
    src = Path(warehouse_path)
    dst = snapshot_path(src, snapshot_dir)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst
