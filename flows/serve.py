"""``newswatch serve``: the cycle on the configured schedule, by Prefect's scheduler, until stopped.

Why a server of our own: Prefect's ephemeral mode does not schedule (``flow.serve`` there only warns
"Cannot schedule flows on an ephemeral server"; TECH-NOTES §1.1). Unless ``PREFECT_API_URL`` points at
an existing server, ``serve`` starts ``prefect server start`` on 127.0.0.1 (UI off, its SQLite next to
the warehouse, old runs vacuumed), waits for it to be healthy, serves the deployment, and stops the
server when it exits. The server is tied to ``serve``'s life (``PR_SET_PDEATHSIG``), so even a
``kill -9`` of ``serve`` leaves no server behind.

No overlap: the runner executes at most one cycle at a time (``limit=1``), so a slow cycle delays the
next instead of overlapping it; the warehouse's cycle lock (``newswatch/runlock.py``) also keeps a
manual ``newswatch run`` from running beside it, and a second ``serve`` on the same warehouse is refused.
Each cycle runs in a fresh subprocess (Prefect's runner does that), so the serve process itself does
not grow over months.

Stopping: SIGTERM and Ctrl-C mean the same thing. The runner cancels a cycle in flight and exits;
nothing is lost, because a cycle writes in one transaction at its end and the next cycle redoes
whatever was not committed. Ctrl-C in a terminal is sent to the whole foreground process group; cycle
subprocesses (and their worker pools) are started with SIGINT blocked so that only ``serve`` sees it
and stops them in order, instead of every process dying with its own traceback. A second signal
while stopping is ignored: shutdown is bounded anyway (the runner's kill grace, then the server's).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from newswatch.config import Settings
from newswatch.errors import FatalError
from newswatch.runlock import cycle_lock, serve_lock

# The dedicated server needs ~19 s to become healthy on a 2-core box (TECH-NOTES §1.1); allow for a slow disk.
SERVER_START_TIMEOUT = 180.0
# Flow and task runs older than this are deleted by the server's vacuum service, so its database stays flat.
RUN_RETENTION_DAYS = 14
# How long the server gets to exit on SIGTERM before it is killed (it flushes its SQLite in ~1-3 s).
SERVER_STOP_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1


class StopRequested(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT before the runner has taken over signal handling."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tied_to_parent(module: str, *args: str) -> list[str]:
    """A command running ``python -m module args`` that gets SIGTERM when its parent dies (Linux).

    Why not ``preexec_fn``: it is unsafe once threads exist. The child sets ``PR_SET_PDEATHSIG`` itself,
    then checks it was not orphaned already, then runs the module as ``-m`` would.
    """
    code = (
        "import ctypes, os, runpy, signal, sys\n"
        f"if sys.platform.startswith('linux'): ctypes.CDLL(None).prctl({_PR_SET_PDEATHSIG}, signal.SIGTERM)\n"
        f"if os.getppid() != {os.getpid()}: sys.exit(0)\n"
        f"sys.argv = [{module!r}, *{list(args)!r}]\n"
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
    )
    return [sys.executable, "-c", code]


class LocalPrefectServer:
    """A ``prefect server start`` subprocess on loopback, for the lifetime of ``serve``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> LocalPrefectServer:
        """Start the server and wait until ``/health`` answers. Stops it again on any failure (or signal)."""
        self.home.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
            "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": str(RUN_RETENTION_DAYS * 86400),
        }
        env.pop("PREFECT_API_URL", None)
        self._log = open(self.home / "server.log", "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        self.proc = subprocess.Popen(
            _tied_to_parent("prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)),
            env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise FatalError("prefect_server", f"prefect server exited with {self.proc.returncode}; "
                                                       f"see {self.home / 'server.log'}")
                try:
                    if client.get(self.api_url + "/health").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
        raise FatalError("prefect_server", f"prefect server did not become healthy in {SERVER_START_TIMEOUT:.0f}s; "
                                           f"see {self.home / 'server.log'}")

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL it if it has not exited in ``SERVER_STOP_SECONDS``."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None


class _StopSignals:
    """SIGTERM and SIGINT both mean "stop gracefully", once.

    SIGINT is blocked in every thread (threads and spawned children inherit the mask), and one thread
    waits for it and turns it into a SIGTERM for the main thread. So Ctrl-C reaches ``serve`` only, and
    cycle subprocesses are stopped by the runner, with SIGTERM, in order.
    """

    def __init__(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        signal.signal(signal.SIGTERM, self._before_runner)
        threading.Thread(target=self._sigint_to_sigterm, name="newswatch-sigint", daemon=True).start()

    @staticmethod
    def _sigint_to_sigterm() -> None:
        main = threading.main_thread().ident
        while True:
            signal.sigwait({signal.SIGINT})
            if main is not None:
                signal.pthread_kill(main, signal.SIGTERM)

    @staticmethod
    def _before_runner(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise StopRequested

    @staticmethod
    def ignore_further() -> None:
        """While cleaning up: the shutdown already under way is bounded, a second signal must not break it."""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _runner_class() -> type:
    from prefect.runner import Runner

    class _Runner(Runner):  # type: ignore[misc]
        """Prefect's runner, with a SIGTERM handler that stops it once and never calls ``sys.exit``."""

        def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
            if self.stopping:
                return
            if not self.started or self._loop is None:
                raise StopRequested
            self.stopping = True
            self.execute_in_background(self.astop)

    return _Runner


def schedule_kwargs(settings: Settings) -> dict[str, Any]:
    """The runner's schedule from the config: ``cron``, else ``every_minutes`` (default 15)."""
    if settings.schedule.cron:
        return {"cron": settings.schedule.cron}
    return {"interval": timedelta(minutes=settings.schedule.every_minutes or 15)}


def _publish_initial_snapshot(settings: Settings) -> None:
    """Make sure analysts have a snapshot before the first cycle, so they never open the live file.

    Skipped when a cycle (e.g. a manual ``newswatch run``) holds the lock: that cycle publishes one.
    """
    from warehouse import db
    from warehouse.snapshot import published_snapshot, snapshot_path

    path = settings.warehouse.path
    if snapshot_path(path, settings.warehouse.snapshot_dir).exists():
        return
    try:
        with cycle_lock(path, wait_seconds=0):
            with db.writer(path):
                pass  # create and migrate; closing checkpoints it
            published_snapshot(path, settings.warehouse.snapshot_dir)
    except FatalError as e:
        if e.reason != "cycle_running":
            raise


def serve(settings: Settings, config_path: Path) -> int:
    """Serve the cycle until SIGTERM/SIGINT. Returns the exit code (0 after a requested stop).

    Raises:
        FatalError: another ``serve`` holds this warehouse, or the local Prefect server did not start.
    """
    signals = _StopSignals()
    server: LocalPrefectServer | None = None
    try:
        with serve_lock(settings.warehouse.path):
            _publish_initial_snapshot(settings)
            if not os.environ.get("PREFECT_API_URL"):
                home = Path(settings.warehouse.path).resolve().parent / "prefect"
                print(f"newswatch serve: starting a local Prefect server (state in {home}) ...", flush=True)
                server = LocalPrefectServer(home).start()
                os.environ["PREFECT_API_URL"] = server.api_url
            _run_runner(settings, config_path)
    except StopRequested:
        pass
    finally:
        signals.ignore_further()
        if server is not None:
            server.stop()
        print("newswatch serve: stopped", flush=True)
    return 0


def _run_runner(settings: Settings, config_path: Path) -> None:
    """Register the deployment and run Prefect's runner until it is stopped."""
    from prefect.types.entrypoint import EntrypointType

    from flows.cycle import newswatch_cycle

    runner = _runner_class()(name="newswatch", limit=1, pause_on_shutdown=False)
    runner.add_flow(
        newswatch_cycle,
        name="newswatch",
        parameters={"config_path": str(config_path.resolve()), "respect_schedule": True},
        entrypoint_type=EntrypointType.MODULE_PATH,
        **schedule_kwargs(settings),
    )
    every = settings.schedule.cron or f"every {settings.schedule.every_minutes} min"
    print(f"newswatch serve: {len(settings.feeds)} feeds, schedule {every}, API {os.environ['PREFECT_API_URL']}",
          flush=True)
    asyncio.run(runner.start(webserver=False))
