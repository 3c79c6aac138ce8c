"""One cycle at a time per warehouse, across processes.

Why: ``serve`` never overlaps its own runs (the runner's limit), but an operator may also start
``newswatch run`` by hand, or a slow cycle may still be running when the next is due. An advisory
``flock`` on a file next to the warehouse makes the second cycle wait for the first instead of
fighting over the DuckDB write lock. The kernel releases it when the process dies, so a crash never
leaves it stuck.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newswatch.errors import FatalError


@contextmanager
def cycle_lock(warehouse_path: str | Path, *, wait_seconds: float = 3600.0) -> Iterator[None]:
    """Hold the warehouse's cycle lock; wait up to ``wait_seconds`` for another cycle to finish."""
    p = Path(warehouse_path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p.with_name(p.name + ".cycle.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise FatalError("cycle_running", f"another cycle still holds {p.name}.cycle.lock") from None
                time.sleep(0.5)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def serve_lock(warehouse_path: str | Path) -> Iterator[None]:
    """Hold the warehouse's ``serve`` lock for the life of one ``newswatch serve``; fail at once if taken.

    Why: two ``serve`` processes on one warehouse would each schedule every cycle; the cycle lock keeps
    them from overlapping, but the second is almost always an operator's mistake (a unit started twice,
    a forgotten terminal), so it is refused with the holder's pid instead of silently doubling the work.

    Raises:
        FatalError: another ``serve`` holds the lock (reason ``serve_running``).
    """
    p = Path(warehouse_path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p.with_name(p.name + ".serve.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise FatalError("serve_running", f"another `newswatch serve` (pid {holder}) already serves {p.name}") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
