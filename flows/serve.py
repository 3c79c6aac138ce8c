"""``newswatch serve``: the cycle on the configured schedule, by Prefect's scheduler, until stopped.

Why a server of our own: Prefect's ephemeral mode does not schedule (``flow.serve`` there only warns
"Cannot schedule flows on an ephemeral server"; docs/stack-notes.md#ephemeral-and-dedicated-servers). Unless ``PREFECT_API_URL`` points at
an existing server, ``serve`` starts ``prefect server start`` on 127.0.0.1 (UI off, its SQLite next to
the warehouse, old runs vacuumed), waits for it to be healthy, serves the deployment, and stops the
server when it exits.

Three processes: ``serve`` itself is a small supervisor; Prefect's runner runs in a child process in a
session of its own, and starts each cycle in a subprocess of its own (so nothing grows over months).
Why the split: Ctrl-C in a terminal signals the whole foreground process group. With the runner and
its cycles in the same group, every process died at once with its own traceback. Now only ``serve``
sees Ctrl-C or SIGTERM; it asks the runner to stop (SIGTERM: the runner starts no new cycle and lets
the one in flight finish for up to ``CYCLE_FINISH_SECONDS``; a second signal abandons it), waits, kills
whatever is left of the runner's process group, then stops the server. Children get
SIGTERM if ``serve`` dies (``PR_SET_PDEATHSIG``), so even ``kill -9`` leaves no server or runner behind.

No overlap: the runner executes at most one cycle at a time (``limit=1``), so a slow cycle delays the
next instead of overlapping it; the warehouse's cycle lock (``pipeline/runlock.py``) also keeps a
manual ``newswatch run`` from running beside it, and a second ``serve`` on one warehouse is refused.
Nothing is lost when a cycle is abandoned: a cycle writes in one transaction at its end, and the next
cycle redoes whatever was not committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flows.local_api import LocalPrefectServer, kill_group, tied_to_parent
from newswatch.config import Settings
from newswatch.errors import FatalError
from pipeline.runlock import cycle_lock, serve_lock

# On a stop, how long a cycle in flight may take to finish before it is abandoned. A routine cycle (a
# few new articles per feed) takes seconds; a first cycle or a backlog can take minutes and is then
# abandoned rather than holding up a restart (the next cycle redoes it). Abandoning means SIGTERM in
# the middle of DuckDB or HTTP calls, which Prefect logs as errors with tracebacks: finishing is quiet.
CYCLE_FINISH_SECONDS = 30.0
# How long the runner gets to stop: the cycle's grace, then cancelling it (measured: 2-8 s, its pool
# included) and closing Prefect's client. After that ``serve`` kills the runner's process group.
RUNNER_STOP_SECONDS = CYCLE_FINISH_SECONDS + 45.0
# How often ``serve`` delivers from the outbox between cycles: a retry due "in a minute" or a digest whose
# window closed goes out within this long, not at the next cycle (15 minutes by default).
DELIVERY_EVERY_SECONDS = 20.0


class StopRequested(BaseException):
    """SIGTERM/SIGINT arrived while ``serve`` was starting up."""


class _StopFlag:
    """SIGTERM and SIGINT both mean "stop": the first lets a cycle in flight finish, the second abandons it.

    The handler only counts; the main loop acts on the count.
    """

    def __init__(self) -> None:
        self.count = 0
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1

    @property
    def asked(self) -> bool:
        return self.count > 0

    def check(self) -> None:
        if self.asked:
            raise StopRequested


def schedule_kwargs(settings: Settings) -> dict[str, Any]:
    """The runner's schedule from the config: ``cron``, else ``every_minutes`` (default 15)."""
    if settings.schedule.cron:
        return {"cron": settings.schedule.cron}
    return {"interval": timedelta(minutes=settings.schedule.every_minutes or 15)}


