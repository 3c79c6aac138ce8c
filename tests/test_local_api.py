"""The Prefect API servers newswatch starts itself (flows/local_api.py), ``newswatch run``'s early one above all."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest
import yaml

from demosite.corpus import synthetic_feed_urls, synthetic_site
from flows.local_api import LocalPrefectServer, early_ephemeral_api

REPO = Path(__file__).resolve().parents[1]


def _servers_of(home: Path) -> list[psutil.Process]:
    """Live Prefect API processes whose PREFECT_HOME is ``home``."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if "prefect.server.api.server:create_app" in " ".join(p.info["cmdline"] or []) \
                    and p.environ().get("PREFECT_HOME") == str(home):
                found.append(p)
        except psutil.Error:
            pass
    return found


def test_run_without_an_api_reports_to_its_own_server_and_leaves_nothing_running(tmp_path):
    home = tmp_path / "prefect"
    with synthetic_site(6, n_feeds=2, seed=3) as site:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump({
            "warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")},
            "fetch": {"allow_private_networks": True},
            "feeds": [{"name": f"Feed {k}", "url": u} for k, u in enumerate(synthetic_feed_urls(site))],
            "topics": [{"name": "any", "query": "the"}],
            "nlp": {"processes": 1},
        }))
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        env.update(PREFECT_HOME=str(home), PREFECT_LOGGING_LEVEL="WARNING")
        r = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--config", str(cfg)], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "new 6 + already seen 0 + quarantined 0" in r.stdout
    assert _servers_of(home) == []
    # Everything reached the server before it was stopped: the flow run, each task run's final event.
    db = sqlite3.connect(home / "prefect.db")
    try:
        runs = db.execute("SELECT state_type FROM flow_run").fetchall()
        tasks = db.execute("SELECT count(*) FROM task_run WHERE state_type = 'COMPLETED'").fetchone()[0]
        completed_events = db.execute("SELECT count(*) FROM events WHERE event = 'prefect.task-run.Completed'").fetchone()[0]
        heartbeats = db.execute("SELECT count(*) FROM events WHERE event = 'prefect.flow-run.heartbeat'").fetchone()[0]
    finally:
        db.close()
    assert runs == [("COMPLETED",)]
    assert tasks >= 7 and completed_events == tasks
    assert heartbeats == 0  # nobody watches an ephemeral server for crashed runs
    assert "Traceback" not in r.stderr and "ConnectError" not in r.stderr


def test_an_ephemeral_server_whose_port_was_taken_starts_on_another(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    server = LocalPrefectServer(ephemeral=True)
    taken = server.port
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with server.launch():
            server.wait_healthy(timeout=120)
            assert server.port != taken
            with urllib.request.urlopen(server.api_url + "/health", timeout=5) as resp:  # noqa: S310 - loopback
                assert resp.status == 200
        assert server.proc is not None and server.proc.poll() is not None  # stopped on leaving the block


def test_the_early_server_is_skipped_when_the_environment_names_an_api(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    assert early_ephemeral_api() is None


def test_an_api_named_by_prefects_settings_wins_over_the_early_server(prefect_harness, tmp_path, monkeypatch):
    """The session's test API is set in Prefect's settings (as a profile would), not in the environment."""
    from flows.cycle import run_cycle
    from tests.conftest import loopback_settings

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    api = early_ephemeral_api()
    assert api is not None
    with api:
        summary = run_cycle(loopback_settings(tmp_path, []), api=api)
        assert summary.status == "completed"
        assert api.proc is not None and api.proc.poll() is not None  # stopped unused


def test_a_dedicated_server_needs_a_home():
    with pytest.raises(ValueError, match="home"):
        LocalPrefectServer(None)


def test_the_demo_command_runs_end_to_end_on_its_own_api(tmp_path):
    """``newswatch demo`` is the README's first command: real site, real flow run, real warehouse, report."""
    home = tmp_path / "prefect"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), PREFECT_LOGGING_LEVEL="WARNING")
    r = subprocess.run([sys.executable, "-m", "flows.cli", "demo", "--dir", str(tmp_path / "demo")], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "entries seen 15 = new 13 + already seen 1 + quarantined 1" in r.stdout
    for section in ("== Articles per feed", "== Topic matches", "== Some quotes and their speakers", "== Quarantine"):
        assert section in r.stdout
    assert (tmp_path / "demo" / "newswatch.duckdb").exists() and _servers_of(home) == []


_RECORDED_SCRIPT = """
import json, sqlite3, sys, time
from pathlib import Path
from demosite.corpus import synthetic_feed_urls, synthetic_site
from flows.cycle import run_cycle
from flows.local_api import early_ephemeral_api
from pipeline.settings import settings_from_dict

def task_runs(home):
    db = sqlite3.connect(home / "prefect.db")
    try:
        return sorted(db.execute("SELECT id, state_type FROM task_run").fetchall())
    finally:
        db.close()

def main(home, wh):
    at_return = []
    with synthetic_site(8, n_feeds=2, seed=5) as site, early_ephemeral_api() as api:
        for k in range(3):
            feeds = [{"name": f"Feed {i}", "url": u} for i, u in enumerate(synthetic_feed_urls(site))]
            settings = settings_from_dict({"warehouse": {"path": str(wh / f"c{k}" / "newswatch.duckdb")},
                                           "fetch": {"allow_private_networks": True}, "feeds": feeds,
                                           "nlp": {"enabled": False, "processes": 1}})
            assert run_cycle(settings, api=api).status == "completed"
            at_return = task_runs(home)  # the server is still up: anything it had not recorded would come later
        time.sleep(7)  # longer than the task-run recorder's flush interval (5 s)
        settled = task_runs(home)
    print(json.dumps({"at_return": at_return, "settled": settled}))

if __name__ == "__main__":  # spawned workers import this file again
    main(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def test_a_run_ends_only_once_the_server_has_recorded_its_task_runs_so_its_stop_cancels_nothing(tmp_path):
    """Stopping the API while its task-run recorder still writes the last events cancels that write, and
    Prefect prints a ``CancelledError`` traceback. When ``run_cycle`` returns, every task run must already
    be recorded in its final state (nothing arrives later), over several cycles."""
    home = tmp_path / "prefect"
    script = tmp_path / "recorded.py"
    script.write_text(_RECORDED_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), PREFECT_LOGGING_LEVEL="WARNING", PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, str(script), str(home), str(tmp_path / "wh")], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    import json

    runs = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(runs["settled"]) >= 3 * 7
    assert runs["at_return"] == runs["settled"]
    assert {state for _, state in runs["settled"]} == {"COMPLETED"}
    assert "Traceback" not in r.stderr and "CancelledError" not in r.stderr
