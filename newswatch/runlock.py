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
