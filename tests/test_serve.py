"""``newswatch serve`` unattended: cycles on the schedule, never overlapping, and a clean stop on SIGTERM.

One real ``serve`` process (its own local Prefect server, runner and cycle subprocesses) against a
loopback site whose feeds gain items on every poll, with a 6-second schedule, stopped with SIGTERM in
the middle of a cycle (which it lets finish). It is the slowest test
(~1-2 min: the Prefect server alone needs 20-40 s to become healthy here), marked ``slow`` so a
developer can skip it with ``-m "not slow"``; CI runs it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psutil
import pytest
import yaml

from flows.local_api import SERVER_STOP_SECONDS
from flows.serve import CYCLE_FINISH_SECONDS, RUNNER_STOP_SECONDS
from tests.growing_site import growing_feeds, growing_site

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CYCLES = 3
START_AND_CYCLES_TIMEOUT = 180.0  # server start-up (20-40 s here, more on a loaded CI box) + 3 cycles
STOP_TIMEOUT = RUNNER_STOP_SECONDS + SERVER_STOP_SECONDS + 15  # serve's own bounds, plus slack


def _serve_env(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_RUNNER_POLL_FREQUENCY": "2", "PYTHONUNBUFFERED": "1"}
    env.pop("PREFECT_API_URL", None)  # serve must start its own server
    return env


def _lock_held(lock_file: Path) -> bool:
    """Whether any process holds a flock on ``lock_file`` (read from /proc/locks; takes no lock itself)."""
    if not lock_file.exists():
        return False
    inode = f":{lock_file.stat().st_ino}"
    with open("/proc/locks") as f:
        return any(len(p := line.split()) > 5 and p[1] == "FLOCK" and p[5].endswith(inode) for line in f)


class _TreeWatch:
    """Samples the serve process tree every 0.1 s: every descendant seen, and how many cycles ran at once."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.seen: dict[int, tuple[psutil.Process, str]] = {}
        self.max_cycle_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                kids = self.root.children(recursive=True)
            except psutil.Error:
                return
            runners = set()
            for k in kids:
                # Read again while it shows no command line or its parent's: sampled between fork and exec.
                if k.pid not in self.seen or self._pre_exec(k):
                    try:
                        self.seen[k.pid] = (k, " ".join(k.cmdline()))
                    except psutil.Error:
                        continue
                if "run_runner" in self.seen[k.pid][1]:
                    runners.add(k.pid)
            # A cycle is a spawned child of the runner (its pool workers are the cycle's children).
            cycles = 0
            for k in kids:
                try:
                    if k.ppid() in runners and "spawn_main" in self.seen.get(k.pid, (None, ""))[1]:
                        cycles += 1
                except psutil.Error:
                    pass
            self.max_cycle_processes = max(self.max_cycle_processes, cycles)
            time.sleep(0.1)

    def _pre_exec(self, k: psutil.Process) -> bool:
        try:
            return self.seen[k.pid][1] in ("", " ".join(k.parent().cmdline()))
        except (psutil.Error, AttributeError):  # gone, or no parent any more
            return False

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def alive(self) -> list[str]:
        out = []
        for p, cmd in self.seen.values():
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(f"{p.pid}: {cmd[:160]}")
            except psutil.NoSuchProcess:
                pass
        return out


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    with growing_site(200, n_feeds=4, per_poll=2) as site:
        wh = tmp / "wh" / "newswatch.duckdb"
        config = {
            "warehouse": {"path": str(wh)},
            "schedule": {"every_minutes": 0.1},
            "fetch": {"allow_private_networks": True, "timeout_seconds": 3, "per_host_concurrency": 8},
            "polling": {"min_interval_minutes": 0.01, "max_interval_minutes": 0.05},
            "feeds": growing_feeds(site),
            "nlp": {"enabled": False, "processes": 1},
        }
        cfg = tmp / "config.yaml"
        cfg.write_text(yaml.safe_dump(config))
        log = tmp / "serve.log"
        env = _serve_env(tmp)
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--config", str(cfg)], cwd=tmp,
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
        watch = _TreeWatch(proc.pid)
        try:
            deadline = time.monotonic() + START_AND_CYCLES_TIMEOUT
            while log.read_text().count("newswatch cycle ") < CYCLES:
                assert proc.poll() is None, f"serve exited early:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"fewer than {CYCLES} cycles:\n{log.read_text()}"
                time.sleep(0.5)
            second = subprocess.run([sys.executable, "-m", "flows.cli", "serve", "--config", str(cfg)], cwd=tmp,
                                    env=env, capture_output=True, text=True, timeout=60)
            # Stop in the middle of a cycle when one comes along soon: the hardest moment to stop cleanly.
            lock = wh.with_name(wh.name + ".cycle.lock")
            wait_cycle = time.monotonic() + 20
            while not _lock_held(lock) and time.monotonic() < wait_cycle:
                time.sleep(0.05)
            stopped_mid_cycle = _lock_held(lock)
            time.sleep(0.3)
            t0 = time.monotonic()
            sigterm_at = datetime.now(UTC)
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                code = None
            stop_seconds = time.monotonic() - t0
            watch.stop()
            leftovers = watch.alive()
            for _ in range(50):  # a process may still be on its way out (being reaped): give it 5 s
                if not leftovers:
                    break
                time.sleep(0.1)
                leftovers = watch.alive()
            yield {"code": code, "stop_seconds": stop_seconds, "log": log.read_text(), "watch": watch,
                   "wh": wh, "second": second, "mid_cycle": stopped_mid_cycle, "sigterm_at": sigterm_at,
                   "leftovers": leftovers}
        finally:
            if proc.poll() is None:
                proc.kill()
            for p, _ in watch.seen.values():  # never leave anything behind, whatever the asserts say
                try:
                    p.kill()
                except psutil.Error:
                    pass


