"""A warehouse or snapshot folder that cannot be written, or a warehouse that cannot be read, is one clear
line and exit 2 before anything starts (no Prefect traceback from inside a flow run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# /proc refuses new entries even to root, so this holds whoever runs the tests.
UNWRITABLE = "/proc/newswatch-cannot-write-here"


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})


def config(tmp_path: Path, warehouse: dict[str, str]) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"warehouse": warehouse, "nlp": {"enabled": False}}))
    return str(path)


@pytest.mark.parametrize("command", ["run", "serve"])
@pytest.mark.parametrize("which", ["warehouse.path", "warehouse.snapshot_dir"])
def test_an_unwritable_folder_is_exit_2_with_the_key_and_the_folder(tmp_path, command, which):
    if which == "warehouse.path":
        cfg = config(tmp_path, {"path": f"{UNWRITABLE}/w.duckdb"})
    else:
        cfg = config(tmp_path, {"path": str(tmp_path / "w.duckdb"), "snapshot_dir": UNWRITABLE})
    res = cli(tmp_path, command, "--config", cfg)
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"{which}: {UNWRITABLE}: cannot write there" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_exit_2(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        res = cli(tmp_path, "run", "--config", config(tmp_path, {"path": str(ro / "w.duckdb")}))
    finally:
        ro.chmod(0o755)
    assert res.returncode == 2 and "cannot write there" in res.stderr


def test_sql_on_an_unreadable_warehouse_is_exit_2(tmp_path):
    (tmp_path / "notafile.duckdb").mkdir()
    res = cli(tmp_path, "sql", "SELECT 1", "--db", str(tmp_path / "notafile.duckdb"))
    assert res.returncode == 2, res.stderr
    assert "cannot read the warehouse" in res.stderr and "Traceback" not in res.stderr
