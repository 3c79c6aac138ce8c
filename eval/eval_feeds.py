"""Measure feed parsing on the third-party feeds in ../shared/eval/feeds (read there, never copied).

For every feed in ``feeds/`` (expected item counts from ``index.tsv``) and ``edge_cases/`` (no
expectations), prints items parsed vs expected, repeated items collapsed, how many entries carry a
date, how many have a date string nobody could read, and any failure. The target: every feed in
``feeds/`` yields every item (parsed + collapsed repeats == expected) and every item that carries a
date string gets a date.

Usage: ``python eval/eval_feeds.py [EVAL_DIR]`` (default: ../shared/eval/feeds next to the repo).
Exit status 1 when a feed in ``feeds/`` misses the target.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extract.feeds import feed_report  # noqa: E402
from newswatch.errors import ItemError  # noqa: E402

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "feeds"


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else DEFAULT_DIR
    if not (root / "index.tsv").exists():
        print(f"no evaluation feeds at {root}")
        return 0
    with (root / "index.tsv").open(encoding="utf-8") as f:
        expected = {row["file"]: int(row["n_items"]) for row in csv.DictReader(f, delimiter="\t")}
    header = f"{'feed':44} {'expect':>6} {'parsed':>6} {'repeat':>6} {'dated':>6} {'nodate':>6} {'badate':>6} {'ms':>6}  note"
    print(header)
    print("-" * len(header))
    misses: list[str] = []
    totals = [0, 0, 0, 0, 0]
    for path in sorted(root.glob("feeds/*")) + sorted(root.glob("edge_cases/*")):
        want = expected.get(path.name) if path.parent.name == "feeds" else None
        started = time.perf_counter()
        try:
            report = feed_report(path.read_bytes(), feed_id=path.stem, url=f"https://feeds.example/{path.name}")
        except ItemError as exc:
            print(f"{path.parent.name[:1]}/{path.name[:42]:42} {want or '-':>6} FAILED {exc.reason}: {exc.message[:60]}")
            if want is not None:
                misses.append(path.name)
            continue
        ms = (time.perf_counter() - started) * 1000
        n = len(report.feed.entries)
        dated = n - report.undated
        no_date_string = report.undated - report.unreadable_dates
        note = (report.feed.warning or "")[:50]
        print(f"{path.parent.name[:1]}/{path.name[:42]:42} {want if want is not None else '-':>6} {n:>6} "
              f"{report.duplicates:>6} {dated:>6} {no_date_string:>6} {report.unreadable_dates:>6} {ms:>6.0f}  {note}")
        if want is not None:
            totals = [totals[0] + want, totals[1] + n, totals[2] + report.duplicates, totals[3] + dated,
                      totals[4] + report.unreadable_dates]
            if n + report.duplicates != want or report.unreadable_dates:
                misses.append(path.name)
    print("-" * len(header))
    print(f"feeds/ total: expected {totals[0]}, parsed {totals[1]} + {totals[2]} repeats collapsed, "
          f"{totals[3]} dated, {totals[4]} unreadable dates; "
          f"{len(expected) - len(misses)}/{len(expected)} feeds on target")
    if misses:
        print("missed:", ", ".join(misses))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
