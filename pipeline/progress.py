"""How a cycle tells its operator where it is: a small protocol the pipeline calls, whatever displays it.

Why a protocol: the pipeline must not know whether a terminal, a log file or nothing at all is watching.
It says when a stage starts (with how many items it will handle), when items are done, and when the stage
ends (with a one-line account); ``flows/`` picks the display (progress bars on a terminal, one line per
stage otherwise). Every method is called from worker threads too, so implementations are thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from newswatch.terminal import printable


class Progress(Protocol):
    def start(self, stage: str, total: int | None) -> None:
        """``stage`` begins and will handle ``total`` items (``None``: unknown)."""

    def advance(self, stage: str, n: int = 1) -> None:
        """``n`` more items of ``stage`` are done."""

    def finish(self, stage: str, account: str) -> None:
        """``stage`` ended; ``account`` says what it did (``212 feeds (3 failed)``), without its duration."""


class NoProgress:
    """Reports nothing (library callers, tests, Dask workers)."""

    def start(self, stage: str, total: int | None) -> None:
        pass

    def advance(self, stage: str, n: int = 1) -> None:
        pass

    def finish(self, stage: str, account: str) -> None:
        pass


NO_PROGRESS: Progress = NoProgress()


class StageLines:
    """One line per stage as it ends, with its duration: ``poll: 212 feeds (3 failed) in 4.1s``.

    For logs, pipes and ``serve``: no control sequences, and the account is escaped like every printed line
    (it may carry counts only today, but a stage could one day name a feed).
    """

    def __init__(self, write: Callable[[str], None], prefix: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self._write = write
        self._prefix = prefix
        self._clock = clock
        self._started: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self, stage: str, total: int | None) -> None:
        with self._lock:
            self._started[stage] = self._clock()

    def advance(self, stage: str, n: int = 1) -> None:
        pass

    def finish(self, stage: str, account: str) -> None:
        with self._lock:
            began = self._started.pop(stage, None)
        took = f" in {self._clock() - began:.1f}s" if began is not None else ""
        self._write(printable(f"{self._prefix}{stage}: {account}{took}", multiline=False))
