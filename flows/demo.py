"""``newswatch demo``: the whole pipeline on bundled sample feeds served on 127.0.0.1, offline.

Why: the first thing a new user runs. It must show what newswatch does (stories, topics, entities,
quotes, quarantine) in under a minute, with no network and no set-up beyond the install.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from demosite.site import DEMO_TOPICS, demo_feeds, demo_site
from flows.cycle import run_cycle
from flows.local_api import LocalPrefectServer
from flows.progress_display import cycle_progress
from flows.summary import summary_lines
from pipeline.settings import settings_from_dict
from warehouse.demo_report import EXAMPLE_QUERIES, demo_report
from warehouse.lake import LakePaths


def run_demo(directory: Path, api: LocalPrefectServer | None = None) -> int:
    """Serve the demo site, run one cycle into ``directory``, print a report and example SQL.

    ``api``: an ephemeral Prefect API launched early by the caller (see ``flows.cycle.run_cycle``)."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    db_path = directory / "newswatch.duckdb"
    with demo_site() as site:
        settings = settings_from_dict({
            "warehouse": {"path": str(db_path)},
            "fetch": {"allow_private_networks": True, "timeout_seconds": 5, "per_host_concurrency": 8},
            "feeds": demo_feeds(site),
            "topics": DEMO_TOPICS,
        })
        print(f"newswatch demo: serving {len(settings.feeds)} sample feeds on {site.base_url} ...")
        with cycle_progress() as progress:
            summary = run_cycle(settings, api=api, progress=progress)
    print("\n".join(summary_lines(summary)))
    for title, frame in demo_report(settings.warehouse.paths):
        print(f"\n== {title}")
        print(frame.to_string(index=False))
    lake = LakePaths.beside(db_path, settings.warehouse.lake_dir).lake
    print(f"\nThe demo warehouse is {db_path} (analysts' lake: {lake}).")
    print("Try these queries:\n")
    command = newswatch_command()
    for title, sql in EXAMPLE_QUERIES:
        print(f"  # {title}\n  {command} sql --db {lake / 'current.duckdb'} \"{sql}\"\n")
    return 0 if summary.status == "completed" else 1


def newswatch_command() -> str:
    """How to type ``newswatch`` here: the bare name when it is on PATH, else the script next to this
    interpreter (``.venv/bin/newswatch`` after ``make demo``), relative to the current directory."""
    script = Path(sys.executable).parent / "newswatch"
    found = shutil.which("newswatch")
    if found and Path(found).resolve() == script.resolve() or not script.exists():
        return "newswatch"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)