def poll_lookahead(settings: Settings) -> timedelta:
    """How far past a cycle's start a feed may fall due and still be polled by that cycle.

    Half the interval: a feed due in the first half of the interval is nearer this cycle than the
    next, so it is polled at most half an interval early instead of up to a whole interval late (a busy
    feed under ``every_minutes: 1`` no longer skips a cycle). Under ``cron`` the gap between cycles
    varies, so nothing is polled early.
    """
    if settings.schedule.cron:
        return timedelta(0)
    return timedelta(minutes=settings.schedule.every_minutes or 15) / 2


def next_slot(settings: Settings, now: datetime) -> datetime | None:
    """When the schedule's next cycle is due after ``now`` (None for cron: said as the expression)."""
    if settings.schedule.cron:
        return None
    step = timedelta(minutes=settings.schedule.every_minutes or 15)
    anchor = datetime(2020, 1, 1, tzinfo=UTC)  # Prefect's interval schedules align on this anchor
    return anchor + step * (int((now - anchor) / step) + 1)


def delivery_round(config_path: str) -> int:
    """One delivery between cycles: send what is due, unless a cycle holds the warehouse (it delivers
    itself). Returns how many were delivered.

    Raises:
        ConfigError: the config no longer loads (the next cycle reports it too).
    """
    from pipeline.delivery import deliver_alerts
    from pipeline.settings import load_settings

    settings = load_settings(config_path)
    if not settings.alerts and not settings.operator.notify:
        return 0
    try:
        with cycle_lock(settings.warehouse.path, wait_seconds=0):  # one writer at a time
            return deliver_alerts(settings)
    except FatalError as e:
        if e.reason == "cycle_running":
            return 0
        raise


def _delivery_loop(config_path: str, stopping: Any) -> None:
    """``delivery_round`` every ``DELIVERY_EVERY_SECONDS`` until ``stopping`` is set; a failure is printed and
    counted, and the loop goes on (delivery is retried; the outbox keeps everything)."""
    import logging

    from newswatch.secrets import redacted

    failures = 0
    while not stopping.wait(DELIVERY_EVERY_SECONDS):
        try:
            n = delivery_round(config_path)
            if n:
                print(f"newswatch serve: delivered {n} alert(s) between cycles", flush=True)
        except Exception as e:  # noqa: BLE001 - a broken delivery must not stop serve; it is reported
            failures += 1
            logging.getLogger("newswatch.serve").warning("delivery between cycles failed (%d so far): %s",
                                                         failures, redacted(str(e)))
            print(f"newswatch serve: delivery between cycles failed ({failures} so far): {redacted(str(e))}",
                  file=sys.stderr, flush=True)


def _prepare_warehouse(settings: Settings) -> None:
    """Before the first cycle: migrate, compact the file if it is mostly free space, publish the lake.

    A lake version from the start means analysts never fall back to the live file (a warehouse from before
    the lake gets its first, full publication here). Compaction gives back
    the space retention freed (DuckDB never shrinks a file by itself); restarting ``serve`` is how an
    operator reclaims it. Skipped when a cycle (a manual ``newswatch run``) holds the lock.
    """
    from warehouse import db
    from warehouse.lake import LakePaths, publish_lake
    from warehouse.retention import compact_in_place, file_space
    from warehouse.snapshot import publish_snapshot, snapshot_path

    path = settings.warehouse.path
    lake = LakePaths.beside(path, settings.warehouse.lake_dir)
    try:
        with cycle_lock(path, wait_seconds=0):
            with db.writer(path) as con:  # creates and migrates; closing checkpoints it
                space = file_space(con)
                if not lake.manifest.exists():
                    publish_lake(con, lake)
            compacted = False
            if space.worth_compacting:
                t0 = time.monotonic()
                before, after = compact_in_place(path)
                compacted = True
                print(f"newswatch serve: compacted the warehouse {before / 2**20:.0f} MB -> {after / 2**20:.0f} MB "
                      f"in {time.monotonic() - t0:.1f}s", flush=True)
            if settings.warehouse.snapshot_copy and (
                    compacted or not snapshot_path(path, settings.warehouse.snapshot_dir).exists()):
                publish_snapshot(path, settings.warehouse.snapshot_dir)
    except FatalError as e:
        if e.reason != "cycle_running":
            raise


