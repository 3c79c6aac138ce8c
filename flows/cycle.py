"""The poll cycle as one Prefect flow run, with coarse tasks (one per stage or chunk, never per article).

Why: a Prefect task costs ~10 ms and ~20 KB of orchestration state (docs/stack-notes.md#tasks-are-coarse), so tasks work on
batches: poll all feeds, fetch all pages, process chunks of pages (on the local process pool or on
Dask workers), then one writer task. The flow's final state is decided explicitly from the cycle's
counts: a cycle fails only on a fatal error or when too many feeds failed.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any, Generic, TypeVar, cast

from prefect import flow, get_run_logger, task
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_serializer

from extract.http import HttpClient
from flows import run_context
from flows.local_api import LocalPrefectServer
from newswatch.config import Settings
from newswatch.errors import FatalError
from newswatch.faults import crash_point
from newswatch.secrets import redacted
from pipeline import cycle
from pipeline.cycle import CycleSummary
from pipeline.delivery import DeliveryReport, delivery_report
from pipeline.progress import NO_PROGRESS, NoProgress, Progress, StageLines
from pipeline.runlock import cycle_lock
from pipeline.settings import load_settings
from pipeline.workers import (
    default_processes,
    local_pool_spec,
    processed_chunk,
    processed_jobs,
    processing_plan,
    shutdown_pool,
    started_pool,
)

T = TypeVar("T")


def _quoted(value: T) -> T:
    """``value`` wrapped in Prefect's ``quote`` (Prefect unwraps it before the task runs), typed as what the
    task receives."""
    return cast(T, quote(value))


# How long the end of a run waits for Prefect's queued logs and events to reach our own API server
# (normally well under a second; Prefect's own exit drain allows 5 s for logs too).
DRAIN_SECONDS = 5.0
# Pages per processing task: big enough that the ~10 ms task overhead is <1% of the ~0.3 s of CPU a
# chunk of 16 pages costs, small enough that two workers stay busy until the end of a small cycle.
CHUNK_SIZE = 16
# How often the end of a run asks the API server whether it has recorded the run's task runs.
RECORDED_POLL_SECONDS = 0.02
_FINAL_STATE_TYPES = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


@task(name="begin-cycle")
def begin_task(settings: Settings, respect_schedule: bool,
               lookahead_seconds: float = 0.0) -> tuple[str, list[cycle.FeedTarget]]:
    return cycle.begin_cycle(settings, respect_schedule=respect_schedule, lookahead=timedelta(seconds=lookahead_seconds))


@task(name="poll-feeds")
def poll_task(settings: Settings, targets: list[cycle.FeedTarget]) -> list[cycle.FeedPoll]:
    with HttpClient(cycle.fetch_policy(settings)) as client:
        return cycle.polled_feeds(settings, targets, client, run_context.progress.get())


@task(name="plan-items")
def plan_task(settings: Settings, polls: list[cycle.FeedPoll]) -> cycle.Plan:
    return cycle.planned_items(settings, polls)


@task(name="fetch-pages")
def fetch_task(settings: Settings, candidates: list[cycle.Candidate]) -> tuple[list[Any], list[Any]]:
    with HttpClient(cycle.fetch_policy(settings)) as client:
        return cycle.fetched_jobs(settings, candidates, client, run_context.progress.get())


@task(name="process-pages")
def process_task(jobs: list[cycle.PageJob], model: str | None, queries: dict[str, Any], local_processes: int,
                 item_seconds: float) -> list[cycle.Processed]:
    """Extract + clean + NLP + topics for one chunk: on the local pool (under the parent's watchdog), or
    in-process on a Dask worker (the in-worker budget only)."""
    if local_processes:
        return processed_chunk(jobs, model, queries, local_processes, item_seconds)
    return processed_jobs(jobs, model, queries, item_seconds)


@task(name="load")
def load_task(settings: Settings, run_id: str, polls: list[cycle.FeedPoll], plan: cycle.Plan,
              processed: list[cycle.Processed], rejections: list[Any]) -> cycle.LoadCounts:
    return cycle.load_cycle(settings, run_id, polls, plan, processed, rejections)


@task(name="deliver-alerts")
def deliver_task(settings: Settings) -> DeliveryReport:
    """Send what the outbox holds (after the load committed); returns how many were delivered.

    A failure here must not fail a cycle whose load has committed: the outbox keeps the alerts and the
    next cycle sends them, so a locked warehouse or a bug in delivery is logged and the cycle goes on.
    """
    try:
        return delivery_report(settings)
    except FatalError as e:
        get_run_logger().error("alert delivery postponed: %s", redacted(str(e)))
        return DeliveryReport()


@task(name="finish")
def finish_task(settings: Settings, run_id: str, summary: CycleSummary, started: float) -> CycleSummary:
    return cycle.finish_cycle(settings, run_id, summary, started=started)


def _note_finished(task: Any, task_run: Any, state: Any) -> None:
    if (finished := run_context.finished_task_runs.get()) is not None:
        finished.add(str(task_run.id))


for _t in (begin_task, poll_task, plan_task, fetch_task, process_task, load_task, deliver_task, finish_task):
    _t.on_completion(_note_finished)
    _t.on_failure(_note_finished)


def _api_for_workers() -> Any:
    """Settings that give Dask workers this flow run's Prefect API, even when it is the ephemeral one.

    Why: task runs on a Dask worker report to the API named in the settings shipped with them; with no
    ``PREFECT_API_URL`` set, every worker process started an ephemeral API server of its own (measured:
    one more uvicorn per worker, ~220 MB each, on the same SQLite file; a 40-article cycle took 40.6 s
    instead of 23.4 s).
    """
    from prefect.context import get_run_context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    return temporary_settings(updates={PREFECT_API_URL: str(get_run_context().client.api_url)})


def task_runner_for(settings: Settings) -> Any:
    """Threads for the local runner (bounded: docs/stack-notes.md#tasks-are-coarse), ``DaskTaskRunner`` when configured."""
    if settings.runner.kind == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.runner.dask_address:
            return DaskTaskRunner(address=settings.runner.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": settings.runner.dask_workers, "threads_per_worker": 1,
                                              "processes": True})
    return ThreadPoolTaskRunner(max_workers=default_processes() + 2)


def _as_is(x: Any) -> Any:
    return x


def _cycle_body(settings: Settings, respect_schedule: bool = False, lookahead_seconds: float = 0.0) -> Any:
    clock = cycle.StageClock()
    lap = clock.lap
    progress = run_context.progress.get()
    run_id, targets = begin_task(settings, respect_schedule, lookahead_seconds)
    lap("begin")
    progress.start("poll", len(targets))
    polls = poll_task(settings, targets)
    progress.finish("poll", f"{len(polls)} feeds ({cycle.feeds_failed(polls)} failed)")
    lap("poll")
    # quote(): Prefect would otherwise walk every object of these inputs looking for futures, which costs
    # ~7 ms of wall time per article of the cycle (measured); they hold no futures. (For
    # process_task only on the local runner: on Dask the quote would reach the task unresolved.)
    plan = plan_task(settings, _quoted(polls))
    lap("plan")
    how = processing_plan(settings)
    if how.pool and plan.candidates:
        started_pool(*how.pool)  # the workers load spaCy while the pages download
    progress.start("fetch", len(plan.candidates))
    jobs, fetch_rejections = fetch_task(settings, _quoted(plan.candidates))
    progress.finish("fetch", f"{len(plan.candidates)} pages ({len(fetch_rejections)} failed), "
                             f"{len(plan.known) + len(plan.duplicates)} items already seen")
    lap("fetch")
    inputs = _quoted if how.local_processes else _as_is
    futures = [process_task.submit(inputs(chunk), how.model, inputs(how.queries), how.local_processes, how.item_seconds)
               for chunk in cycle.chunked(jobs, CHUNK_SIZE, how.chunk_workers)]
    processed: list[cycle.Processed] = []
    progress.start("process", len(jobs))
    for f in futures:
        done = f.result()
        processed += done
        progress.advance("process", len(done))
        crash_point("during_extraction")
    progress.finish("process", f"{len(processed)} pages ({sum(p.rejection is not None for p in processed)} quarantined)")
    lap("process")
    progress.start("load", None)
    counts = load_task(settings, run_id, _quoted(polls), _quoted(plan), _quoted(processed), _quoted(fetch_rejections))
    progress.finish("load", f"{counts.loaded} new articles, {counts.duplicates} already seen, "
                            f"{counts.quarantined} quarantined")
    lap("load")
    clock.split("load", counts.stage_seconds)
    progress.start("deliver", None)
    report = deliver_task(settings)
    progress.finish("deliver", f"{report.delivered} alerts sent")
    lap("deliver")
    clock.split("deliver", {"feed_health": report.feed_health_seconds})
    summary = cycle.cycle_summary(run_id, polls, plan, counts, seconds=time.monotonic() - clock.started,
                                  max_failure_ratio=settings.runner.max_failure_ratio)
    summary = replace(summary, stage_seconds=clock.in_order())
    return finish_task(settings, run_id, summary, clock.started)


class Withheld(BaseModel, Generic[T]):
    """A flow-run parameter whose value Prefect never stores: it is recorded as ``"<withheld>"``.

    Why: Prefect stores every flow run's parameters in its database, encoded with fastapi's
    ``jsonable_encoder`` (``Flow.serialize_parameters``), and ``Settings`` carry the secrets expanded
    from the environment. A model without fields keeps the value in a private attribute, which that
    encoding (through the serializer below) never reads, and which Prefect's resolution of a run's
    inputs (``visit_collection``) carries over without walking into it.
    """

    model_config = ConfigDict(frozen=True)
    _value: Any = PrivateAttr()

    @classmethod
    def of(cls, value: T) -> Withheld[T]:
        held = cls()
        held._value = value
        return held

    @property
    def value(self) -> T:
        return cast(T, self._value)

    @model_serializer
    def _placeholder(self) -> str:
        return "<withheld>"


# persist_result=False here and below: the summary travels back as the final state's data, which then
# stays in this process (Prefect sends a state's data to its API only as the address of a persisted result).
@flow(name="newswatch-dask-cycle", validate_parameters=False, persist_result=False)
def _dask_cycle(settings: Withheld[Settings], respect_schedule: bool, lookahead_seconds: float = 0.0) -> CycleSummary:
    return _cycle_body(settings.value, respect_schedule, lookahead_seconds)


# Two threads more than worker processes: a chunk always waits in the pool, so a worker never idles
# (the cast: Prefect types a runner built outside a flow as ThreadPoolTaskRunner[Never])
# while Prefect records the previous chunk's task run (20-80 ms each, measured).
@flow(name="newswatch-cycle", task_runner=cast(Any, ThreadPoolTaskRunner(max_workers=default_processes() + 2)),
      validate_parameters=False, persist_result=False)
def newswatch_cycle(config_path: str | None = None, settings: Withheld[Settings] | None = None,
                    respect_schedule: bool = False, lookahead_seconds: float = 0.0) -> Any:
    """One poll cycle; its final state's data is the ``CycleSummary``. ``serve`` passes the config path and
    its schedule's lookahead (``flows.serve.poll_lookahead``); in-process callers pass the settings."""
    in_process = settings is not None
    settings_now = settings.value if settings is not None else load_settings(config_path)
    # serve: one line per stage beside the cycle line (isinstance: serve's runner ships this flow pickled by value)
    if respect_schedule and isinstance(run_context.progress.get(), NoProgress):
        run_context.progress.set(StageLines(lambda line: print(line, flush=True), prefix="newswatch "))
    return _run_locked_cycle(settings_now, in_process, respect_schedule, lookahead_seconds)


def _run_locked_cycle(settings: Settings, in_process: bool, respect_schedule: bool, lookahead_seconds: float) -> State[Any]:
    """Run one cycle under the warehouse's run lock; the flow run's final state, carrying the summary."""
    try:
        with cycle_lock(settings.warehouse.path):
            if settings.runner.kind == "dask":
                with _api_for_workers():
                    summary = _dask_cycle.with_options(task_runner=task_runner_for(settings))(
                        Withheld.of(settings), respect_schedule, lookahead_seconds)
            else:
                summary = _cycle_body(settings, respect_schedule, lookahead_seconds)
    finally:
        if not in_process:
            # A served run lives in a subprocess of its own that must be able to exit: its pool's idle
            # workers would otherwise keep it alive. In-process callers keep the pool for the next cycle.
            shutdown_pool()
    if respect_schedule:
        print(cycle_log_line(summary), flush=True)
    # The final state is decided here, from the counts: a failed feed or page is recorded, not fatal.
    if summary.status != "completed":
        return Failed(message=summary.message, data=summary)
    return Completed(message=f"{summary.articles_new} new articles", data=summary)


def cycle_log_line(s: CycleSummary) -> str:
    """The one line ``serve`` logs per cycle."""
    return (f"newswatch cycle {s.run_id} {s.status}: feeds={s.feeds_polled} failed={s.feeds_failed} "
            f"seen={s.entries_seen} new={s.articles_new} dup={s.duplicates} quarantined={s.quarantined} "
            f"deferred={s.deferred} internal_errors={s.internal_errors} in {s.seconds:.1f}s")


def run_cycle(settings: Settings, *, respect_schedule: bool = False, api: LocalPrefectServer | None = None,
              progress: Progress = NO_PROGRESS) -> CycleSummary:
    """Run one cycle as a Prefect flow run in this process and return its summary.

    ``progress``: told of each stage (``flows.progress_display.cycle_progress`` builds the CLI's).

    ``api``: an ephemeral server the caller launched early (``flows.local_api.early_ephemeral_api``);
    the flow reports to it unless Prefect's settings name another API. ``None``: Prefect's settings decide.
    """
    if (pool := local_pool_spec(settings)) is not None:  # the workers start while Prefect's API starts (3-4 s saved)
        started_pool(*pool)
    shown = run_context.progress.set(progress)
    try:
        with _reporting_to(api):
            state = cast(State[Any], newswatch_cycle(settings=Withheld.of(settings), respect_schedule=respect_schedule,
                                                     return_state=True))
    finally:
        run_context.progress.reset(shown)
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, CycleSummary):
        return summary
    state.result()  # re-raises the exception that crashed the flow
    raise RuntimeError(f"cycle flow ended in state {state.type} without a summary: {state.message}")


