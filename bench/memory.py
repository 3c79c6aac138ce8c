"""Benchmark: memory of a long-running ``newswatch serve`` after 1, 50 and 200 cycles.

Why: ``serve`` runs for months; any per-cycle leak in a long-lived process shows up as a slow climb
to ``MemoryMax``. ``serve`` is several processes: the supervisor (``newswatch serve`` itself), Prefect's
runner, the local Prefect server, and per cycle a fresh flow-run subprocess with its worker pool. This
runs a real ``serve`` with a very short schedule against a loopback site whose feeds gain articles on
every poll, samples the whole process tree every 0.25 s, and reports at each checkpoint the RSS of the
long-lived processes and the peak RSS of the per-cycle processes since the previous checkpoint, plus
the size of the warehouse, its snapshot and Prefect's database.

Usage:
    python bench/memory.py [--cycles 200] [--checkpoints 1,50,200] [--every-seconds 3] [--no-nlp]
    python bench/memory.py --disk [--per-day 1000] [--keep-days 30]
Takes ~6-10 s per cycle on a 2-core box (the cycle subprocess and its pool start each time, spaCy
loads in the pool), i.e. ~25-35 min for 200 cycles.

``--disk``: the warehouse file over 60 simulated days of ``--per-day`` articles (~4 KB of text each)
with ``warehouse.retention_text_days = --keep-days``: size, used and free blocks, the cost of the
pruning update, and what a compacted copy would weigh (a minute or two).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.growing_site import growing_feeds, growing_site  # noqa: E402

MB = 1024 * 1024


@dataclass
class Tree:
    """The latest RSS of the long-lived processes and per-cycle peaks since the last ``take``."""

    root: psutil.Process
    cmd: dict[int, str] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)
    peak_cycle: int = 0
    peak_worker: int = 0
    peak_total: int = 0
    cycle_pids: set[int] = field(default_factory=set)

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        seen: list[tuple[int, int, str, int]] = []
        for p in procs:
            try:
                if p.pid not in self.cmd:
                    self.cmd[p.pid] = " ".join(p.cmdline())
                seen.append((p.pid, p.ppid(), self.cmd[p.pid], p.memory_info().rss))
            except psutil.Error:
                continue
        runners = {pid for pid, _, cmd, _ in seen if "run_runner" in cmd}
        for pid, parent, cmd, rss in seen:
            if pid == self.root.pid:
                self.rss["supervisor"] = rss
            elif pid in runners:
                self.rss["runner"] = rss
            elif "run_module('prefect'" in cmd:
                self.rss["prefect server"] = rss
            elif "spawn_main" in cmd and parent in runners:
                self.cycle_pids.add(pid)
                self.peak_cycle = max(self.peak_cycle, rss)
            elif "spawn_main" in cmd and parent in self.cycle_pids:
                self.peak_worker = max(self.peak_worker, rss)
        self.peak_total = max(self.peak_total, sum(s[3] for s in seen))

    def take(self) -> dict[str, int]:
        out = {**self.rss, "cycle process (peak)": self.peak_cycle, "pool worker (peak)": self.peak_worker,
               "whole tree (peak)": self.peak_total}
        self.peak_cycle = self.peak_worker = self.peak_total = 0
        return out


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.parent.glob(path.name + "*") if f.is_file()) if path.parent.exists() else 0


def disk_benchmark(per_day: int, keep_days: int, days: int = 60) -> None:
    """Grow a warehouse day by day with retention on; print the file's size as it goes."""
    import hashlib
    from datetime import UTC, datetime, timedelta

    import duckdb

    from demosite.corpus import synthetic_articles, synthetic_paragraphs
    from warehouse.frames import insert_rows
    from warehouse.migrations import migrate
    from warehouse.retention import compacted_copy, file_space, prune_texts

    texts = ["\n\n".join(synthetic_paragraphs(a)) for a in synthetic_articles(500, seed=3)]
    cols = ["article_id", "url", "canonical_url", "feed_id", "title", "author", "published_at",
            "published_at_source", "fetched_at", "language", "text", "word_count", "content_hash", "story_id", "run_id"]
    path = Path(tempfile.mkdtemp(prefix="nw-disk-")) / "newswatch.duckdb"
    con = duckdb.connect(str(path))
    migrate(con)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    print(f"{per_day} articles/day (~{sum(map(len, texts)) // len(texts)} chars), text kept {keep_days} days")
    print(f"{'day':>4} {'articles':>9} {'file MB':>8} {'used':>6} {'free':>6} {'prune s':>8}")
    for d in range(days):
        day = start + timedelta(days=d)
        rows = []
        for i in range(d * per_day, (d + 1) * per_day):
            aid = hashlib.sha1(str(i).encode()).hexdigest()[:16]
            t = f"{texts[i % len(texts)]} ({i})"
            pub = day + timedelta(seconds=86400 * (i % per_day) / per_day)
            rows.append((aid, f"http://x/{i}", f"http://x/{i}", "f", f"t{i}", "a", pub, "feed", pub, "en", t,
                         len(t.split()), aid, aid, "r"))
        con.execute("BEGIN TRANSACTION")
        insert_rows(con, "articles", cols, rows)
        t0 = time.perf_counter()
        prune_texts(con, keep_days=keep_days, now=day + timedelta(days=1))
        prune = time.perf_counter() - t0
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        space = file_space(con)
        if d % 5 == 4 or d in (keep_days, keep_days + 1):
            print(f"{d + 1:4} {(d + 1) * per_day:9} {path.stat().st_size / MB:8.1f} {space.used_blocks:6} "
                  f"{space.free_blocks:6} {prune:8.3f}")
    con.close()
    t0 = time.perf_counter()
    copy = compacted_copy(path, path.with_name("compact.duckdb"))
    print(f"compacted copy: {copy.stat().st_size / MB:.1f} MB in {time.perf_counter() - t0:.1f} s "
          f"(file {path.stat().st_size / MB:.1f} MB)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--checkpoints", default="1,50,200")
    ap.add_argument("--every-seconds", type=float, default=3.0)
    ap.add_argument("--no-nlp", action="store_true")
    ap.add_argument("--disk", action="store_true", help="the disk benchmark instead (no serve)")
    ap.add_argument("--per-day", type=int, default=1000)
    ap.add_argument("--keep-days", type=int, default=30)
    args = ap.parse_args()
    if args.disk:
        disk_benchmark(args.per_day, args.keep_days)
        return 0
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",") if int(c) <= args.cycles} | {args.cycles})
    tmp = Path(tempfile.mkdtemp(prefix="nw-memory-"))
    site = growing_site(args.cycles * 4 + 100, n_feeds=4, per_poll=1)
    with site:
        wh = tmp / "wh" / "newswatch.duckdb"
        cfg = tmp / "config.yaml"
        cfg.write_text(yaml.safe_dump({
            "warehouse": {"path": str(wh)},
            "schedule": {"every_minutes": args.every_seconds / 60},
            "fetch": {"allow_private_networks": True, "timeout_seconds": 5, "per_host_concurrency": 8},
            "polling": {"min_interval_minutes": 0.01, "max_interval_minutes": 0.02},
            "feeds": growing_feeds(site),
            "nlp": {"enabled": not args.no_nlp, "processes": 1},
        }))
        env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
               "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
        env.pop("PREFECT_API_URL", None)
        log = tmp / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--config", str(cfg)], cwd=tmp,
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
        tree = Tree(psutil.Process(proc.pid))
        rows: list[tuple[int, float, dict[str, int], dict[str, int]]] = []
        t0 = time.monotonic()
        try:
            for target in checkpoints:
                while (done := log.read_text().count("newswatch cycle ")) < target:
                    if proc.poll() is not None:
                        raise SystemExit(f"serve exited early:\n{log.read_text()[-3000:]}")
                    tree.sample()
                    time.sleep(0.25)
                tree.sample()
                disk = {"warehouse": _size(wh), "snapshot": _size(wh.with_name("newswatch-snapshot") / "newswatch.duckdb"),
                        "prefect.db": _size(wh.parent / "prefect" / "prefect.db")}
                rows.append((done, time.monotonic() - t0, tree.take(), disk))
                print(f"  {done} cycles after {time.monotonic() - t0:.0f} s", flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=120)
    failed = log.read_text().count(" failed: feeds=")
    print(f"\nnewswatch serve, every {args.every_seconds:g} s, NLP {'off' if args.no_nlp else 'on'}; "
          f"{failed} failed cycles; exit code {code} after SIGTERM")
    names = ["supervisor", "runner", "prefect server", "cycle process (peak)", "pool worker (peak)", "whole tree (peak)"]
    print(f"{'RSS MB':24}" + "".join(f"{r[0]:>10}" for r in rows))
    for n in names:
        print(f"{n:24}" + "".join(f"{r[2].get(n, 0) / MB:10.1f}" for r in rows))
    for n in ["warehouse", "snapshot", "prefect.db"]:
        print(f"{n + ' MB':24}" + "".join(f"{r[3][n] / MB:10.1f}" for r in rows))
    print(f"{'elapsed s':24}" + "".join(f"{r[1]:10.0f}" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