def serve(settings: Settings, config_path: Path) -> int:
    """Serve the cycle until SIGTERM/SIGINT.

    Returns:
        0 after a requested stop; the runner's exit code (non-zero) if it died on its own, so that a
        supervisor such as systemd restarts ``serve``.

    Raises:
        FatalError: another ``serve`` holds this warehouse, or the local Prefect server did not start.
    """
    stop = _StopFlag()
    server: LocalPrefectServer | None = None
    runner: subprocess.Popen[bytes] | None = None
    code = 0
    started = False  # only a serve that got the warehouse says it stopped (a refused one never started)
    try:
        with serve_lock(settings.warehouse.path):
            started = True
            env = dict(os.environ)
            if not env.get("PREFECT_API_URL"):
                home = Path(settings.warehouse.path).resolve().parent / "prefect"
                print(f"newswatch serve: starting a local Prefect server (state in {home}) ...", flush=True)
                server = LocalPrefectServer(home).start(stop)
                env["PREFECT_API_URL"] = server.api_url
            stop.check()
            every = settings.schedule.cron or f"every {settings.schedule.every_minutes} min"
            print(f"newswatch serve: {len(settings.feeds)} feeds, schedule {every}, API {env['PREFECT_API_URL']}",
                  flush=True)
            runner = subprocess.Popen(
                tied_to_parent(f"from flows.serve import run_runner\nsys.exit(run_runner({str(config_path.resolve())!r}))"),
                env=env, start_new_session=True,
            )
            while runner.poll() is None and not stop.asked:
                time.sleep(0.2)
            if runner.poll() is not None and not stop.asked:
                code = runner.returncode or 1
                print(f"newswatch serve: the runner exited with {runner.returncode}", file=sys.stderr, flush=True)
    except StopRequested:
        pass
    finally:
        if runner is not None:
            _stop_runner(runner, stop)
        if server is not None:
            server.stop()
        if started:
            print("newswatch serve: stopped", flush=True)
    return code


def _stop_runner(runner: subprocess.Popen[bytes], stop: _StopFlag) -> None:
    """Stop the runner: SIGTERM (it lets the cycle in flight finish for up to ``CYCLE_FINISH_SECONDS``),
    a second SIGTERM if we get a second signal (it abandons the cycle), then kill what is left."""
    if runner.poll() is None:
        print(f"newswatch serve: stopping (a cycle in flight gets {CYCLE_FINISH_SECONDS:.0f}s to finish; "
              "signal again to abandon it)", flush=True)
        runner.send_signal(signal.SIGTERM)
        relayed = 1
        deadline = time.monotonic() + RUNNER_STOP_SECONDS
        while runner.poll() is None and time.monotonic() < deadline:
            if stop.count > relayed and relayed < 2:
                runner.send_signal(signal.SIGTERM)
                relayed = 2
            time.sleep(0.1)
        if runner.poll() is None:
            print("newswatch serve: the runner did not stop in time; killing it", file=sys.stderr, flush=True)
    kill_group(runner.pid, signal.SIGKILL)  # a cycle subprocess or pool worker that outlived the runner
    runner.wait()


