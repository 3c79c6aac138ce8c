"""Scale-out: a cycle on a two-worker Dask cluster loads exactly what the default local runner loads.

Why: ``runner.kind: dask`` moves extraction and NLP onto Dask workers while the single DuckDB writer
stays in the flow; the warehouse must not depend on where the CPU work ran. Both runners read the same
loopback corpus into fresh warehouses, and every table is compared row by row, without the columns
that are by nature different between two runs (run ids and the wall-clock timestamps of the run).
The cluster is started here and passed by address, which is how a user points newswatch at an
existing scheduler (``runner.dask_address``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import duckdb
import pytest

from demosite.corpus import synthetic_feed_urls, synthetic_site
from tests.conftest import loopback_settings

pytestmark = pytest.mark.usefixtures("prefect_harness")

# Every table a cycle writes. ``runs`` is all run ids and clocks; ``_migrations`` is not cycle output.
TABLES = ("feeds", "feed_items", "articles", "stories", "story_links", "topic_matches", "entities", "mentions",
          "quotes", "alerts", "quarantine")
# Timestamps taken from the clock while the cycle runs; ``published_at`` comes from the feed and is kept.
VOLATILE = {"run_id", "fetched_at", "first_seen_at", "last_seen_at", "linked_at", "matched_at", "created_at",
            "last_polled_at", "last_success_at", "last_new_item_at", "next_poll_at", "failing_since",
            "next_attempt_at", "sent_at"}
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DASK_SECRET = "dask-secret-7c2e51"
TOPICS = [{"name": "markets", "query": "merger OR takeover OR shares"}, {"name": "diplomacy", "query": "summit OR treaty"}]


def _tables(path: str) -> dict[str, list[str]]:
    """Every cycle table as sorted row reprs, volatile columns left out."""
    con = duckdb.connect(path, read_only=True)
    try:
        out = {}
        for table in TABLES:
            cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall() if r[0] not in VOLATILE]
            out[table] = sorted(map(repr, con.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()))
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def both_runners(tmp_path_factory):
    from distributed import LocalCluster

    from flows.cycle import run_cycle

    # 24 articles in 3 feeds, a quarter of them syndicated copies: stories, entities and quotes all have
    # work, and the pages make two chunks (16 + 8 pages), one for each worker.
    with synthetic_site(24, n_feeds=3, seed=11, syndicated_fraction=0.25, now=NOW) as site:
        feeds = [{"name": f"Synthetic {i}", "url": u} for i, u in enumerate(synthetic_feed_urls(site))]
        local = loopback_settings(tmp_path_factory.mktemp("local"), feeds, topics=TOPICS)
        local_summary = run_cycle(local)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=logging.ERROR) as cluster:
            with pytest.MonkeyPatch.context() as mp:  # a secret in the settings the Dask subflow receives
                mp.setenv("NW_DASK_TEST_PASSWORD", DASK_SECRET)
                dask = loopback_settings(tmp_path_factory.mktemp("dask"), feeds, topics=TOPICS,
                                         runner={"kind": "dask", "dask_address": cluster.scheduler_address},
                                         ui={"password": "${NW_DASK_TEST_PASSWORD}"})
            dask_summary = run_cycle(dask)
            # What the scheduler ran, by task name: evidence that the chunks went to the cluster.
            ran = {name: dict(prefix.state_counts) for name, prefix in cluster.scheduler.task_prefixes.items()}
    return {"local": local, "dask": dask, "local_summary": local_summary, "dask_summary": dask_summary, "ran": ran}


def test_dask_cycle_completes_with_the_same_counts(both_runners):
    a, b = both_runners["local_summary"], both_runners["dask_summary"]
    assert a.status == b.status == "completed"
    assert a.articles_new > 0
    assert (a.feeds_polled, a.entries_seen, a.articles_new, a.duplicates, a.quarantined) == (
        b.feeds_polled, b.entries_seen, b.articles_new, b.duplicates, b.quarantined)


def test_the_pages_were_processed_on_the_dask_workers(both_runners):
    assert both_runners["ran"].get("process_task", {}).get("memory", 0) >= 2, both_runners["ran"]


def test_dask_cycle_writes_the_same_warehouse_table_by_table(both_runners):
    local, dask = _tables(both_runners["local"].warehouse.path), _tables(both_runners["dask"].warehouse.path)
    for table in TABLES:
        assert local[table] == dask[table], f"{table} differs between the local and the Dask runner"
    assert local["articles"] and local["mentions"] and local["quotes"] and local["topic_matches"]


def test_prefect_stores_a_placeholder_for_the_dask_subflow_s_settings(both_runners):
    from tests.test_cycle import _flow_runs
    from tests.test_secrets import prefect_database_bytes

    assert both_runners["dask"].ui.password == DASK_SECRET
    run = _flow_runs("newswatch-dask-cycle")[0]
    assert run.parameters["settings"] == "<withheld>"
    assert DASK_SECRET.encode() not in prefect_database_bytes()
