"""``newswatch serve``: the cycle on the configured schedule, by Prefect's scheduler, until stopped.

Why a server of our own: Prefect's ephemeral mode does not schedule (``flow.serve`` there only warns
"Cannot schedule flows on an ephemeral server"; TECH-NOTES §1.1). Unless ``PREFECT_API_URL`` points at
an existing server, ``serve`` starts ``prefect server start`` on 127.0.0.1 (UI off, its SQLite next to
the warehouse, old runs vacuumed), waits for it to be healthy, serves the deployment, and stops the
server when it exits.

No overlap: the runner executes at most one cycle at a time (``limit=1``), so a slow cycle delays the
next instead of overlapping it; the warehouse's cycle lock (``newswatch/runlock.py``) also keeps a
manual ``newswatch run`` from running beside it. Each cycle runs in a fresh subprocess (Prefect's
runner does that), so the serve process itself does not grow over months. On SIGTERM or Ctrl-C the
runner cancels a cycle in flight; nothing is lost, because a cycle writes in one transaction at its
end and the next cycle redoes whatever was not committed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from newswatch.config import Settings

# The dedicated server needs ~19 s to become healthy on a 2-core box (TECH-NOTES §1.1); allow for a slow disk.
SERVER_START_TIMEOUT = 180.0
# Flow and task runs older than this are deleted by the server's vacuum service, so its database stays flat.
RUN_RETENTION_DAYS = 14


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPrefectServer:
    """A ``prefect server start`` subprocess on loopback, for the lifetime of ``serve``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> LocalPrefectServer:
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
        log = open(self.home / "server.log", "ab")  # noqa: SIM115 - handed to the child, closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._log = log
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited with {self.proc.returncode}; see {self.home / 'server.log'}")
            try:
                if httpx.get(self.api_url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"prefect server did not become healthy in {SERVER_START_TIMEOUT:.0f}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()


def schedule_kwargs(settings: Settings) -> dict[str, Any]:
    if settings.schedule.cron:
        return {"cron": settings.schedule.cron}
    return {"interval": timedelta(minutes=settings.schedule.every_minutes or 15)}


def serve(settings: Settings, config_path: Path) -> int:
    """Serve the cycle until SIGTERM/SIGINT. Returns the exit code."""
    server: LocalPrefectServer | None = None
    if not os.environ.get("PREFECT_API_URL"):
        home = Path(settings.warehouse.path).resolve().parent / "prefect"
        print(f"newswatch serve: starting a local Prefect server (state in {home}) ...", flush=True)
        server = LocalPrefectServer(home).start()
        os.environ["PREFECT_API_URL"] = server.api_url
    stop = {"asked": False}

    def _interrupt(signum: int, frame: Any) -> None:
        stop["asked"] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, _interrupt)
    try:
        from prefect.types.entrypoint import EntrypointType

        from flows.cycle import newswatch_cycle

        every = settings.schedule.cron or f"every {settings.schedule.every_minutes} min"
        print(f"newswatch serve: {len(settings.feeds)} feeds, schedule {every}, API {os.environ['PREFECT_API_URL']}",
              flush=True)
        newswatch_cycle.serve(
            name="newswatch",
            parameters={"config_path": str(config_path.resolve()), "respect_schedule": True},
            limit=1,
            pause_on_shutdown=False,
            print_starting_message=False,
            entrypoint_type=EntrypointType.MODULE_PATH,
            **schedule_kwargs(settings),
        )
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.stop()
        print("newswatch serve: stopped", flush=True)
    return 0