def run_runner(config_path: str) -> int:
    """The runner process: serve ``newswatch_cycle`` on the configured schedule until SIGTERM. Returns 0."""
    signal.signal(signal.SIGTERM, _stop_before_runner)
    # Cycle subprocesses inherit "ignore SIGINT": only SIGTERM from the runner stops them, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import asyncio

        from prefect.runner import Runner
        from prefect.types.entrypoint import EntrypointType

        from flows.cycle import newswatch_cycle
        from pipeline.settings import load_settings

        class _Runner(Runner):
            """Prefect's runner, stopped in two steps and never with ``sys.exit`` from a signal handler.

            First SIGTERM: submit no new run, let the one in flight finish (up to ``CYCLE_FINISH_SECONDS``),
            then stop. Second SIGTERM: stop now, cancelling the run in flight (Prefect's own behaviour).

            Public API throughout, but for one attribute: Prefect's runner has no public way to stop
            submitting runs while letting the one in flight finish (``astop`` does both at once, cancelling
            it), so ``_finish_then_stop`` sets ``stopping`` on the runner's scheduled-run poller, as
            ``astop`` itself does, through ``getattr`` (should an upgrade rename it, the stop only comes
            sooner: ``astop`` after the run in flight, or at the deadline).
            """

            signals = 0

            def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
                self.signals += 1
                if self.signals == 1:
                    _arm_stop_deadline()
                if not self.started:  # (the runner's event loop exists once it has started)
                    raise StopRequested
                if self.signals == 1:
                    self.execute_in_background(self._finish_then_stop)
                elif not self.stopping:
                    self.stopping = True
                    self.execute_in_background(self.astop)

            def _run_in_flight(self) -> bool:
                # The runner's one slot (limit=1) is taken from submission until the cycle's process exits.
                return not self.has_slots_available()

            async def _finish_then_stop(self) -> None:
                poller = getattr(self, "_scheduled_run_poller", None)
                if poller is not None:
                    poller.stopping = True  # no new runs from now on
                deadline = time.monotonic() + CYCLE_FINISH_SECONDS
                while self._run_in_flight() and time.monotonic() < deadline and not self.stopping:
                    await asyncio.sleep(0.2)
                if not self.stopping:
                    self.stopping = True
                    await self.astop()

        settings = load_settings(config_path)
        _prepare_warehouse(settings)
        runner = _Runner(name="newswatch", limit=1, pause_on_shutdown=False)
        deployment_id = runner.add_flow(
            newswatch_cycle,
            name="newswatch",
            parameters={"config_path": config_path, "respect_schedule": True,
                        "lookahead_seconds": poll_lookahead(settings).total_seconds()},
            entrypoint_type=EntrypointType.MODULE_PATH,
            **schedule_kwargs(settings),
        )
        _first_cycle_now(deployment_id, settings)
        import threading

        stopping = threading.Event()
        threading.Thread(target=_delivery_loop, args=(config_path, stopping), name="delivery", daemon=True).start()
        try:
            asyncio.run(runner.start(webserver=False))
        finally:
            stopping.set()
    except StopRequested:
        pass
    return 0


def _first_cycle_now(deployment_id: Any, settings: Settings) -> None:
    """Queue a cycle for right now: a schedule's first slot may be most of an interval away."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        client.create_flow_run_from_deployment(deployment_id, tags=["start-up"])
    due = next_slot(settings, datetime.now(UTC))
    then = f"next on schedule at {due:%Y-%m-%d %H:%M:%S} UTC" if due else f"then on cron {settings.schedule.cron!r}"
    print(f"newswatch serve: first cycle now, {then}; alerts due between cycles go out within "
          f"{DELIVERY_EVERY_SECONDS:.0f}s", flush=True)


def _stop_before_runner(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _arm_stop_deadline()
    raise StopRequested


def _arm_stop_deadline() -> None:
    """Kill the runner's whole process group if a graceful stop has not finished in time.

    Why: a graceful stop talks to the Prefect API (cancel the run, report states). If the API is gone
    too (``serve`` was killed with ``-9`` and its server died with it), those calls retry for minutes;
    the runner, the cycle in flight and its pool must still go. The warehouse is safe: a cycle killed
    before its one commit leaves the previous state.
    """
    import threading

    def kill() -> None:
        if os.getpgid(0) == os.getpid():  # our own group (serve starts us in a new session): take the cycle along
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    timer = threading.Timer(CYCLE_FINISH_SECONDS + 30.0, kill)
    timer.daemon = True
    timer.start()
