"""The one boundary around every unit of third-party work: any exception becomes that item's outcome.

Why: the stages catch the errors they anticipate (``ItemError``, ``RetriableError``), but a hostile
publisher finds the ones nobody anticipated (an ``OverflowError`` in a date parser, a ``TypeError`` on a
field of the wrong type, a codec that is not a text encoding). Raised from a feed poll, a page or an
article, such an exception used to abort the whole cycle before the load, so nothing was committed,
the feed never backed off and every later cycle failed the same way. ``guarded`` runs one item's work
and turns anything it raises into a ``Rejection`` with the stable reason ``internal_error`` (the
exception type and a masked traceback in its message), or ``too_slow`` when the item overran its time
budget; the cycle then loads everything else. Bugs stay visible: ``internal_error_records`` groups the
cycle's internal errors so each distinct one is logged once with its traceback, counted in the run and
reported to the operator.

Not caught: ``KeyboardInterrupt``/``SystemExit`` (they are not ``Exception``s), ``MemoryError`` (the
process is in trouble, not the item) and ``FatalError`` (the run cannot go on: config, database).
"""

from __future__ import annotations

import ctypes
import re
import signal
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from newswatch import secrets
from newswatch.errors import INTERNAL_ERROR, TOO_SLOW, FatalError
from newswatch.models import Rejection

T = TypeVar("T")

# Room for the exception line and the innermost frames within quarantine.message (capped at 2,000).
_MESSAGE_CHARS = 1900
_HEAD_CHARS = 400
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


class TooSlow(BaseException):  # noqa: N818 - a signal, not an error
    """Raised into an item's work when its budget runs out.

    A ``BaseException`` on purpose: parsers and extractors are full of ``except Exception``, which would
    otherwise swallow the budget and carry on.
    """


def internal_message(exc: BaseException) -> str:
    """``internal_error: <Type>: <text>`` then the innermost part of the traceback, secrets masked."""
    head = f"{INTERNAL_ERROR}: {type(exc).__name__}: {exc}"[:_HEAD_CHARS]
    tb = "".join(traceback.format_exception(exc))
    room = _MESSAGE_CHARS - len(head) - 1
    return secrets.redacted(head + "\n" + (tb if len(tb) <= room else "..." + tb[-(room - 3):]))


@contextmanager
def item_budget(seconds: float | None) -> Iterator[None]:
    """Raise ``TooSlow`` into the body once it has run for ``seconds`` of wall time (None/0: no limit).

    In a process's main thread (the local pool's workers) a ``SIGALRM`` timer, which also interrupts
    sleeps and blocking reads; in any other thread (a Dask worker's) an asynchronous exception set
    from a timer thread. Both act between Python bytecodes only: code stuck inside one C call
    (a regex, lxml, spaCy) is not interrupted, which is why the parent also watches each chunk
    (``pipeline.workers.processed_chunk``). Budgets do not nest.
    """
    if not seconds or seconds <= 0:
        yield
        return
    if threading.current_thread() is threading.main_thread():
        def on_alarm(signum: int, frame: object) -> None:
            raise TooSlow(seconds)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    tid = threading.get_ident()
    lock, done = threading.Lock(), threading.Event()
    state = {"active": True, "fired": False}

    def expire() -> None:
        if done.wait(seconds):
            return
        with lock:
            if state["active"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), ctypes.py_object(TooSlow))

    threading.Thread(target=expire, name="item-budget", daemon=True).start()
    try:
        yield
    finally:
        done.set()
        with lock:
            state["active"] = False
            if state["fired"]:  # not raised yet (the body finished in the meantime): cancel it
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid), None)


def guarded(stage: str, item_key: str, url: str, work: Callable[[], T], *, seconds: float | None = None) -> T | Rejection:
    """``work()``'s result, or the ``Rejection`` of this item when it raised anything unexpected or overran.

    ``work`` handles the errors it anticipates itself (and returns them as outcomes); whatever else it
    raises is a bug, recorded as ``internal_error`` for this one item.
    """
    try:
        with item_budget(seconds):
            return work()
    except TooSlow:
        return too_slow(stage, item_key, url, seconds)
    except (MemoryError, FatalError):
        raise
    except Exception as e:
        return Rejection(stage, item_key, url, INTERNAL_ERROR, internal_message(e))


def too_slow(stage: str, item_key: str, url: str, seconds: float | None) -> Rejection:
    """The outcome of an item abandoned for overrunning its budget."""
    return Rejection(stage, item_key, url, TOO_SLOW, f"too_slow: abandoned after its budget of {seconds or 0:g} s")


@dataclass(frozen=True, slots=True)
class InternalErrorRecord:
    """One distinct internal error of a cycle: where it was raised, how often, and one full message."""

    stage: str
    error_type: str
    location: str
    count: int
    example_url: str
    message: str


def internal_error_records(rejections: Iterable[Rejection]) -> list[InternalErrorRecord]:
    """The cycle's internal errors, one record per (stage, exception type, innermost frame).

    Why grouped: one bug hit by 500 items must be one log record with its traceback, not 500.
    """
    groups: dict[tuple[str, str, str], list[Rejection]] = {}
    for r in rejections:
        if r.reason != INTERNAL_ERROR:
            continue
        head = r.message.split("\n", 1)[0]
        error_type = head.removeprefix(f"{INTERNAL_ERROR}: ").split(":", 1)[0]
        frames = _FRAME.findall(r.message)
        location = f"{frames[-1][0]}:{frames[-1][1]} in {frames[-1][2]}" if frames else "?"
        groups.setdefault((r.stage, error_type, location), []).append(r)
    return [InternalErrorRecord(stage, etype, loc, len(rs), rs[0].url, rs[0].message)
            for (stage, etype, loc), rs in groups.items()]
