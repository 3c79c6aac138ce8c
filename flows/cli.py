"""The ``newswatch`` command line.

Why here: the CLI starts flows, so it lives in ``flows/`` (the only package that imports Prefect).
Prefect is imported lazily, after logging defaults are set, so ``check-config`` and ``sql`` start fast.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flows.summary import summary_lines
from newswatch import secrets
from newswatch.errors import ConfigError, FatalError
from newswatch.terminal import json_printable, printable, printable_cell, printable_frame


class _SafeFormatter(logging.Formatter):
    """Log lines with secrets masked and control characters escaped, tracebacks included."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(secrets.redacted(super().format(record)))


def _quiet_prefect() -> None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)
    for h in logging.getLogger().handlers:
        h.addFilter(secrets.RedactingFilter())
        h.setFormatter(_SafeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # One line per request, Prefect's own API calls included, drowns the pipeline's lines under -v;
    # failures reach the log through the pipeline's own records.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _settings(args: argparse.Namespace) -> Any:
    from pipeline.settings import load_settings

    return load_settings(args.config)


def _writable_warehouse(settings: Any) -> None:
    """Refuse to start a cycle whose warehouse, lake or snapshot folder cannot be written (exit 2).

    Raises:
        ConfigError: one line per folder that cannot be written.
    """
    from warehouse.db import unwritable_problem
    from warehouse.lake import LakePaths
    from warehouse.snapshot import snapshot_path

    folders = [("warehouse.path", Path(settings.warehouse.path).parent),
               ("warehouse.lake_dir", LakePaths.beside(settings.warehouse.path, settings.warehouse.lake_dir).lake),
               ("warehouse.snapshot_dir", snapshot_path(settings.warehouse.path, settings.warehouse.snapshot_dir).parent)]
    problems = [p for p in (unwritable_problem(d, key + ":") for key, d in folders) if p]
    if problems:
        raise ConfigError(problems)


def cmd_check_config(args: argparse.Namespace) -> int:
    s = _settings(args)
    print(printable(f"config OK: {len(s.feeds)} feeds, {len(s.topics)} topics, {len(s.alerts)} alert rules, "
                    f"warehouse {s.warehouse.path}"))
    return 0


def _run_details(settings: Any, run_id: str) -> list[str]:
    """The summary's details from the analysts' copy (published at the end of the run); none when unreadable."""
    from warehouse.analyst import connect
    from warehouse.run_report import detail_lines, run_details

    try:
        con = connect(settings.warehouse.paths, wait_seconds=2)
    except FatalError as e:
        return [f"  (details unavailable: {e.message})"]
    try:
        return detail_lines(run_details(con, run_id))
    finally:
        con.close()


@contextlib.contextmanager
def _one_shot_api(settings: Any) -> Iterator[Any]:
    """For a command that runs one cycle of ``settings`` and exits: Prefect's API server starts now, while
    this process loads spaCy, forks the workers and imports Prefect (see ``flows.local_api`` and
    ``pipeline.workers.preloaded_pool``); at the end the workers exit while the server stops. Yields the
    early server, or None when ``PREFECT_API_URL`` names one."""
    _quiet_prefect()
    from flows.local_api import ONE_SHOT_GC_THRESHOLDS, early_ephemeral_api

    # Collect young garbage less often, in this process and in the workers forked from it: with Prefect and
    # spaCy loaded, each collection walks a large heap (measured: the load step of a 400-article run took
    # 0.52 s with CPython's default thresholds and 0.37 s with these).
    gc.set_threshold(*ONE_SHOT_GC_THRESHOLDS)
    with early_ephemeral_api() or contextlib.nullcontext() as api:
        from pipeline.workers import (  # after the launch: 0.2 s of imports
            local_pool_spec,
            preloaded_pool,
            shutdown_pool,
        )

        try:
            if (pool := local_pool_spec(settings)) is not None:
                preloaded_pool(*pool)
            yield api
        finally:
            shutdown_pool(wait=False)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _writable_warehouse(settings)
    with _one_shot_api(settings) as api:
        from flows.cycle import run_cycle
        from flows.progress_display import cycle_progress

        with cycle_progress() as progress:  # bars on a terminal, gone before the summary; else stage lines
            summary = run_cycle(settings, api=api, progress=progress)
    print("\n".join(summary_lines(summary, _run_details(settings, summary.run_id))))
    return 0 if summary.status == "completed" else 1


def cmd_sql(args: argparse.Namespace) -> int:
    from pipeline.settings import reader_settings, warehouse_paths
    from warehouse.analyst import query_frame, query_rows, table_text

    settings = reader_settings(args.config, args.db, sections=("warehouse",))  # no alert secrets or topics needed
    from warehouse.analyst import analyst_db_path
    from warehouse.db import unreadable_problem

    paths = warehouse_paths(settings)
    if problem := unreadable_problem(analyst_db_path(paths, args.db)):
        raise ConfigError([problem])
    if args.format == "table":
        columns, rows = query_rows(args.query, warehouse=paths, db=args.db)
        print(table_text([printable_cell(c) for c in columns], [tuple(printable_cell(v) for v in r) for r in rows]))
        return 0
    frame = query_frame(args.query, warehouse=paths, db=args.db)
    if args.format == "csv":
        # Piped to a file or a program, CSV keeps the stored text byte for byte (it is data); to a
        # terminal its cells are escaped like a table's.
        (printable_frame(frame) if sys.stdout.isatty() else frame).to_csv(sys.stdout, index=False)
    else:
        # Escaped JSON is still the same data, so it is escaped wherever it goes.
        print(json_printable(frame.to_json(orient="records", date_format="iso", force_ascii=False)))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from newswatch.config import config_path, load_sections
    from pipeline.inspect import inspection

    settings = None  # no config at all: the defaults (public addresses only)
    if args.config or config_path(None).exists():  # one that is there must load: it may allow loopback
        settings = load_sections(args.config, ("fetch", "nlp"))
    from newswatch.errors import ItemError, RetriableError

    try:
        result = inspection(args.target, settings)
    except (ItemError, RetriableError) as e:  # the page's problem, said as the pipeline would record it
        print(printable(f"inspect: {secrets.redacted(str(e))}"), file=sys.stderr)
        return 1
    print(json_printable(json.dumps(result, ensure_ascii=False, indent=2, default=str)))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.serve import serve
    from newswatch.config import config_path

    settings = _settings(args)
    _writable_warehouse(settings)
    _quiet_prefect()
    return serve(settings, config_path(args.config))


def cmd_demo(args: argparse.Namespace) -> int:
    from pipeline.settings import settings_from_dict

    with _one_shot_api(settings_from_dict({})) as api:  # the demo runs with the default runner and NLP settings
        from flows.demo import run_demo

        return run_demo(Path(args.dir), api=api)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newswatch")
    except PackageNotFoundError:  # running from a source tree that was never installed
        from newswatch import __version__

        return str(__version__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="newswatch", description="Self-hosted news monitoring into DuckDB.")
    p.add_argument("--version", action="version", version=f"newswatch {_version()}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    def with_config(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--config", default=None, help="config file (default ./config.yaml, then $NEWSWATCH_CONFIG)")
        return sp

    with_config(sub.add_parser("run", help="run one poll cycle")).set_defaults(fn=cmd_run)
    with_config(sub.add_parser("serve", help="run cycles on the schedule until stopped")).set_defaults(fn=cmd_serve)
    with_config(sub.add_parser("check-config", help="validate the config")).set_defaults(fn=cmd_check_config)
    sp = with_config(sub.add_parser("sql", help="read-only SQL for analysts"))
    sp.add_argument("query")
    sp.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sp.add_argument("--db", default=None, help="query this DuckDB file instead of the configured warehouse")
    sp.set_defaults(fn=cmd_sql)
    sp = with_config(sub.add_parser("inspect", help="show what the pipeline sees in one page (JSON)"))
    sp.add_argument("target", help="a URL or a local HTML file")
    sp.set_defaults(fn=cmd_inspect)
    sp = sub.add_parser("demo", help="offline demo on bundled sample feeds")
    sp.add_argument("--dir", default="demo-data", help="where the demo warehouse goes")
    sp.set_defaults(fn=cmd_demo)
    from flows import cli_more, cli_search
    from flows.cli_ui import register_ui

    cli_more.register(sub, with_config)
    from flows import cli_feeds

    cli_search.register(sub, with_config)
    register_ui(sub, with_config)
    cli_feeds.register(sub, with_config)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(args.fn(args) or 0)
    except BrokenPipeError:  # `newswatch alerts list | head`: the reader has what it wanted
        _stdout_to_devnull()
        return 0
    except ConfigError as e:
        print("configuration error:", file=sys.stderr)
        for line in e.problems:
            print(f"  {printable(secrets.redacted(line))}", file=sys.stderr)
        return 2
    except FatalError as e:
        print(f"error: {printable(secrets.redacted(str(e)))}", file=sys.stderr)
        return 3


def _stdout_to_devnull() -> None:
    """After a closed pipe, the interpreter's final flush of stdout would fail again: point it at /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout replaced by something without a descriptor (tests)
        pass


# Commands that load Prefect, spaCy and DuckDB in this process to run a cycle, then exit.
ONE_SHOT_COMMANDS = frozenset({"run", "demo"})


def console_main() -> None:
    """The ``newswatch`` command: ``main``; after ``run`` and ``demo``, an exit without the interpreter's teardown.

    Why: tearing down an interpreter that holds Prefect, spaCy and DuckDB took 0.4-0.6 s of every run
    (the collector walks every object again, then every module is dismantled), 2% of a 400-article
    run. Once ``main`` has returned, the exit handlers still run as usual (Prefect's queue drains, the
    pool's and multiprocessing's joins, then ``logging.shutdown``) and the standard streams are flushed;
    only the teardown after them is skipped. The warehouse's connections are closed long before, and
    an exception or ``SystemExit`` from ``main`` takes the normal way out. Not in ``main`` itself, which
    tests call in-process.
    """
    code: list[int] = []
    words = [a for a in sys.argv[1:] if not a.startswith("-")]
    if words and words[0] in ONE_SHOT_COMMANDS:
        atexit.register(_exit_without_teardown, code)  # registered first, so it runs after every other handler
    code.append(main())
    sys.exit(code[0])


def _exit_without_teardown(code: list[int]) -> None:
    if not code:  # main raised: leave normally (tracebacks, KeyboardInterrupt's exit status)
        return
    logging.shutdown()  # its own exit handler was registered before ours and would run after it
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code[0])


if __name__ == "__main__":
    console_main()
