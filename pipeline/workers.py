"""CPU-bound work (extraction, cleaning, spaCy, topic matching) for a chunk of pages.

Why: trafilatura and spaCy are CPU-bound; threads do not help (TECH-NOTES §4.4), so the local runner
sends chunks to a process pool whose workers load the spaCy model once and keep it for the life of
the process (``serve`` reuses the pool across cycles). On Dask, the same ``processed_jobs`` runs inside
the Dask worker. Processes are started with ``spawn``: forking a process that holds DuckDB handles is
unsafe (TECH-NOTES §3.1). The one exception is ``preloaded_pool``, for the one-shot commands, which forks
before any such handle or any thread exists.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

from newswatch.errors import ConfigError, ItemError
from newswatch.models import Rejection
from pipeline.stages import PageJob, Processed, article_from_job, topic_matches
from transform.topics import TopicQuery

if TYPE_CHECKING:
    from newswatch.config import Settings

# Languages spaCy's English model can analyse; other articles get no entities/quotes.
NLP_LANGUAGES = frozenset({"en", None})


def processed_jobs(jobs: Sequence[PageJob], model: str | None, topics: dict[str, TopicQuery]) -> list[Processed]:
    """Extract, clean, analyse and topic-match a chunk of pages, one ``Processed`` per job, same order."""
    out: list[Processed | None] = [None] * len(jobs)
    ok: list[tuple[int, Processed]] = []
    for i, job in enumerate(jobs):
        cand = job.candidate
        try:
            article = article_from_job(job)
        except ItemError as e:
            out[i] = Processed(cand, rejection=Rejection("extract", cand.item_key, job.final_url, e.reason, e.message))
            continue
        ok.append((i, Processed(cand, article, None, topic_matches(article, topics))))
    if model:
        from transform.nlp import analyses_of_articles, load_pipeline

        todo = [(i, p) for i, p in ok if p.article and p.article.language in NLP_LANGUAGES]
        analyses = analyses_of_articles(load_pipeline(model), [(p.article.title, p.article.text) for _, p in todo if p.article])
        done = {i: Processed(p.candidate, p.article, an, p.topics) for (i, p), an in zip(todo, analyses, strict=True)}
        ok = [(i, done.get(i, p)) for i, p in ok]
    for i, p in ok:
        out[i] = p
    return [p for p in out if p is not None]


def _die_with_parent() -> None:
    """Make this worker exit when the process that started it dies (SIGKILL, OOM): an orphaned worker
    would otherwise linger holding the model's memory and its parent's output pipes.

    Waits on the parent's process sentinel rather than using ``PR_SET_PDEATHSIG``, which fires when the
    *thread* that started the worker exits (a Prefect task thread, gone after each flow run), and which
    misses a parent that died before the call.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _preloaded(model: str | None) -> None:
    import extract.html  # noqa: F401  (import trafilatura once, before the first chunk)

    if model:
        from transform.nlp import load_pipeline

        load_pipeline(model)


def _warm(model: str | None) -> None:
    _die_with_parent()
    _preloaded(model)


_pool: ProcessPoolExecutor | None = None
_pool_key: tuple[int, str | None] | None = None
_pool_lock = threading.Lock()


def default_processes() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def local_pool_spec(settings: Settings) -> tuple[int, str | None] | None:
    """(processes, spaCy model or None) of the local pool these settings use; None on the Dask runner."""
    if settings.runner.kind != "local":
        return None
    return settings.nlp.processes or default_processes(), settings.nlp.model if settings.nlp.enabled else None


def local_pool(processes: int, model: str | None) -> ProcessPoolExecutor:
    """The process-wide worker pool, created on first use and kept for later cycles."""
    global _pool, _pool_key
    with _pool_lock:
        key = (processes, model)
        if _pool is None or _pool_key != key:
            if _pool is not None:
                _pool.shutdown(cancel_futures=True)
            ctx = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(max_workers=processes, mp_context=ctx, initializer=_warm, initargs=(model,))
            _pool_key = key
        return _pool


def started_pool(processes: int, model: str | None) -> None:
    """Start the local pool's workers now, so that their start-up (spawn, imports, loading spaCy, ~3-4 s)
    overlaps other work (Prefect's API start-up, fetching) instead of delaying the first chunk."""
    pool = local_pool(processes, model)
    for _ in range(processes):
        pool.submit(os.getpid)  # one call per worker: the pool spawns a worker per call while none is idle


def preloaded_pool(processes: int, model: str | None) -> None:
    """Start the local pool by loading trafilatura and spaCy here once and forking the workers from this process.

    For the one-shot commands (``run``, ``demo``), called while Prefect's API server starts and before
    Prefect is imported. Why: a spawned worker imports everything and loads the model itself (~1.3 s of
    CPU each, competing with the server's start-up on a 2-core box), and tears a whole interpreter down
    at exit (~0.4 s); a forked one starts with the model in memory (shared copy-on-write) and exits at
    once. Forking is safe only before any thread or DuckDB handle exists (TECH-NOTES §3.1): call this
    before opening the warehouse (the CLI does); it falls back to ``started_pool`` (spawn) when a thread
    is already running.

    Raises:
        ConfigError: the spaCy model is not installed.
    """
    global _pool, _pool_key
    if threading.active_count() > 1 or not sys.platform.startswith("linux"):  # macOS' frameworks are not fork-safe
        started_pool(processes, model)
        return
    try:
        _preloaded(model)
    except OSError as e:  # spaCy's "can't find model" (E050): say so before anything runs
        raise ConfigError([f"nlp.model: {e}"]) from e
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(cancel_futures=True)
        # With "fork", the pool starts every worker at its first submit, before its own threads.
        _pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("fork"),
                                    initializer=_die_with_parent)
        _pool_key = (processes, model)
    _pool.submit(os.getpid)


def submit_local(jobs: Sequence[PageJob], model: str | None, topics: dict[str, TopicQuery], processes: int) -> Future[list[Processed]]:
    """Run ``processed_jobs`` on the local pool."""
    return local_pool(processes, model).submit(processed_jobs, list(jobs), model, topics)


def shutdown_pool(*, wait: bool = True) -> None:
    """Stop the local pool's workers. ``wait=False``: return at once; the workers exit meanwhile (a
    spaCy worker takes ~0.4 s to) and interpreter exit joins them."""
    global _pool, _pool_key
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=wait, cancel_futures=True)
        _pool, _pool_key = None, None
