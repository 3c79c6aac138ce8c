"""Progress of ``newswatch run`` and ``demo`` on a terminal (rich bars), one line per stage anywhere else.

Why rich: it is already installed (Prefect's console output uses it) and it is the ecosystem's usual
progress display; its bars are transient, so they vanish before the end summary is printed. Only fixed
stage names reach the display, never text from a feed, so nothing third-party can drive the terminal.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from pipeline.progress import NO_PROGRESS, Progress, StageLines

# What each bar counts, in the order the stages run (load and deliver are single steps: lines only).
BAR_LABELS = {"poll": "feeds polled", "fetch": "pages fetched", "process": "pages processed"}


class TerminalProgress:
    """Rich bars with a rate and an estimate of the time left, one per counted stage."""

    def __init__(self, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(file=stream, highlight=False, markup=False, emoji=False)
        self._bars = Progress(TextColumn("{task.description:>16}"), BarColumn(), MofNCompleteColumn(),
                              TextColumn("{task.fields[rate]:>8}"), TextColumn("ETA"), TimeRemainingColumn(),
                              console=console, transient=True, redirect_stdout=False, redirect_stderr=False)
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> TerminalProgress:
        self._bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.stop()

    def start(self, stage: str, total: int | None) -> None:
        if stage not in BAR_LABELS:
            return
        with self._lock:
            self._tasks[stage] = self._bars.add_task(BAR_LABELS[stage], total=total, rate="")

    def advance(self, stage: str, n: int = 1) -> None:
        with self._lock:
            task = self._tasks.get(stage)
            if task is None:
                return
            self._bars.advance(task, n)
            speed = self._bars.tasks[self._bars.task_ids.index(task)].speed
            self._bars.update(task, rate=f"{speed:.1f}/s" if speed else "")

    def finish(self, stage: str, account: str) -> None:
        with self._lock:
            task = self._tasks.get(stage)
            if task is not None:
                t = self._bars.tasks[self._bars.task_ids.index(task)]
                self._bars.update(task, completed=t.total if t.total is not None else t.completed)


@contextmanager
def cycle_progress(stream: IO[str] | None = None, *, enabled: bool = True) -> Iterator[Progress]:
    """The display for one cycle on ``stream`` (stderr): bars when it is a terminal, else stage lines.

    ``enabled=False``: nothing (a caller that prints its own account).
    """
    stream = stream if stream is not None else sys.stderr
    if not enabled:
        yield NO_PROGRESS
        return
    if _is_terminal(stream):
        with TerminalProgress(stream) as bars:
            yield bars
        return
    yield StageLines(lambda line: print(line, file=stream, flush=True))


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
