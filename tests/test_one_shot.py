"""What makes ``newswatch run``/``demo`` cheap to start and stop: guided chunks, forked workers, the fast exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import yaml

from flows.local_api import free_port
from pipeline.cycle import chunked

REPO = Path(__file__).resolve().parents[1]


def test_chunks_shrink_towards_the_end_so_that_the_workers_finish_together():
    # Integers stand in for page jobs (chunking only counts them), hence the arg-type ignores below.
    items = list(range(400))
    chunks = chunked(items, 16, workers=2)  # type: ignore[arg-type]
    sizes = [len(c) for c in chunks]
    assert [x for c in chunks for x in c] == items  # every item once, in order
    assert max(sizes) == 16 and sizes[0] == 16
    assert sizes == sorted(sizes, reverse=True)  # never growing
    assert sizes[-4:] == [4, 4, 4, 3]  # the tail is a few articles: one worker idles at most that long
    assert sum(1 for s in sizes if s < 16) <= 10  # ...for a handful more tasks than equal chunks (25)
    assert chunked([], 16, workers=2) == []  # type: ignore[arg-type]
    assert [len(c) for c in chunked(list(range(10)), 16, workers=1)] == [5, 4, 1]  # type: ignore[arg-type]
    assert [len(c) for c in chunked(list(range(64)), 16, workers=8)] == [4] * 16  # type: ignore[arg-type]


_POOL_SCRIPT = textwrap.dedent("""
    import os, sys, threading
    import psutil
    from pipeline import workers

    def main(mode):
        if mode == "with-a-thread":
            stop = threading.Event()
            threading.Thread(target=stop.wait).start()
        workers.preloaded_pool(2, None)
        assert "extract.html" in sys.modules or mode == "with-a-thread"
        assert workers.submit_local([], None, {}, 2).result() == []
        me = psutil.Process()
        kids = [p for p in me.children() if "resource_tracker" not in " ".join(p.cmdline())]
        print(len(kids), sum(p.cmdline() == me.cmdline() for p in kids))
        workers.shutdown_pool()
        if mode == "with-a-thread":
            stop.set()

    if __name__ == "__main__":  # spawned workers import this file again
        main(sys.argv[1])
""")


def test_the_preloaded_pool_forks_its_workers_unless_a_thread_already_runs(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(_POOL_SCRIPT)
    forked = subprocess.run([sys.executable, str(script), "alone"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert forked.returncode == 0, forked.stderr[-2000:]
    assert forked.stdout.split() == ["2", "2"]  # two workers, both forks of this process (same command line)
    spawned = subprocess.run([sys.executable, str(script), "with-a-thread"], cwd=REPO, capture_output=True, text=True,
                             timeout=120)
    assert spawned.returncode == 0, spawned.stderr[-2000:]
    assert spawned.stdout.split() == ["2", "0"]  # forking a process with threads is unsafe: spawned instead


def test_a_run_whose_feeds_all_fail_exits_1_with_its_summary_and_leaves_no_process(tmp_path):
    """The fast exit keeps the command's status and flushes what it printed."""
    cfg = tmp_path / "config.yaml"
    dead = f"http://127.0.0.1:{free_port()}/feed.xml"  # nothing listens there: connection refused
    cfg.write_text(yaml.safe_dump({
        "warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")},
        "fetch": {"allow_private_networks": True, "timeout_seconds": 2},
        "feeds": [{"name": "Dead", "url": dead}],
        "nlp": {"enabled": False},
    }))
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_LOGGING_LEVEL="WARNING")
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--config", str(cfg)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    descendants: set[psutil.Process] = set()
    while proc.poll() is None:
        try:
            descendants.update(watched.children(recursive=True))
        except psutil.Error:
            break
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err[-3000:]
    assert "failed in" in out and "feeds polled 1 (failed 1)" in out and "1 of 1 feeds failed" in out
    assert "Traceback" not in err and "leaked" not in err
    assert descendants  # the server and the worker ran...
    assert not [p for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]  # ...and are gone


def test_a_run_with_a_model_that_is_not_installed_is_a_configuration_error(tmp_path):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({"warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")}, "feeds": [],
                                   "nlp": {"model": "en_core_web_not_installed"}}))
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"))
    r = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--config", str(cfg)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr[-3000:]
    assert "configuration error" in r.stderr and "nlp.model" in r.stderr and "en_core_web_not_installed" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "wh" / "newswatch.duckdb").exists()
