"""Fault injection for crash tests: ``NEWSWATCH_FAULT=<point>`` kills the process at that point.

Why: the promise "a crash anywhere loses nothing" is only worth something if tests kill the real
pipeline at the dangerous moments (mid-fetch, mid-extraction, inside the load transaction, and in
pipeline/delivery.py between commit and alert delivery) and check the next cycle. The check is one dictionary lookup of an
environment variable, so it costs nothing in production, where the variable is never set.
"""

from __future__ import annotations

import os

POINTS = frozenset({
    "during_fetch",          # after some article pages were fetched, before extraction
    "during_extraction",     # inside a worker, while extracting a chunk
    "during_load",           # inside the load transaction, after the articles were inserted
})
# Between the load's commit and alert delivery, pipeline/delivery.py has its own points
# (exit_before_send, exit_after_send), checked the same way.


def crash_point(point: str) -> None:
    """SIGKILL-equivalent exit (no cleanup, no flush) when ``NEWSWATCH_FAULT`` names this point."""
    if os.environ.get("NEWSWATCH_FAULT") == point:
        os._exit(137)
