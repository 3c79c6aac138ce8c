"""Benchmark: `newswatch run` end to end against the bare components at their best, on the same pages.

Why: a cycle should cost little more than its unavoidable work (downloading, trafilatura, spaCy). This
serves a synthetic corpus (demosite/corpus.py: realistic article pages with nav, figure, byline,
boilerplate, and RSS feeds) on loopback, and measures in the same run, at each corpus size:

(a) ``newswatch run --config ...`` as a subprocess into a fresh warehouse: the command a user types,
    so the wall time includes interpreter start, imports, Prefect's ephemeral API server start-up
    (or, with ``PREFECT_API_URL`` set, the running server's), the flow run and exit. newswatch's own
    summary line gives the time inside the flow run.
(b) the bare components in a subprocess, no orchestration and no database: feeds fetched and parsed
    with feedparser, pages fetched concurrently (httpx, 16 threads), ``trafilatura.extract`` in a
    process pool over all cores, ``nlp.pipe(texts, n_process=cores)`` with the same spaCy model and
    components newswatch runs (the lemmatizer off, as in transform/nlp/analysis.py).

Pages are rendered once before the clock starts and served as static bytes, so the server costs
what a remote site would (almost nothing here). The machine may be shared: wall times move with
load, so the load average is printed with each measurement, and so is CPU time (user + system of
the whole process tree), which load barely changes.

Usage:
    python bench/throughput.py [--sizes 100,400,1600] [--ratio-at 400] [--repeat 1] [--model en_core_web_sm]
Prints the fixed cost of `newswatch run` with no feeds at all; then per size: articles per second for
(a) and (b) (wall, and inside the run), their ratio, CPU milliseconds per article, and peak memory
(sum of RSS over each process tree); then time per article across sizes and the marginal cost per
article between sizes (it must stay flat); then the headline at ``--ratio-at`` against the throughput
targets. ``--repeat k`` alternates (b) and (a) k times per size and keeps the fastest of each.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import yaml  # noqa: E402

from demosite.corpus import synthetic_articles, synthetic_feed_urls, synthetic_page_html, synthetic_site  # noqa: E402
from demosite.loopback import LoopbackSite, Route  # noqa: E402

N_FEEDS = 8
SEED = 7
# Threads fetching pages in (b); newswatch's default fetch.concurrency is also 16 (with 2 per host, which
# on a loopback corpus measured 1-3 s for 1,600 pages: not what limits either side).
BARE_FETCH_THREADS = 16
TOPICS = [
    {"name": "markets", "query": "merger OR takeover OR (shares AND dividend)"},
    {"name": "diplomacy", "query": "summit OR treaty OR (envoy AND talks)"},
    {"name": "health", "query": '"Ministry of Health" OR vaccine NOT sport*'},
]
TARGET_RATIO, TARGET_RATE = 0.9, 4.0
_SUMMARY_SECONDS = re.compile(r"^run \S+: (\w+) in ([0-9.]+)s", re.MULTILINE)
_SUMMARY_NEW = re.compile(r"= new (\d+) \+ already seen (\d+) \+ quarantined (\d+)")


@dataclass
class Measure:
    """One subprocess run: wall clock, CPU of its whole tree, peak memory, and its own timings."""

    wall: float
    cpu: float
    peak_mb: float
    inner: float  # seconds inside the work (the flow run for (a), after imports for (b))
    articles: int
    load: tuple[float, float]  # 1-minute load average before and after
    detail: dict[str, Any] = field(default_factory=dict)


def corpus_site(n_articles: int) -> LoopbackSite:
    """The synthetic site with every page rendered up front (served as bytes, not built per request)."""
    site = synthetic_site(n_articles, n_feeds=N_FEEDS, seed=SEED)
    for article in synthetic_articles(n_articles, n_feeds=N_FEEDS, seed=SEED):
        site.add(article.path, Route(synthetic_page_html(article, site.base_url).encode("utf-8")))
    return site


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # exited between listing and reading
            pass
    return total


def measured(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[Measure, str]:
    """Run ``cmd`` to completion, sampling the RSS of its process tree every 0.2 s."""
    load0 = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        ps = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                peak = max(peak, _tree_rss(ps))
            except psutil.Error:
                return
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}\n{out[-3000:]}\n{err[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measure(wall, cpu, peak / 2**20, 0.0, 0, (load0, os.getloadavg()[0])), out


def newswatch_command() -> list[str]:
    script = Path(sys.executable).with_name("newswatch")
    return [str(script)] if script.exists() else [sys.executable, "-m", "flows.cli"]


def pipeline_run(feed_urls: list[str], workdir: Path, env: dict[str, str], model: str) -> Measure:
    """(a): ``newswatch run`` into a fresh warehouse under ``workdir``."""
    workdir.mkdir(parents=True)
    config = {
        "warehouse": {"path": str(workdir / "newswatch.duckdb")},
        "fetch": {"allow_private_networks": True},  # the corpus is on 127.0.0.1; everything else default
        "feeds": [{"name": f"Synthetic {k}", "url": u} for k, u in enumerate(feed_urls)],
        "topics": TOPICS,
        "nlp": {"model": model},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    m, out = measured([*newswatch_command(), "run", "--config", str(workdir / "config.yaml")], env, workdir)
    seconds, new = _SUMMARY_SECONDS.search(out), _SUMMARY_NEW.search(out)
    if not seconds or not new or seconds.group(1) != "completed":
        raise RuntimeError(f"unexpected `newswatch run` output:\n{out}")
    m.inner, m.articles = float(seconds.group(2)), int(new.group(1))
    m.detail = {"duplicates": int(new.group(2)), "quarantined": int(new.group(3))}
    return m


def bare_run(feed_urls: list[str], cores: int, model: str, env: dict[str, str], cwd: Path) -> Measure:
    """(b): the bare components, in a subprocess of this script (``--bare``)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--bare", "--model", model, "--cores", str(cores),
           "--feeds", ",".join(feed_urls)]
    m, out = measured(cmd, env, cwd)
    result = json.loads(out.strip().splitlines()[-1])
    m.inner, m.articles, m.detail = result["work"], result["articles"], result
    return m