@contextmanager
def _reporting_to(api: LocalPrefectServer | None) -> Iterator[None]:
    """Point Prefect at ``api`` once it is healthy, unless Prefect's settings say otherwise.

    A profile (not just the environment, which the launcher checked) may name an API or forbid
    ephemeral servers; then the early server is stopped unused and Prefect's own choice stands.
    Heartbeats are off on the ephemeral server: they exist so a server can mark crashed runs, and this
    one dies with the run (they also cost up to 1 s at the end, joining the heartbeat thread).
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED, temporary_settings

    if api is None:
        yield
        return
    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        api.stop(wait=False)  # the caller's ``with`` reaps it; a server still starting is slow to stop
        yield
        return
    # Prefect imports these only when the flow starts (measured: 0.2 s);
    # importing them while the server is still starting takes that off the run's critical path.
    import fastapi.encoders  # noqa: F401
    import prefect.flow_engine  # noqa: F401
    import prefect.utilities.visualization  # noqa: F401  (graphviz, at the first task call)

    api.wait_healthy()
    finished: set[str] = set()
    noting = run_context.finished_task_runs.set(finished)
    with temporary_settings(updates={PREFECT_API_URL: api.api_url, "flows.heartbeat_frequency": None,
                                     "client.server_version_check_enabled": False}):
        try:
            yield
        finally:
            run_context.finished_task_runs.reset(noting)
            deadline = time.monotonic() + DRAIN_SECONDS
            _drain_prefect_services()
            _await_recorded_task_runs(api.api_url, finished, max(0.5, deadline - time.monotonic()))


def _await_recorded_task_runs(api_url: str, task_run_ids: set[str], timeout: float) -> bool:
    """Wait until the API server has recorded every one of ``task_run_ids`` in a final state; False on timeout.

    Why: the client sends task-run events without waiting for them to be processed, and the server's
    task-run recorder writes them to its database one by one after they arrive. Stopping the server while
    it still writes the last ones cancels that write, and Prefect logs the cancelled flush as an error
    with a 60-line ``CancelledError`` traceback (about one run in twelve on a busy machine). Once every
    task run of the run is recorded, the recorder is idle and stops cleanly.
    """
    if not task_run_ids:
        return True
    body = json.dumps({"task_runs": {"id": {"any_": sorted(task_run_ids)},
                                     "state": {"type": {"any_": list(_FINAL_STATE_TYPES)}}}}).encode()
    deadline = time.monotonic() + timeout
    while True:
        request = urllib.request.Request(f"{api_url}/task_runs/count", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=2) as r:  # noqa: S310 - our own loopback server
                if int(json.load(r)) >= len(task_run_ids):
                    return True
        except (OSError, ValueError, http.client.HTTPException):
            pass  # a busy server: ask again until the deadline
        if time.monotonic() >= deadline:
            logging.getLogger(__name__).warning(
                "Prefect's API had not recorded this run's %d task runs after %.0f s; stopping it anyway",
                len(task_run_ids), timeout)
            return False
        time.sleep(RECORDED_POLL_SECONDS)


def _drain_prefect_services(timeout: float = DRAIN_SECONDS) -> None:
    """Send the logs and events Prefect still queues, while the API that takes them is still up.

    Prefect drains these queues only at interpreter exit, when the caller has already stopped our
    server, so the last events of the run would go nowhere. Prefect's own test harness does the same:
    drain, then stop the server.
    """
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    deadline = time.monotonic() + timeout
    for service in (APILogWorker, EventsWorker):
        _, not_done = service.drain_all(timeout=max(0.0, deadline - time.monotonic()))  # type: ignore[misc]  # Prefect types drain_all as a coroutine; it returns a tuple here
        if not_done:
            logging.getLogger(__name__).warning(
                "Prefect's %s did not send everything in %.0f s; the rest of this run's %s is not in Prefect's API",
                service.__name__, timeout, "logs" if service is APILogWorker else "events")
