"""Prefect API servers that newswatch starts itself on loopback: ``serve``'s dedicated one, ``run``'s ephemeral one.

Why our own launcher rather than Prefect's ephemeral mode for ``newswatch run``: Prefect starts its
ephemeral server only at the flow's first API call, and waits for it doing nothing; before that it
imports ``prefect.server`` into the calling process just to build the command (measured: 2.6 s of the
~9.9 s fixed cost of a run with no feeds, plus 3.3 s waiting for the server). ``newswatch run`` now
launches the very same server (uvicorn over ``prefect.server.api.server:create_app`` with Prefect's
ephemeral flags) as soon as the config is valid, and imports Prefect and warms the worker pool while it
starts, on the other core. The fixed cost of a run with no feeds went from
9.9 s to 4.7 s (bench/throughput.py prints it), then to 3.0 s with the server's start-up trimmed (no
block registration, fewer garbage collections: healthy after ~2.2 s instead of ~2.9 s), forked workers
and an exit without interpreter teardown (``flows.cli.console_main``). Most of what is left is the
server's own start-up, nearly all of it importing Prefect's server.

This module imports no Prefect at all, so the CLI can call it before Prefect's import.

``serve`` needs a server that schedules, which the ephemeral one does not (docs/stack-notes.md#ephemeral-and-dedicated-servers), so it
starts ``prefect server start`` with a state directory next to the warehouse and a vacuum policy.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from newswatch.errors import FatalError

# The dedicated server needs ~19 s to become healthy on a 2-core box (docs/stack-notes.md#ephemeral-and-dedicated-servers); allow for a slow disk.
SERVER_START_TIMEOUT = 180.0
# The local server's history is only a window for debugging (the warehouse's ``runs`` table is the
# record), so it is kept short: its SQLite grows ~0.3 MB per cycle (measured: 64 MB after 200 cycles,
# two thirds of it events). Flow and task runs older than this are deleted by its vacuum service...
RUN_RETENTION_DAYS = 7
# ...and events older than this (Prefect's default is 7 days).
EVENT_RETENTION_DAYS = 3
# A previous server.log bigger than this is moved to server.log.1 when serve starts.
SERVER_LOG_ROTATE_BYTES = 10 * 1024 * 1024
# How long the server gets to exit on SIGTERM before it is killed (measured: it exits in ~1-3 s).
SERVER_STOP_SECONDS = 20.0
# How often the start-up wait asks ``/health``. The ephemeral server is up in ~3.3 s on an idle
# 2-core box; polling every 50 ms costs nothing measurable and wastes at most 50 ms of it.
HEALTH_POLL_SECONDS = 0.05
# An ephemeral server that dies while starting is relaunched on a new port this many times: the port
# was free when we picked it, and another process may have taken it before uvicorn bound it. Only for
# uvicorn's start-up failure (exit code 3, "address already in use" among others), as Prefect does.
EPHEMERAL_LAUNCH_ATTEMPTS = 3
_UVICORN_STARTUP_FAILURE = 3
# gc.set_threshold() for processes that live for one run: the ephemeral server (see _ephemeral_command)
# and the ``run``/``demo`` command itself. CPython's defaults (700, 10, 10) suit long-lived processes.
ONE_SHOT_GC_THRESHOLDS = (50_000, 50, 100)
_PR_SET_PDEATHSIG = 1


class StopCheck(Protocol):
    """Something that raises when a stop was asked for (``serve``'s signal flag)."""

    def check(self) -> None: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tied_to_parent(main: str, *, safe_path: bool = False) -> list[str]:
    """A ``python -c`` command that gets SIGTERM when the thread that started it dies (Linux), then runs ``main``.

    ``PR_SET_PDEATHSIG`` fires when the parent *thread* exits, so call this from the main thread (the
    CLI and ``serve`` do). Why not ``preexec_fn``: it is unsafe once threads exist. The child sets the
    signal itself and exits if it was orphaned before it could. ``safe_path``: Python's ``-P``, so that
    a module in the working directory cannot shadow the installed one (for commands that import only
    installed packages, such as Prefect's server).
    """
    code = (
        "import ctypes, os, runpy, signal, sys\n"
        f"if sys.platform.startswith('linux'): ctypes.CDLL(None).prctl({_PR_SET_PDEATHSIG}, signal.SIGTERM)\n"
        f"if os.getppid() != {os.getpid()}: sys.exit(0)\n"
        f"{main}\n"
    )
    return [sys.executable, *(["-P"] if safe_path else []), "-c", code]


def kill_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class LocalPrefectServer:
    """A Prefect API server subprocess on 127.0.0.1, in a process group of its own, dying with us.

    ``dedicated`` (``serve``): ``prefect server start`` with its state in ``home``, output to
    ``home/server.log``. ``ephemeral`` (``run``, ``demo``): Prefect's own ephemeral server (no
    scheduler or other services, state in the usual ``PREFECT_HOME``), output inherited.
    ``launch()`` returns at once; ``wait_healthy()`` blocks until ``/health`` answers.
    """

    def __init__(self, home: Path | None = None, *, ephemeral: bool = False) -> None:
        if home is None and not ephemeral:
            raise ValueError("a dedicated server needs a home directory")
        self.home = home
        self.ephemeral = ephemeral
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._launches = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, stop: StopCheck | None = None) -> LocalPrefectServer:
        """Launch and wait until healthy; stop the server again on failure or a stop signal."""
        self.launch()
        try:
            self.wait_healthy(stop)
        except BaseException:
            self.stop()
            raise
        return self

    def launch(self) -> LocalPrefectServer:
        """Start the subprocess and return without waiting for it."""
        self._launches += 1
        if self.ephemeral:
            self.proc = subprocess.Popen(self._ephemeral_command(), env=self._ephemeral_env(), start_new_session=True)
            return self
        assert self.home is not None
        self.home.mkdir(parents=True, exist_ok=True)
        args = ["server", "start", "--host", "127.0.0.1", "--port", str(self.port)]
        log = self.home / "server.log"
        if log.exists() and log.stat().st_size > SERVER_LOG_ROTATE_BYTES:
            os.replace(log, log.with_name("server.log.1"))
        self._log = open(log, "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        self.proc = subprocess.Popen(
            tied_to_parent(f"sys.argv = ['prefect', *{args!r}]\nrunpy.run_module('prefect', run_name='__main__', alter_sys=True)",
                           safe_path=True),
            env=self._dedicated_env(), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def _ephemeral_command(self) -> list[str]:
        # Prefect's SubprocessASGIServer runs this command line (prefect/server/api/server.py); instead
        # of its ``--app-dir`` (the installed prefect's parent, first on sys.path), ``-P`` keeps the
        # working directory off sys.path, so the installed prefect and uvicorn are the ones imported.
        args = ["uvicorn", "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
                "--port", str(self.port), "--log-level", "error", "--lifespan", "on"]
        # Start-up builds ~1M long-lived objects (modules, routes, models) and CPython's default collector
        # thresholds make it traverse them again and again: 0.45 s of the ~2.9 s to healthy. This server
        # lives for one run, so young objects are collected 70 times less often (measured with the lines
        # below and without PREFECT__SERVER_FINAL: healthy after 2.24 s instead of 2.88 s, median of 5).
        return tied_to_parent(f"import gc; gc.set_threshold(*{ONE_SHOT_GC_THRESHOLDS})\nsys.argv = {args!r}\n"
                              "runpy.run_module('uvicorn', run_name='__main__', alter_sys=True)", safe_path=True)

    @staticmethod
    def _ephemeral_env() -> dict[str, str]:
        # Not PREFECT__SERVER_FINAL, which Prefect's own launcher sets: with FastAPI >= 0.137 its one effect
        # is a full gc.collect() at the end of start-up (0.18 s) that frees memory this short-lived server
        # does not need back.
        env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1"}
        env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # traffic stays on this machine
        # No block registration: newswatch's flows use no blocks, and registering them first imports every
        # installed Prefect collection (prefect-dask imports dask.distributed): 0.2-0.3 s of every run's
        # start-up (measured: healthy after 2.93-3.09 s with it, 2.74-2.84 s without).
        env.setdefault("PREFECT_API_BLOCKS_REGISTER_ON_START", "false")
        env.setdefault("PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION", "false")
        env.pop("PREFECT_API_URL", None)
        return env

    def _dedicated_env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "events,flow_runs",
            "PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD": str(RUN_RETENTION_DAYS * 86400),
            "PREFECT_SERVER_EVENTS_RETENTION_PERIOD": f"P{EVENT_RETENTION_DAYS}D",  # an ISO duration, not seconds
            # The late-runs service only relabels overdue runs "Late". When cycles are slower than the
            # schedule, runs queue up and it rewrote hundreds of them every few seconds: SQLite "database
            # is locked" errors, 13k tracebacks (64 MB of server.log) in 200 cycles. The runner picks up
            # overdue runs either way.
            "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
        }
        env.pop("PREFECT_API_URL", None)
        return env

    def wait_healthy(self, stop: StopCheck | None = None, timeout: float | None = None) -> None:
        """Block until ``/health`` answers 200.

        Args:
            timeout: seconds; default ``SERVER_START_TIMEOUT``, or for an ephemeral server Prefect's own
                ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` when the environment sets it.
        Raises:
            FatalError: the server exited (an ephemeral one whose port was taken is relaunched, up to
                ``EPHEMERAL_LAUNCH_ATTEMPTS`` launches) or was not healthy within ``timeout`` seconds.
        """
        assert self.proc is not None, "launch() first"
        if timeout is None:
            configured = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") if self.ephemeral else None
            timeout = float(configured) if configured else SERVER_START_TIMEOUT
        where = "its output above" if self.ephemeral or self.home is None else f"{self.home / 'server.log'}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if stop is not None:
                stop.check()
            if self.proc.poll() is not None:
                if (self.ephemeral and self.proc.returncode == _UVICORN_STARTUP_FAILURE
                        and self._launches < EPHEMERAL_LAUNCH_ATTEMPTS):
                    self.port = free_port()
                    self.launch()
                    continue
                raise FatalError("prefect_server", f"the Prefect server exited with {self.proc.returncode}; see {where}")
            try:
                with urllib.request.urlopen(self.api_url + "/health", timeout=2) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        return
            except (urllib.error.URLError, http.client.HTTPException, OSError):
                pass  # not up yet (or something else answers on the port: keep waiting for ours)
            time.sleep(HEALTH_POLL_SECONDS if self.ephemeral else 0.5)
        raise FatalError("prefect_server", f"the Prefect server did not become healthy in {timeout:.0f}s; see {where}")

    def stop(self, *, wait: bool = True) -> None:
        """SIGTERM the server's process group, SIGKILL it if it has not exited in ``SERVER_STOP_SECONDS``.

        ``wait=False``: only send SIGTERM (a server still starting defers it until its start-up is done,
        up to seconds); a later ``stop()`` (leaving the ``with`` block) waits for the exit.
        """
        if self.proc is not None and self.proc.poll() is None:
            kill_group(self.proc.pid, signal.SIGTERM)
            if not wait:
                return
            try:
                self.proc.wait(timeout=SERVER_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                kill_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocalPrefectServer:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def early_ephemeral_api() -> LocalPrefectServer | None:
    """Launch an ephemeral API now, unless the environment names one (``PREFECT_API_URL``).

    The caller must still ask Prefect's settings once Prefect is imported (``flows.cycle.run_cycle``
    does): a profile may name an API, or disable ephemeral servers, and then this one is stopped unused.
    """
    if os.environ.get("PREFECT_API_URL"):
        return None
    return LocalPrefectServer(ephemeral=True).launch()