def test_serve_runs_cycles_on_schedule_and_logs_one_line_each(served):
    lines = [ln for ln in served["log"].splitlines() if ln.startswith("newswatch cycle ")]
    assert len(lines) >= CYCLES
    assert all(" completed: feeds=" in ln and " new=" in ln for ln in lines[:CYCLES]), lines


def test_the_first_cycle_runs_at_start_up_and_the_next_slot_is_logged(served):
    assert "newswatch serve: first cycle now, next on schedule at " in served["log"]


def test_cycles_never_overlap(served):
    assert served["watch"].max_cycle_processes == 1
    con = duckdb.connect(str(served["wh"]), read_only=True)
    runs = con.execute("SELECT run_id, started_at, finished_at, status FROM runs ORDER BY started_at").fetchall()
    con.close()
    finished = [r for r in runs if r[2] is not None]
    assert len([r for r in finished if r[3] == "completed"]) >= CYCLES
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier[2] is not None and earlier[2] <= later[1], f"{earlier} overlaps {later}"


def test_sigterm_stops_serve_cleanly_with_nothing_left_behind(served):
    print(f"\nSIGTERM {'in the middle of a cycle' if served['mid_cycle'] else 'between cycles'}: "
          f"serve exited {served['code']} in {served['stop_seconds']:.1f}s")
    log = served["log"]
    assert served["code"] == 0, log
    assert served["stop_seconds"] < STOP_TIMEOUT
    assert log.rstrip().endswith("newswatch serve: stopped"), log
    assert "Traceback" not in log, log
    assert served["leftovers"] == [], served["leftovers"]
    kinds = [cmd for _, cmd in served["watch"].seen.values()]
    assert any("run_module('prefect'" in c for c in kinds), "the local Prefect server was never seen"
    assert any("run_runner" in c for c in kinds)


def test_a_cycle_in_flight_at_sigterm_is_finished_and_nothing_is_half_loaded(served):
    con = duckdb.connect(str(served["wh"]))  # read-write: the file is whole and nobody holds it
    try:
        last = con.execute("SELECT started_at, finished_at, status FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        if served["mid_cycle"]:  # it had CYCLE_FINISH_SECONDS to finish, and a test cycle takes seconds
            assert last[2] == "completed" and last[1] > served["sigterm_at"], last
            assert (last[1] - served["sigterm_at"]).total_seconds() < CYCLE_FINISH_SECONDS
        runs = con.execute("SELECT run_id, status, articles_new FROM runs WHERE finished_at IS NOT NULL").fetchall()
        for run_id, _, new in runs:
            assert con.execute("SELECT count(*) FROM articles WHERE run_id = ?", [run_id]).fetchone()[0] == new
        orphans = con.execute(
            "SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM feed_items f WHERE f.article_id = a.article_id) "
            "OR NOT EXISTS (SELECT 1 FROM stories s WHERE s.story_id = a.story_id)"
        ).fetchone()[0]
        assert orphans == 0
        unfinished = con.execute("SELECT status FROM runs WHERE finished_at IS NULL").fetchall()
        assert all(s == "running" for (s,) in unfinished)  # (if abandoned) the next cycle marks it 'crashed'
    finally:
        con.close()


def test_a_second_serve_on_the_same_warehouse_is_refused(served):
    second = served["second"]
    assert second.returncode == 3, second.stdout + second.stderr
    assert "already serves" in second.stderr
    assert "stopped" not in second.stdout  # it never started


def test_ctrl_c_while_the_server_starts_stops_everything_quietly(tmp_path):
    """Ctrl-C signals the terminal's whole process group; serve must still stop its server and exit 0."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")},
                                   "feeds": [{"name": "f", "url": "http://127.0.0.1:9/feed.xml"}],
                                   "fetch": {"allow_private_networks": True}}))
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--config", str(cfg)], cwd=tmp_path,
                            env=_serve_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)  # its own group, as a terminal would have it
    watch = _TreeWatch(proc.pid)
    try:
        deadline = time.monotonic() + 30
        while not any("run_module('prefect'" in cmd for _, cmd in watch.seen.values()):
            assert time.monotonic() < deadline and proc.poll() is None, "the server never started"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=STOP_TIMEOUT)
        watch.stop()
        deadline = time.monotonic() + 5
        while watch.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.returncode == 0, out
        assert "Traceback" not in out.decode(), out.decode()
        assert watch.alive() == []
    finally:
        if proc.poll() is None:
            proc.kill()
        for p, _ in watch.seen.values():
            try:
                p.kill()
            except psutil.Error:
                pass
