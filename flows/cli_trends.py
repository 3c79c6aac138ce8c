"""``newswatch trends``: a chart (PNG + HTML page) of a topic's or entity's daily volume, spikes marked.

Why its own module: cli_more.py is shared by several commands under construction; this one only needs
``register_trends(sub, with_config)`` called from there. It reads the analysts' snapshot through
``warehouse.analyst.connect`` (read-only), so it works while a cycle is writing.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from newswatch.terminal import printable


def _days(text: str) -> int:
    from warehouse.trends import MAX_DAYS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from None
    if not 1 <= value <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_DAYS}")
    return value


def cmd_trends(args: argparse.Namespace) -> int:
    """Query the series, write the PNG and HTML page, print a short summary and the paths."""
    from flows.charts import written_trend_files
    from pipeline.settings import reader_settings, warehouse_paths
    from warehouse.analyst import connect
    from warehouse.trends import entity_series, summary_lines, topic_series

    settings = reader_settings(args.config, args.db)
    con = connect(warehouse_paths(settings), args.db)
    try:
        if args.topic is not None:
            series = topic_series(con, args.topic, args.days, share=args.share)
        else:
            series = entity_series(con, args.entity, args.days, share=args.share)
    finally:
        con.close()
    png, page = written_trend_files(series, Path(args.out))
    print(printable("\n".join(summary_lines(series))))
    print(printable(f"wrote {png}"))
    print(printable(f"wrote {page}"))
    return 0


def register_trends(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Add ``trends`` to the ``newswatch`` sub-commands."""
    sp = with_config(sub.add_parser(
        "trends", help="chart a topic's or entity's daily volume with spikes marked (PNG + HTML)"))
    which = sp.add_mutually_exclusive_group(required=True)
    which.add_argument("--topic", help="a topic name from the config")
    which.add_argument("--entity", help="an entity_id, name or alias (e.g. 'Kim Jong Un')")
    sp.add_argument("--days", type=_days, default=30, help="how many UTC days to show, ending today (default 30)")
    sp.add_argument("--share", action="store_true",
                    help="plot the share of all stories that day instead of counts (see the README's share definition)")
    sp.add_argument("--out", default=".", help="folder for the PNG and HTML files (default: the current one)")
    sp.add_argument("--db", default=None, help="read this DuckDB file instead of the configured warehouse's snapshot")
    sp.set_defaults(fn=cmd_trends)
