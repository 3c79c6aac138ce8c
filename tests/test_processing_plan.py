"""How a cycle processes its pages is decided from the settings alone, before any flow runs."""

from __future__ import annotations

from pipeline.settings import settings_from_dict
from pipeline.workers import default_processes, processing_plan
from transform.topics import matched_terms

TOPICS = [{"name": "korea", "query": '"North Korea"'}, {"name": "markets", "query": "merger OR shares"}]


def test_the_local_runner_sizes_its_pool_and_chunks_from_the_configured_processes():
    plan = processing_plan(settings_from_dict({"topics": TOPICS, "nlp": {"processes": 3},
                                               "runner": {"item_seconds": 12}}))
    assert (plan.local_processes, plan.chunk_workers, plan.model, plan.item_seconds) == (3, 3, "en_core_web_sm", 12)
    assert plan.pool == (3, "en_core_web_sm")
    assert sorted(plan.queries) == ["korea", "markets"]
    assert matched_terms(plan.queries["korea"], "Talks with North Korea resume", "") is not None
    assert matched_terms(plan.queries["korea"], "Shares rise", "") is None


def test_without_a_processes_setting_the_local_pool_takes_one_process_per_core():
    plan = processing_plan(settings_from_dict({}))
    assert plan.local_processes == plan.chunk_workers == default_processes()
    assert plan.queries == {}


def test_nlp_off_means_no_model_for_the_workers():
    plan = processing_plan(settings_from_dict({"nlp": {"enabled": False, "processes": 1}}))
    assert plan.model is None and plan.pool == (1, None)


def test_on_dask_there_is_no_local_pool_and_the_chunks_follow_the_cluster_size():
    spawned = processing_plan(settings_from_dict({"runner": {"kind": "dask", "dask_workers": 5}}))
    assert (spawned.local_processes, spawned.pool, spawned.chunk_workers) == (0, None, 5)
    existing = processing_plan(settings_from_dict({"runner": {"kind": "dask", "dask_address": "tcp://127.0.0.1:8786"}}))
    assert existing.chunk_workers == default_processes()  # an existing cluster's size is unknown beforehand
