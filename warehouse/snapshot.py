"""Read-only full copies of the warehouse, published atomically (with ``warehouse.snapshot_copy``).

The default analysts' copy is the lake (``warehouse/lake.py``), whose cost follows the cycle rather than the
archive; this copy remains for tools that want one DuckDB file with the data inside.

Why: while the pipeline holds the live DuckDB file, any other process's open fails at once with a lock
error, and readers that hold the file block the writer (docs/stack-notes.md#locking). So analysts never open the
live file: after each cycle the writer checkpoints, closes, copies the file next to a temporary name
and ``os.replace``s it over the snapshot. A reader that has the old snapshot open keeps reading the old
inode; a new reader gets the new one. Nobody waits on anybody.

A raw file copy is safe here because it happens after ``CHECKPOINT`` and ``close()`` by the only
writer, so the file is complete and the WAL is empty.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

SNAPSHOT_NAME = "newswatch.duckdb"
# The last version number handed out, kept next to the versions: the order of versions is this
# sequence, never the wall clock, so an NTP step backwards cannot make a new version sort as old.
SEQUENCE_FILE = ".sequence"


def snapshot_path(warehouse_path: str | Path, snapshot_dir: str | Path | None = None) -> Path:
    """Where the analysts' copy of ``warehouse_path`` lives."""
    wp = Path(warehouse_path)
    folder = Path(snapshot_dir) if snapshot_dir else wp.with_name(wp.stem + "-snapshot")
    return folder / SNAPSHOT_NAME


# Versions kept besides the current one: a reader resolves the link and opens the file within
# microseconds, and a file already open survives its unlink, so one previous version is plenty.
KEEP_PREVIOUS = 1


def _versions(link: Path) -> dict[int, Path]:
    """The snapshot versions in ``link``'s folder, by sequence number."""
    pattern = re.compile(rf"{re.escape(link.stem)}-(\d+){re.escape(link.suffix)}")
    found: dict[int, Path] = {}
    for p in link.parent.iterdir():
        m = pattern.fullmatch(p.name)
        if m:
            found[int(m.group(1))] = p
    return found


def _next_sequence(link: Path, versions: dict[int, Path]) -> int:
    """One more than the highest number recorded or present (older versions were named by time_ns, so
    counting on from the largest name keeps them ordered too)."""
    try:
        recorded = int((link.parent / SEQUENCE_FILE).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        recorded = 0
    number = max([recorded, *versions]) + 1
    tmp = link.parent / f"{SEQUENCE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(f"{number}\n")
    os.replace(tmp, link.parent / SEQUENCE_FILE)
    return number


def removed_partial_copies(link: Path) -> list[Path]:
    """Delete what an interrupted publication left behind (a half-copied ``.tmp``, a spare link).

    Only the pipeline's single writer publishes, so whatever temporary file exists when it starts a
    publication is a leftover of a process that was killed mid-copy.
    """
    removed: list[Path] = []
    if not link.parent.is_dir():
        return removed
    for p in link.parent.iterdir():
        if p.name.startswith(f".{link.stem}-") and p.name.endswith(".tmp") or (
                p.name.startswith(f".{link.name}.") and p.name.endswith(".link")) or (
                p.name.startswith(f"{SEQUENCE_FILE}.") and p.name.endswith(".tmp")):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def publish_snapshot(warehouse_path: str | Path, snapshot_dir: str | Path | None = None) -> Path:
    """Copy the (closed, checkpointed) warehouse to a new snapshot version and switch the link to it.

    Each snapshot is a new file behind an atomically replaced symlink (``newswatch.duckdb``): DuckDB
    keeps one database per path and process, so a notebook that still holds a connection would
    otherwise get the old snapshot back from a new ``connect()`` of the same file name. Versions are
    numbered by a recorded sequence; only versions older than the one just published are pruned.

    Returns:
        The link's path (what analysts open).
    """
    src = Path(warehouse_path)
    link = snapshot_path(src, snapshot_dir)
    link.parent.mkdir(parents=True, exist_ok=True)
    removed_partial_copies(link)
    number = _next_sequence(link, _versions(link))
    version = link.with_name(f"{link.stem}-{number:020d}{link.suffix}")
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
    versions = _versions(link)
    older = sorted(n for n in versions if n < number)
    for n in older[: max(len(older) - KEEP_PREVIOUS, 0)]:
        versions[n].unlink(missing_ok=True)
    return link