def _bare_extract(url: str, html: str) -> str | None:
    import trafilatura

    return trafilatura.extract(html, url=url)


def bare_main(feed_urls: list[str], cores: int, model: str) -> None:
    """The bare components at their best: concurrent fetching, extraction and NLP on every core."""
    t0 = time.perf_counter()
    import feedparser
    import httpx
    import spacy
    import trafilatura  # noqa: F401  (imported here so that its import is not counted as work)

    from transform.nlp.analysis import FALLBACK_MODELS, UNUSED_COMPONENTS

    t_import = time.perf_counter() - t0
    t = time.perf_counter()
    try:
        nlp = spacy.load(model, disable=list(UNUSED_COMPONENTS))
    except OSError:
        nlp = spacy.load(FALLBACK_MODELS[model], disable=list(UNUSED_COMPONENTS))
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(BARE_FETCH_THREADS) as ex:
        bodies = list(ex.map(lambda u: client.get(u).content, feed_urls))
        links = [e.link for body in bodies for e in feedparser.parse(io.BytesIO(body)).entries]
        pages = list(ex.map(lambda u: client.get(u).text, links))
    t_fetch = time.perf_counter() - t
    t = time.perf_counter()
    with ProcessPoolExecutor(cores) as pool:
        texts = [x for x in pool.map(_bare_extract, links, pages, chunksize=max(1, len(pages) // (cores * 8))) if x]
    t_extract = time.perf_counter() - t
    t = time.perf_counter()
    # Batches small enough that every process gets several (spaCy deals batches out round-robin).
    batch = max(4, min(64, len(texts) // (cores * 4)))
    entities = sum(len(doc.ents) for doc in nlp.pipe(texts, n_process=cores, batch_size=batch))
    t_nlp = time.perf_counter() - t
    print(json.dumps({"articles": len(texts), "entities": entities, "import": t_import, "load": t_load,
                      "fetch": t_fetch, "extract": t_extract, "nlp": t_nlp, "work": time.perf_counter() - t0 - t_import}))


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,400,1600", help="corpus sizes (articles), comma-separated")
    ap.add_argument("--ratio-at", type=int, default=400, help="the size the headline ratio is reported at")
    ap.add_argument("--model", default="en_core_web_sm")
    ap.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--keep", action="store_true", help="keep the work dir (warehouses, PREFECT_HOME)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of (a) and (b) per size; the fastest of each is kept")
    ap.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--feeds", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare:
        bare_main(args.feeds.split(","), args.cores, args.model)
        return
    work = Path(tempfile.mkdtemp(prefix="newswatch-bench-"))
    try:
        benchmark(args, [int(s) for s in args.sizes.split(",")], work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def benchmark(args: argparse.Namespace, sizes: list[int], work: Path) -> None:
    """Measure and print everything (see the module docstring); ``work`` holds warehouses and PREFECT_HOME."""
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
           "PYTHONPATH": str(ROOT)}
    print(f"newswatch throughput: {args.cores} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"model {args.model}, sizes {sizes}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    api = os.environ.get("PREFECT_API_URL")
    print(f"work dir {work}{' (kept)' if args.keep else ''}; Prefect: {f'the running API at {api}' if api else 'an ephemeral API per run (no PREFECT_API_URL)'}",
          flush=True)

    # The fixed cost of the command: a cycle with no feeds (first with a fresh Prefect home, then as usual).
    fixed = [pipeline_run([], work / f"fixed{k}", env, args.model) for k in range(2)]
    print(f"fixed cost of `newswatch run` (no feeds): first run {'' if api else 'in a fresh PREFECT_HOME '}{fixed[0].wall:.1f} s, "
          f"afterwards {fixed[1].wall:.1f} s wall ({fixed[1].cpu:.1f} s CPU, {fixed[1].inner:.1f} s inside the flow, "
          f"peak {fixed[1].peak_mb:.0f} MB)", flush=True)

    results: dict[int, tuple[Measure, Measure]] = {}
    for n in sizes:
        runs: list[tuple[Measure, Measure]] = []
        with corpus_site(n) as site:
            feeds = synthetic_feed_urls(site)
            for k in range(args.repeat):  # (b) and (a) alternate, so that both see the same load
                b = bare_run(feeds, args.cores, args.model, env, work)
                a = pipeline_run(feeds, work / f"run{n}-{k}", env, args.model)
                if a.articles != n or b.articles != n:
                    raise RuntimeError(f"expected {n} articles, (a) loaded {a.articles}, (b) extracted {b.articles}")
                runs.append((a, b))
        # On a shared machine the fastest of several runs is the one least disturbed by others.
        a, b = min((r[0] for r in runs), key=lambda m: m.wall), min((r[1] for r in runs), key=lambda m: m.wall)
        results[n] = (a, b)
        print(f"\n{n} articles (load {a.load[0]:.1f}->{a.load[1]:.1f} during (a), {b.load[0]:.1f}->{b.load[1]:.1f} during (b))")
        if args.repeat > 1:
            print(f"  fastest of {args.repeat} runs each; all walls: (a) {', '.join(f'{r[0].wall:.1f}' for r in runs)} s, "
                  f"(b) {', '.join(f'{r[1].wall:.1f}' for r in runs)} s")
        print(f"  (a) newswatch run  {_rate(n, a.wall):6.2f} art/s end to end ({a.wall:6.1f} s)   "
              f"{_rate(n, a.inner):6.2f} art/s inside the flow run ({a.inner:6.1f} s)   "
              f"CPU {1000 * a.cpu / n:5.0f} ms/art   peak {a.peak_mb:5.0f} MB")
        print(f"  (b) bare           {_rate(n, b.wall):6.2f} art/s end to end ({b.wall:6.1f} s)   "
              f"{_rate(n, b.inner):6.2f} art/s after imports ({b.inner:6.1f} s)        "
              f"CPU {1000 * b.cpu / n:5.0f} ms/art   peak {b.peak_mb:5.0f} MB")
        print(f"      (b) phases: import {b.detail['import']:.1f} s, model {b.detail['load']:.1f} s, "
              f"fetch {b.detail['fetch']:.1f} s, extract {b.detail['extract']:.1f} s, nlp {b.detail['nlp']:.1f} s")
        print(f"  ratio a/b: end to end {b.wall / a.wall:.2f}   inside the run {b.inner / a.inner:.2f}   "
              f"CPU {b.cpu / a.cpu:.2f}", flush=True)

    print("\ntime per article (ms), cost must stay linear:")
    print(f"  {'articles':>8} {'(a) end to end':>15} {'(a) minus fixed':>16} {'(a) in flow':>12} {'(a) CPU':>8} "
          f"{'(b) end to end':>15} {'(b) work':>9} {'(b) CPU':>8}")
    for n, (a, b) in results.items():
        print(f"  {n:>8} {1000 * a.wall / n:>15.1f} {1000 * (a.wall - fixed[1].wall) / n:>16.1f} "
              f"{1000 * a.inner / n:>12.1f} {1000 * a.cpu / n:>8.1f} {1000 * b.wall / n:>15.1f} "
              f"{1000 * b.inner / n:>9.1f} {1000 * b.cpu / n:>8.1f}")
    # Fixed costs (start-up, the pool, spaCy loads) make small runs dear per article; the marginal cost of
    # one more article, between consecutive sizes, is what must not grow.
    for lo, hi in itertools.pairwise(sorted(results)):
        (a0, b0), (a1, b1) = results[lo], results[hi]
        m = [1000 * (x1 - x0) / (hi - lo) for x0, x1 in ((a0.wall, a1.wall), (a0.inner, a1.inner), (a0.cpu, a1.cpu),
                                                          (b0.wall, b1.wall), (b0.inner, b1.inner), (b0.cpu, b1.cpu))]
        print(f"  {f'{lo}->{hi}':>8} {m[0]:>15.1f} {'(marginal)':>16} {m[1]:>12.1f} {m[2]:>8.1f} {m[3]:>15.1f} "
              f"{m[4]:>9.1f} {m[5]:>8.1f}")
    if args.ratio_at in results:
        a, b = results[args.ratio_at]
        print(f"\nheadline at {args.ratio_at} articles: (a) {_rate(args.ratio_at, a.wall):.2f} art/s, "
              f"(b) {_rate(args.ratio_at, b.wall):.2f} art/s, ratio a/b {b.wall / a.wall:.2f} end to end "
              f"({b.inner / a.inner:.2f} inside the run); peak memory (a) {a.peak_mb:.0f} MB, (b) {b.peak_mb:.0f} MB")
        met = b.wall / a.wall >= TARGET_RATIO and _rate(args.ratio_at, a.wall) >= TARGET_RATE
        print(f"targets (ratio >= {TARGET_RATIO}, >= {TARGET_RATE} art/s on 2 cores): "
              f"{'met' if met else 'NOT met'} end to end")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
