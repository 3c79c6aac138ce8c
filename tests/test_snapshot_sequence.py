"""Snapshot versions follow a recorded sequence, not the clock; leftovers of a killed copy are cleaned;
``newswatch sql`` says so when the snapshot link dangles instead of reading another file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import yaml

from warehouse.migrations import migrate
from warehouse.snapshot import publish_snapshot

REPO = Path(__file__).resolve().parents[1]


def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    migrate(con)
    con.execute("CREATE TABLE marker (n INTEGER)")
    con.close()
    return path


def marked(path: Path, n: int) -> None:
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM marker")
    con.execute("INSERT INTO marker VALUES (?)", [n])
    con.execute("CHECKPOINT")
    con.close()


def read_marker(link: Path) -> int:
    con = duckdb.connect(str(link), read_only=True)
    try:
        return int(con.execute("SELECT n FROM marker").fetchone()[0])
    finally:
        con.close()


def test_a_clock_stepping_backwards_never_deletes_the_version_just_published(tmp_path, monkeypatch):
    src = warehouse(tmp_path)
    clock = iter([2_000_000_000_000_000_000, 1_000_000_000_000_000_000, 500, 400, 300])
    monkeypatch.setattr(time, "time_ns", lambda: next(clock))  # NTP stepping back between cycles
    for n in range(1, 6):
        marked(src, n)
        link = publish_snapshot(src)
        assert link.exists(), f"publication {n} left a dangling link"
        assert read_marker(link) == n
    versions = sorted(p.name for p in link.parent.glob("newswatch-*.duckdb"))
    assert len(versions) == 2  # the current one and one previous
    assert os.readlink(link) == versions[-1]


def test_versions_named_by_the_old_clock_scheme_are_counted_on_from(tmp_path):
    src = warehouse(tmp_path)
    folder = tmp_path / "w-snapshot"
    folder.mkdir()
    old = folder / f"newswatch-{time.time_ns()}.duckdb"
    old.write_bytes(src.read_bytes())
    os.symlink(old.name, folder / "newswatch.duckdb")
    marked(src, 7)
    link = publish_snapshot(src)
    assert read_marker(link) == 7
    assert old.exists()  # kept as the previous version, not mistaken for a newer one
    assert int(os.readlink(link).split("-")[1].split(".")[0]) > int(old.name.split("-")[1].split(".")[0])


def test_a_partial_copy_left_by_a_killed_publication_is_removed_at_the_next(tmp_path):
    src = warehouse(tmp_path)
    link = publish_snapshot(src)
    leftovers = [link.parent / ".newswatch-00000000000000000099.duckdb.tmp",
                 link.parent / ".newswatch.duckdb.4242.link", link.parent / ".sequence.4242.tmp"]
    for p in leftovers:
        p.write_bytes(b"half a database")
    publish_snapshot(src)
    assert not any(p.exists() for p in leftovers)


def _sql(cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows.cli", "sql", "SELECT 1 AS one", "--config", str(config)],
                          cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def test_sql_refuses_a_dangling_snapshot_link_with_a_message(tmp_path):
    src = warehouse(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"warehouse": {"path": str(src)}}))
    link = publish_snapshot(src)
    Path(link.parent / os.readlink(link)).unlink()
    res = _sql(tmp_path, config)
    assert res.returncode == 3, res.stderr
    assert "points to" in res.stderr and "does not exist" in res.stderr and "--db" in res.stderr
    assert "Traceback" not in res.stderr


def test_sql_on_a_published_snapshot_has_a_clean_stderr(tmp_path):
    src = warehouse(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"warehouse": {"path": str(src)}}))
    publish_snapshot(src)
    res = _sql(tmp_path, config)
    assert res.returncode == 0 and res.stdout.split() == ["one", "---", "1"]
    assert res.stderr == ""  # nothing (no leak reports) to hide a real error


def test_sql_without_a_snapshot_says_it_reads_the_live_file(tmp_path):
    src = warehouse(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"warehouse": {"path": str(src)}}))
    res = _sql(tmp_path, config)
    assert res.returncode == 0
    assert "no snapshot published yet" in res.stderr and "reading the live warehouse" in res.stderr
