"""The alerts and trends commands (and the registration of serve), kept apart from cli.py's core commands.

``newswatch alerts test RULE`` sends a test message to every channel of a rule (``operator`` for the
operator channels) and says which accepted it. ``newswatch alerts list`` shows the latest outbox rows,
story alerts and operator notices together, with their status, attempts and last error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def cmd_alerts_test(args: argparse.Namespace) -> int:
    """Send the test message; exit 1 when any channel refused it."""
    from newswatch.terminal import printable
    from pipeline.delivery import send_test_alert
    from pipeline.settings import load_settings

    results = send_test_alert(load_settings(args.config), args.rule)
    for channel, error in results:
        print(printable(f"ok      {channel}" if error is None else f"FAILED  {channel}: {error}", multiline=False))
    return 0 if all(error is None for _, error in results) else 1


def cmd_alerts_list(args: argparse.Namespace) -> int:
    """Print the latest alerts (or only the problems) and the totals per status."""
    import pandas as pd

    from newswatch.terminal import printable, printable_frame
    from pipeline.settings import load_settings
    from warehouse.outbox import outbox_reader, recent_alerts, status_counts

    settings = load_settings(args.config)
    con, note = outbox_reader(settings.warehouse.paths)
    try:
        frame = recent_alerts(con, limit=args.limit, problems_only=args.problems)
        counts = status_counts(con)
    finally:
        con.close()
    if note:
        print(printable(note))
    if frame.empty:
        print("(no alerts)" if not args.problems else "(no failed or retrying alerts)")
    else:
        with pd.option_context("display.max_rows", 1000, "display.max_columns", 20, "display.width", 220,
                               "display.max_colwidth", 70):
            print(printable_frame(frame).to_string(index=False))
    print("totals: " + (", ".join(f"{n} {s}" for s, n in counts) or "none"))
    return 0


def _register_alerts(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    sp = sub.add_parser("alerts", help="test alert channels, list recent alerts and failures")
    alerts = sp.add_subparsers(dest="alerts_command", required=True)
    t = with_config(alerts.add_parser("test", help="send a test message to every channel of a rule"))
    t.add_argument("rule", help="an alert rule's name (its topic when it has no name:), or 'operator'")
    t.set_defaults(fn=cmd_alerts_test)
    ls = with_config(alerts.add_parser("list", help="recent alerts with status, attempts and errors"))
    ls.add_argument("--limit", type=int, default=30, help="rows to show (default 30)")
    ls.add_argument("--problems", action="store_true", help="only alerts that failed or are waiting for a retry")
    ls.set_defaults(fn=cmd_alerts_list)


def register(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Add the extra sub-commands."""
    from flows.cli_trends import register_trends

    _register_alerts(sub, with_config)
    register_trends(sub, with_config)
