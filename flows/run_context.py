"""What one in-process cycle shares with its tasks without passing it as a task parameter.

Why a module of its own: ``serve``'s runner loads the flow module from its entrypoint and pickles the flow
by value, globals included, and a ``ContextVar`` cannot be pickled. Reached as attributes of this module,
which is pickled by name, the variables stay behind; the cycle subprocess imports its own.
"""

from __future__ import annotations

from contextvars import ContextVar

from pipeline.progress import NO_PROGRESS, Progress

# The display of the cycle running in this context (a terminal's bars, stage lines, nothing). Prefect would
# hash and record a task parameter; its task threads see context variables.
progress: ContextVar[Progress] = ContextVar("newswatch_progress", default=NO_PROGRESS)
# The task runs of this run that reached a final state here, so that the end of a run can wait until the
# API server has recorded them (``flows.cycle._await_recorded_task_runs``); None: nobody waits.
finished_task_runs: ContextVar[set[str] | None] = ContextVar("newswatch_finished_task_runs", default=None)
