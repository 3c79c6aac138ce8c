"""CPU-bound work (extraction, cleaning, spaCy, topic matching) for a chunk of pages.

Why: trafilatura and spaCy are CPU-bound; threads do not help (docs/stack-notes.md#trafilatura), so the local runner
sends chunks to a process pool whose workers load the spaCy model once and keep it for the life of
the process (``serve`` reuses the pool across cycles). On Dask, the same ``processed_jobs`` runs inside
the Dask worker. Processes are started with ``spawn``: forking a process that holds DuckDB handles is
unsafe (docs/stack-notes.md#locking). The one exception is ``preloaded_pool``, for the one-shot commands, which forks
before any such handle or any thread exists.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from newswatch.errors import ConfigError, ItemError
from newswatch.faults import fault_point
from newswatch.models import ArticleAnalysis, Rejection
from newswatch.records import PageJob, Processed
from pipeline.bulkhead import INTERNAL_ERROR, guarded, too_slow
from pipeline.stages import article_from_job, topic_matches
from transform.topics import TopicQuery, compiled_query

if TYPE_CHECKING:
    from newswatch.config import Settings

# Languages spaCy's English model can analyse; other articles get no entities/quotes.
NLP_LANGUAGES = frozenset({"en", None})
# The parent's watchdog on a chunk allows its items' budgets twice (extraction, then NLP), one more
# budget and this slack (pickling, a chunk waiting in the pool's call queue) before it replaces the pool.
WATCHDOG_SLACK_SECONDS = 10.0
# A replacement pool's workers (spawned: imports, spaCy) must be up within this before re-runs start.
WARM_UP_SECONDS = 180.0

log = logging.getLogger(__name__)


def processed_jobs(jobs: Sequence[PageJob], model: str | None, topics: dict[str, TopicQuery],
                   item_seconds: float | None = None) -> list[Processed]:
    """Extract, clean, analyse and topic-match a chunk of pages, one ``Processed`` per job, same order.

    Each page's extraction and each article's NLP is one guarded unit with a budget of ``item_seconds``:
    whatever it raises or however long it loops, it becomes that page's outcome and the rest of the
    chunk goes on. The chunk's articles are analysed together (spaCy is faster in batches); when the
    batch fails or overruns, they are analysed one by one so only the culprit is lost.
    """
    out: list[Processed] = []
    for job in jobs:
        res = guarded("extract", job.candidate.item_key, job.final_url,
                      partial(_extracted, job, topics), seconds=item_seconds)
        out.append(Processed(job.candidate, rejection=res) if isinstance(res, Rejection) else res)
    if model:
        out = _analysed(out, model, item_seconds)
    return out


def _extracted(job: PageJob, topics: dict[str, TopicQuery]) -> Processed:
    cand = job.candidate
    fault_point("extract", job.final_url)
    try:
        article = article_from_job(job)
    except ItemError as e:
        return Processed(cand, rejection=Rejection("extract", cand.item_key, job.final_url, e.reason, e.message))
    return Processed(cand, article, None, topic_matches(article, topics))


def _analysed(out: list[Processed], model: str, item_seconds: float | None) -> list[Processed]:
    from transform.nlp.analysis import analyses_of_articles, load_pipeline

    nlp = load_pipeline(model)
    todo = [i for i, p in enumerate(out) if p.article is not None and p.article.language in NLP_LANGUAGES]

    def analyses(idx: list[int]) -> list[ArticleAnalysis]:
        arts = [a for a in (out[i].article for i in idx) if a is not None]
        for a in arts:
            fault_point("nlp", a.url)
        return analyses_of_articles(nlp, [(a.title, a.text) for a in arts])

    batch = guarded("nlp", "chunk", "", lambda: analyses(todo),
                    seconds=item_seconds * len(todo) if item_seconds else None)
    done = out.copy()
    if not isinstance(batch, Rejection):
        for i, an in zip(todo, batch, strict=True):
            done[i] = replace(out[i], analysis=an)
        return done
    log.warning("NLP of a chunk of %d articles failed (%s); analysing them one by one", len(todo), batch.reason)
    for i in todo:
        p = out[i]
        one = guarded("nlp", p.candidate.item_key, p.article.url if p.article else "",
                      partial(analyses, [i]), seconds=item_seconds)
        done[i] = Processed(p.candidate, rejection=one) if isinstance(one, Rejection) else replace(p, analysis=one[0])
    return done


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


# A small but complete article page for the warm-up extraction (any page that yields text will do).
_WARM_UP_SENTENCES = (
    "The council met on Tuesday to discuss the new budget for the harbour district.",
    "Officials said the plan would be published next week, after a final review by the mayor.",
    "Residents have asked for more buses, wider pavements and a longer opening time for the library.",
)


def _warm_up_page() -> str:
    s = _WARM_UP_SENTENCES
    paras = "".join(f"<p>{s[i % 3]} {s[(i + 1) % 3]}</p>" for i in range(8))
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Council budget</title>'
            '<meta property="article:published_time" content="2026-01-02T08:00:00Z"></head><body><nav>'
            f'<a href="/">Home</a></nav><article><h1>Council budget</h1><p class="byline">By Staff</p>{paras}'
            "</article><footer>Copyright</footer></body></html>")


def _preloaded(model: str | None) -> None:
    from extract.html import page_content
    from transform.articles import page_reading

    # One throwaway extraction: trafilatura and its helpers load data lazily on the first page (measured:
    # 2-3 s), which would otherwise be charged to the first real page's time budget.
    try:
        page_reading(page_content(_warm_up_page(), "http://localhost/warm-up"))
    except ItemError:
        pass
    if model:
        from transform.nlp.analysis import load_pipeline

        load_pipeline(model)


def _warm(model: str | None) -> None:
    _die_with_parent()
    _preloaded(model)


_pool: ProcessPoolExecutor | None = None
_pool_key: tuple[int, str | None] | None = None
_pool_lock = threading.Lock()
# Bumped each time the watchdog replaces the pool: a chunk whose pool broke under another chunk's
# replacement runs again; one whose pool broke under itself has the culprit among its items.
_generation = 0


def default_processes() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def local_pool_spec(settings: Settings) -> tuple[int, str | None] | None:
    """(processes, spaCy model or None) of the local pool these settings use; None on the Dask runner."""
    if settings.runner.kind != "local":
        return None
    return settings.nlp.processes or default_processes(), settings.nlp.model if settings.nlp.enabled else None


@dataclass(frozen=True, slots=True)
class ProcessingPlan:
    """How a cycle processes its pages, decided once from the settings so the flow only wires tasks."""

    model: str | None  # the spaCy model, or None: NLP is off
    local_processes: int  # the local pool's size; 0: each chunk runs in-process on a Dask worker
    chunk_workers: int  # how many take chunks, which sizes the last, smaller chunks (``pipeline.cycle.chunked``)
    queries: dict[str, TopicQuery]  # every topic's compiled query, by topic name
    item_seconds: float  # one page's processing budget

    @property
    def pool(self) -> tuple[int, str | None] | None:
        """(processes, model) of the local pool, None on Dask."""
        return (self.local_processes, self.model) if self.local_processes else None


def processing_plan(settings: Settings) -> ProcessingPlan:
    """The ``ProcessingPlan`` of ``settings``.

    An existing Dask cluster's size is not known before the cycle runs, so this machine's core count
    stands in for it when sizing the chunks.
    """
    pool = local_pool_spec(settings)
    local = pool[0] if pool else 0
    workers = local or (settings.runner.dask_workers if not settings.runner.dask_address else default_processes())
    return ProcessingPlan(
        model=settings.nlp.model if settings.nlp.enabled else None,
        local_processes=local,
        chunk_workers=workers,
        queries={t.name: compiled_query(t.query) for t in settings.topics},
        item_seconds=settings.runner.item_seconds,
    )


def local_pool(processes: int, model: str | None) -> ProcessPoolExecutor:
    """The process-wide worker pool, created on first use and kept for later cycles."""
    global _pool, _pool_key
    with _pool_lock:
        key = (processes, model)
        broken = _pool is not None and bool(getattr(_pool, "_broken", False))  # a worker died: unusable
        if _pool is None or _pool_key != key or broken:
            if _pool is not None:
                _pool.shutdown(wait=not broken, cancel_futures=True)
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
    once. Forking is safe only before any thread or DuckDB handle exists (docs/stack-notes.md#locking): call this
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


def submit_local(jobs: Sequence[PageJob], model: str | None, topics: dict[str, TopicQuery], processes: int,
                 item_seconds: float | None = None) -> Future[list[Processed]]:
    """Run ``processed_jobs`` on the local pool."""
    return local_pool(processes, model).submit(processed_jobs, list(jobs), model, topics, item_seconds)


def chunk_budget(n: int, item_seconds: float) -> float:
    """How long the parent lets a running chunk of ``n`` pages take before it declares a worker stuck."""
    return item_seconds * (2 * n + 1) + WATCHDOG_SLACK_SECONDS


def processed_chunk(jobs: Sequence[PageJob], model: str | None, topics: dict[str, TopicQuery], processes: int,
                    item_seconds: float) -> list[Processed]:
    """``processed_jobs`` on the local pool, under a watchdog for workers no in-process timer can stop.

    Why: the in-worker budget interrupts Python code only; a page can hold its worker inside one C call
    (a regex, lxml, spaCy) for hours. When the chunk overruns ``chunk_budget`` (counted from when the
    pool took it), or a worker dies under it, the pool's workers are killed and replaced, and the
    chunk's pages run again one at a time under the same watchdog, so the culprit is identified
    (quarantined ``too_slow``, or ``internal_error`` when its worker died) and the others still load.
    """
    for _ in range(3):
        generation = _generation
        try:
            return _result_within(submit_local(jobs, model, topics, processes, item_seconds),
                                  chunk_budget(len(jobs), item_seconds))
        except FutureTimeout:
            log.error("a chunk of %d pages overran its %.0f s budget: replacing the worker pool and running its "
                      "pages one by one", len(jobs), chunk_budget(len(jobs), item_seconds))
            _replaced_pool(generation, processes, model)
            break
        except (BrokenProcessPool, CancelledError):  # a replacement cancels the calls still queued
            if generation == _generation:  # it broke under this chunk: one of its pages killed a worker
                log.error("a worker died processing a chunk of %d pages: running them one by one", len(jobs))
                _replaced_pool(generation, processes, model)
                break
            _ready_pool(processes, model)  # another chunk replaced the pool: run this one again
    return [_processed_alone(job, model, topics, processes, item_seconds) for job in jobs]


def _processed_alone(job: PageJob, model: str | None, topics: dict[str, TopicQuery], processes: int,
                     item_seconds: float) -> Processed:
    cand = job.candidate
    for _ in range(3):
        generation = _generation
        try:
            return _result_within(submit_local([job], model, topics, processes, item_seconds),
                                  chunk_budget(1, item_seconds))[0]
        except FutureTimeout:
            log.error("page %s held its worker past the watchdog: worker pool replaced", job.final_url)
            _replaced_pool(generation, processes, model)
            return Processed(cand, rejection=too_slow("extract", cand.item_key, job.final_url, item_seconds))
        except (BrokenProcessPool, CancelledError):  # a replacement cancels the calls still queued
            if generation == _generation:
                _replaced_pool(generation, processes, model)
                return Processed(cand, rejection=Rejection(
                    "extract", cand.item_key, job.final_url, INTERNAL_ERROR,
                    "internal_error: BrokenProcessPool: the worker process died while processing this page"))
            _ready_pool(processes, model)
    return Processed(cand, rejection=Rejection(
        "extract", cand.item_key, job.final_url, INTERNAL_ERROR,
        "internal_error: BrokenProcessPool: the worker pool was replaced under this page three times"))


def _result_within(fut: Future[list[Processed]], seconds: float) -> list[Processed]:
    """The future's result; ``TimeoutError`` once it has been running for over ``seconds``.

    The clock starts when the pool hands the call to its queue (``running()``), not at submit, so a
    chunk waiting behind others is not blamed for their time.
    """
    started: float | None = None
    while True:
        try:
            return fut.result(timeout=0.2)
        except FutureTimeout:
            now = time.monotonic()
            if started is None:
                if fut.running():
                    started = now
            elif now - started > seconds:
                raise


def _replaced_pool(generation: int, processes: int, model: str | None) -> None:
    """Kill the pool's workers and start fresh ones, unless another chunk already did since ``generation``."""
    global _pool, _generation
    with _pool_lock:
        if generation != _generation or _pool is None:
            old = None
        else:
            _generation += 1
            old, _pool = _pool, None
    if old is not None:
        procs = list((getattr(old, "_processes", None) or {}).values())
        for p in procs:
            p.kill()  # one of them is stuck where no signal handler runs; the others die with the pool anyway
        old.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.join(5)
    _ready_pool(processes, model)


def _ready_pool(processes: int, model: str | None) -> None:
    """Wait until the pool's workers are up (a spawned worker loads spaCy), so budgets do not count it."""
    pool = local_pool(processes, model)
    try:
        for f in [pool.submit(os.getpid) for _ in range(processes)]:
            f.result(timeout=WARM_UP_SECONDS)
    except (BrokenProcessPool, FutureTimeout):
        log.warning("the replacement worker pool did not start cleanly; the next submit starts another")


def shutdown_pool(*, wait: bool = True) -> None:
    """Stop the local pool's workers. ``wait=False``: return at once; the workers exit meanwhile (a
    spaCy worker takes ~0.4 s to) and interpreter exit joins them."""
    global _pool, _pool_key
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=wait, cancel_futures=True)
        _pool, _pool_key = None, None
