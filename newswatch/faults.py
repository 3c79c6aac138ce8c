"""Fault injection for crash and bulkhead tests, through the one ``NEWSWATCH_FAULT`` variable.

Why: the promises "a crash anywhere loses nothing" and "one bad item never stops the cycle" are only
worth something if tests break the real pipeline at the dangerous moments and check what was recorded.
The check is one dictionary lookup of an environment variable, so it costs nothing in production,
where the variable is never set.

Two forms, comma-separated when several are wanted in one cycle:
- ``<point>``: the process dies (like SIGKILL: no cleanup, exit status ``CRASH_EXIT_CODE``) at that point of
  the cycle or of alert delivery (``POINTS``).
- ``<action>:<stage>:<marker>``: when the item of ``stage`` (``STAGES``) whose URL contains ``marker``
  is handled, ``raise`` an ``InjectedFault`` (an unexpected exception, a stand-in for any bug),
  ``spin`` in pure Python (interruptible) or ``stall`` in one long C call with SIGALRM ignored (like
  code stuck in C, which no in-process timer can interrupt), each for ``STALL_SECONDS``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

POINTS = frozenset({
    "during_fetch",          # after some article pages were fetched, before extraction
    "during_extraction",     # inside a worker, while extracting a chunk
    "during_load",           # inside the load transaction, after the articles were inserted
    "exit_before_send",      # at the start of alert delivery, after the load committed
    "exit_after_send",       # after a channel accepted a message, before its row was settled
})
FAULT_ENV = "NEWSWATCH_FAULT"
CRASH_EXIT_CODE = 137  # what a SIGKILLed process reports, so supervisors and tests read it the same way

# The units of third-party work an item fault can hit: a feed poll (fetch + parse), a page fetch, a feed
# body's cleaning, a page's extraction/cleaning/topics, one article's NLP.
STAGES = frozenset({"poll", "fetch", "feed_body", "extract", "nlp"})
ACTIONS = frozenset({"raise", "spin", "stall"})
# Long enough to exceed any budget a test sets, short enough that a leaked worker goes away by itself.
STALL_SECONDS = 120.0


class InjectedFault(RuntimeError):
    """The unexpected exception ``raise:<stage>:<marker>`` provokes."""


def _faults() -> list[str]:
    value = os.environ.get(FAULT_ENV)
    return [f.strip() for f in value.split(",")] if value else []


def crash_point(point: str) -> None:
    """SIGKILL-equivalent exit (no cleanup; the standard streams are flushed so a test can read what was
    printed) when ``NEWSWATCH_FAULT`` names this point."""
    if point not in POINTS:
        raise ValueError(f"unknown crash point {point!r}")
    if point in _faults():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(CRASH_EXIT_CODE)


def fault_point(stage: str, subject: str) -> None:
    """Misbehave as ``NEWSWATCH_FAULT`` asks when handling ``subject`` (an item's URL) at ``stage``."""
    for fault in _faults():
        action, _, rest = fault.partition(":")
        where, _, marker = rest.partition(":")
        if action not in ACTIONS or where != stage or not marker or marker not in subject:
            continue
        if action == "raise":
            raise InjectedFault(f"injected fault at {stage} for {subject}")
        if action == "stall":
            # One long C call with the budget's SIGALRM ignored (blocking it in this thread is not enough:
            # the kernel hands it to another thread, and Python runs the handler here anyway).
            main = threading.current_thread() is threading.main_thread()
            previous = signal.signal(signal.SIGALRM, signal.SIG_IGN) if main else None
            try:
                time.sleep(STALL_SECONDS)
            finally:
                if main:
                    signal.signal(signal.SIGALRM, previous)
            return
        deadline = time.monotonic() + STALL_SECONDS
        while time.monotonic() < deadline:
            pass
