"""The end-of-run summary that ``run`` and ``demo`` print, one line per section.

Why a module of its own: both commands print it, and the demo must not import the command line that imports it.
"""

from __future__ import annotations

from typing import Any

from newswatch.terminal import printable


def summary_lines(summary: Any, details: list[str] | None = None) -> list[str]:
    """The end-of-run summary, one printable line per section (a new count is one more entry here; the lines
    can quote third-party text, so each is escaped).

    "already seen": entries whose article the warehouse holds already (the same URL from another feed or
    an earlier run); syndicated copies are new articles that join a story, counted in "new".
    """
    return [printable(line, multiline=False) for line in [
        f"run {summary.run_id}: {summary.status} in {summary.seconds:.1f}s",
        f"  feeds polled {summary.feeds_polled} (failed {summary.feeds_failed})",
        f"  entries seen {summary.entries_seen} = new {summary.articles_new} + already seen {summary.duplicates}"
        f" + quarantined {summary.quarantined}" + (f"  ({summary.deferred} deferred to the next cycle)" if summary.deferred else ""),
        *(details or []),
    ] + ([f"  {summary.message}"] if summary.message else [])]
