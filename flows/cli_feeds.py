"""``newswatch feeds``: list the feeds with their state, add one (discovered from a site page), import and
export OPML, enable and disable.

The edits are made to config.yaml (see ``pipeline.feeds_admin``); ``serve`` picks them up at its next
cycle.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _when(t: datetime | None) -> str:
    return "" if t is None else t.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def cmd_feeds_list(args: argparse.Namespace) -> int:
    """One line per configured feed: state and reason, polls, failures, new items."""
    from newswatch import secrets
    from newswatch.config import load_sections
    from newswatch.errors import FatalError
    from warehouse.analyst import connect, table_text
    from warehouse.feeds_report import FeedStatus, feed_statuses
    from warehouse.state import feed_id_for

    settings = load_sections(args.config, ("warehouse", "feeds"))
    if not settings.feeds:
        print("(no feeds configured; add one with `newswatch feeds add URL`)")
        return 0
    now = datetime.now(UTC)
    feeds = [(feed_id_for(f.url), f.name, secrets.redacted(f.url), f.enabled) for f in settings.feeds]
    try:
        con = connect(settings.warehouse.paths)
    except FatalError as e:
        if e.reason != "no_warehouse":
            raise
        statuses = [FeedStatus(n, u, "new" if on else "paused", None if on else "enabled: false in the config",
                               None, None, 0, 0, 0, None) for _, n, u, on in feeds]
    else:
        try:
            statuses = feed_statuses(con, feeds, now=now)
        finally:
            con.close()
    columns = ["name", "url", "state", "last poll", "next poll", "failures", "new 24h", "new 7d", "last new item"]
    rows = [(s.name, s.url, s.state + (f": {s.reason}" if s.reason else ""), _when(s.last_polled_at),
             _when(s.next_poll_at), s.consecutive_failures, s.new_24h, s.new_7d, _when(s.last_new_item_at))
            for s in statuses]
    print(table_text(columns, rows, max_width=60))
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s.state] = counts.get(s.state, 0) + 1
    print(f"{len(statuses)} feeds: " + ", ".join(f"{n} {state}" for state, n in counts.items()) + " (times UTC)")
    return 0


def cmd_feeds_add(args: argparse.Namespace) -> int:
    """Find the feed behind a URL, check it parses, append it to the config."""
    from extract.http import HttpClient
    from newswatch import secrets
    from newswatch.config import config_path, load_sections
    from newswatch.errors import ItemError, RetriableError
    from pipeline.cycle import fetch_policy
    from pipeline.feeds_admin import FEED_SECTIONS, added_feed

    path = config_path(args.config)
    settings = load_sections(path, FEED_SECTIONS)
    try:
        with HttpClient(fetch_policy(settings)) as client:
            name, found = added_feed(path, settings, client, args.url, args.name)
    except (ItemError, RetriableError) as e:
        print(f"feeds add: {secrets.redacted(str(e))}", file=sys.stderr)
        return 1
    print(f"added {name!r}: {secrets.redacted(found.url)} ({found.how}; {found.entries} items now"
          + (f", titled {found.title!r}" if found.title else "") + f") to {path}")
    return 0


def cmd_feeds_import(args: argparse.Namespace) -> int:
    """Append an OPML file's subscriptions (folders become tags)."""
    from extract.opml import opml_feeds
    from newswatch.config import config_path, load_sections
    from newswatch.errors import ItemError
    from pipeline.feeds_admin import FEED_SECTIONS, imported_feeds

    path = config_path(args.config)
    settings = load_sections(path, FEED_SECTIONS)
    try:
        feeds = opml_feeds(Path(args.file).read_bytes())
    except OSError as e:
        print(f"feeds import: cannot read {args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    except ItemError as e:
        print(f"feeds import: {args.file}: {e.message}", file=sys.stderr)
        return 2
    added, skipped = imported_feeds(path, settings, feeds)
    for line in skipped:
        print(f"skipped {line}")
    print(f"imported {len(added)} of {len(feeds)} feeds into {path}" + (f": {', '.join(added)}" if added else ""))
    return 0


def cmd_feeds_export(args: argparse.Namespace) -> int:
    """The configured feeds as OPML 2.0, to stdout or ``--out``."""
    from extract.opml import opml_text
    from newswatch.config import config_path, load_sections
    from pipeline.feeds_admin import exported_feeds, raw_feed_urls

    path = config_path(args.config)
    settings = load_sections(path, ("feeds",))
    text = opml_text(exported_feeds(settings, raw_feed_urls(path)))
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"exported {len(settings.feeds)} feeds to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _switch(args: argparse.Namespace, enabled: bool) -> int:
    from newswatch import secrets
    from newswatch.config import config_path, load_sections
    from pipeline.feeds_admin import FEED_SECTIONS, reset_feed_state, switched_feed

    path = config_path(args.config)
    name = switched_feed(path, args.name, enabled=enabled)
    if not enabled:
        print(f"disabled {name!r} in {path}: it is not polled from the next cycle on")
        return 0
    settings = load_sections(path, FEED_SECTIONS)
    feed = next(f for f in settings.feeds if f.name == name)
    reset = reset_feed_state(settings, feed.url)
    print(f"enabled {name!r} ({secrets.redacted(feed.url)})"
          + ("; its failures and back-off are cleared: it is polled at the next cycle" if reset else ""))
    return 0


def cmd_feeds_enable(args: argparse.Namespace) -> int:
    return _switch(args, True)


def cmd_feeds_disable(args: argparse.Namespace) -> int:
    return _switch(args, False)


def register(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Add ``feeds`` and its sub-commands (``feeds`` alone lists them)."""
    sp = with_config(sub.add_parser("feeds", help="list, add, import/export (OPML), enable and disable feeds"))
    sp.set_defaults(fn=cmd_feeds_list)
    feeds = sp.add_subparsers(dest="feeds_command")
    with_config(feeds.add_parser("list", help="one line per feed with its state (the default)")).set_defaults(
        fn=cmd_feeds_list)
    a = with_config(feeds.add_parser("add", help="add a feed, or the feed a site page links to; checked first"))
    a.add_argument("url", help="a feed URL or a page of the site")
    a.add_argument("--name", default=None, help="the feed's name (default: its title)")
    a.set_defaults(fn=cmd_feeds_add)
    i = with_config(feeds.add_parser("import", help="add the feeds of an OPML file (folders become tags)"))
    i.add_argument("file")
    i.set_defaults(fn=cmd_feeds_import)
    e = with_config(feeds.add_parser("export", help="the feeds as OPML 2.0 (stdout by default)"))
    e.add_argument("--out", default=None, help="write to this file")
    e.set_defaults(fn=cmd_feeds_export)
    for word, fn, text in (("enable", cmd_feeds_enable, "enable a feed (clears a 404/410 disable and its back-off)"),
                           ("disable", cmd_feeds_disable, "pause a feed")):
        s = with_config(feeds.add_parser(word, help=text))
        s.add_argument("name")
        s.set_defaults(fn=fn)
