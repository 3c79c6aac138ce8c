"""Shared fixtures: an isolated Prefect home, a migrated in-memory DuckDB, settings for loopback runs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

# Prefect state, results and its SQLite DB go to a throwaway folder, before Prefect is imported anywhere,
# so test runs never share caches (docs/stack-notes.md#ephemeral-and-dedicated-servers) and never touch ~/.prefect.
_PREFECT_HOME = tempfile.mkdtemp(prefix="newswatch-prefect-")
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", os.path.join(_PREFECT_HOME, "results"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

from warehouse.migrations import migrate  # noqa: E402


@pytest.fixture
def mem_db() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory warehouse built by the same migrate() as production."""
    con = duckdb.connect(":memory:")
    migrate(con)
    yield con
    con.close()


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect API for the whole session (startup costs ~20 s; docs/stack-notes.md#ephemeral-and-dedicated-servers)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def loopback_settings(tmp_path: Path, feeds: list[dict[str, str]], **overrides: Any) -> Any:
    """Settings for a cycle against loopback servers, with a warehouse under ``tmp_path``."""
    from pipeline.settings import settings_from_dict

    doc: dict[str, Any] = {
        "warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")},
        "fetch": {"allow_private_networks": True, "timeout_seconds": 3, "per_host_concurrency": 8},
        "feeds": feeds,
        "topics": [{"name": "korea", "query": '"North Korea" OR "Kim Jong Un"'}],
        "nlp": {"processes": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = {**doc[key], **value}
        else:
            doc[key] = value
    return settings_from_dict(doc)
