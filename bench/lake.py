"""Publication cost per cycle, disk use and README query latencies: the full-copy snapshot vs the Parquet lake.

At each size a synthetic warehouse is built with ``bench/ui.py``'s ``build_archive`` (all tables, consistent
keys, 60 days), the lake gets its first (full) publication, then each round appends a cycle of 50 new articles
(with their stories, links, mentions, quotes, matches) and times, on the same file: ``publish_lake`` (what a
cycle now pays) and ``publish_snapshot`` (the old full copy). Medians of ``--rounds``. Disk: the live file,
the lake, the snapshot folder (two versions, as kept). Query latencies: the README's examples through
``warehouse.lake.lake_connection`` and through the snapshot file, median of 3 after one warm-up.

Run: .venv/bin/python bench/lake.py [--sizes 10000,100000,300000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bench.ui import ENTITIES, build_archive  # noqa: E402
from warehouse.lake import LakePaths, lake_connection, publish_lake  # noqa: E402
from warehouse.snapshot import publish_snapshot, snapshot_path  # noqa: E402

QUERIES = {
    "entity_daily_by_name": "SELECT day, mentions, share FROM entity_daily WHERE name = 'Entity 42' ORDER BY day",
    "cooccurrence_7_days": "SELECT name_a, name_b, sum(articles) n FROM cooccurrence "
                           "WHERE day >= (SELECT max(day) FROM cooccurrence) - 7 GROUP BY ALL ORDER BY n DESC LIMIT 10",
    "text_ilike": "SELECT count(*) FROM articles WHERE text ILIKE '%article 4242 %'",
    "latest_stories": "SELECT story_id, title, article_count FROM stories ORDER BY last_seen_at DESC LIMIT 20",
}


def _new_cycle(con: duckdb.DuckDBPyConnection, first: int, n: int = 50) -> None:
    """n new articles with everything a loaded cycle writes."""
    con.execute("BEGIN TRANSACTION")
    con.execute(f"""
        INSERT INTO articles (article_id, url, canonical_url, feed_id, title, author, published_at, published_at_source,
                              fetched_at, language, text, word_count, content_hash, story_id, run_id, article_key, story_key)
        SELECT 'n' || i, 'https://n.example/' || i, 'https://n.example/' || i, 'f' || (i % 40), 'New ' || i, 'Staff',
               now(), 'feed', now(), 'en', 'Body of new article ' || i || repeat(' words', 200), 200, 'hn' || i,
               's' || (i % 997), 'rb', md5_number_lower('n' || i), md5_number_lower('s' || (i % 997))
        FROM range({first}, {first + n}) t(i)""")
    con.execute(f"""INSERT INTO stories SELECT 's' || (i % 997), now(), now(), 'New ' || i, 2 FROM range({first}, {first + n}) t(i)
                    ON CONFLICT (story_id) DO UPDATE SET last_seen_at = excluded.last_seen_at,
                    article_count = stories.article_count + 1""")
    con.execute(f"INSERT INTO story_links (article_id, story_id, method, linked_at) "
                f"SELECT 'n' || i, 's' || (i % 997), 'near', now() FROM range({first}, {first + n}) t(i)")
    con.execute(f"INSERT INTO mentions (article_id, entity_id, surface, start_char, end_char) "
                f"SELECT 'n' || i, 'e' || ((i * 31 + k) % {ENTITIES}), 'Entity', k * 10, k * 10 + 6 "
                f"FROM range({first}, {first + n}) t(i), range(5) r(k)")
    con.execute(f"INSERT INTO quotes (quote_id, article_id, text, speaker, speaker_entity_id, cue, start_char, end_char, article_key) "
                f"SELECT 'qn' || i, 'n' || i, 'Quoted', 'Entity 3', 'e3', 'said', 0, 6, md5_number_lower('n' || i) "
                f"FROM range({first}, {first + n}) t(i)")
    con.execute(f"INSERT INTO topic_matches (article_id, topic, matched_terms, matched_at, article_key) "
                f"SELECT 'n' || i, 'topic-1', ['term'], now(), md5_number_lower('n' || i) FROM range({first}, {first + n}) t(i)")
    con.execute("COMMIT")


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _query_times(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    out = {}
    for name, sql in QUERIES.items():
        con.execute(sql).fetchall()
        times = []
        for _ in range(3):
            t = time.perf_counter()
            con.execute(sql).fetchall()
            times.append(time.perf_counter() - t)
        out[name] = statistics.median(times)
    return out


def measure(articles: int, rounds: int, folder: Path) -> dict[str, object]:
    path = folder / f"w{articles}.duckdb"
    build_archive(path, articles)  # also publishes one snapshot
    paths = LakePaths.beside(path)
    con = duckdb.connect(str(path))
    t = time.perf_counter()
    publish_lake(con, paths, compact=False)
    first = time.perf_counter() - t
    lake_times, snap_times, noop_times = [], [], []
    for r in range(rounds):
        _new_cycle(con, r * 50)
        con.execute("CHECKPOINT")
        t = time.perf_counter()
        publish_lake(con, paths, compact=False)
        lake_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        publish_lake(con, paths, compact=False)  # a no-op cycle
        noop_times.append(time.perf_counter() - t)
        con.close()
        t = time.perf_counter()
        publish_snapshot(path)
        snap_times.append(time.perf_counter() - t)
        con = duckdb.connect(str(path))
    t = time.perf_counter()
    publish_lake(con, paths, compact=True)
    compact = time.perf_counter() - t
    con.close()
    reader = lake_connection(paths)
    lake_q = _query_times(reader)
    reader.close()
    snap = duckdb.connect(str(snapshot_path(path)), read_only=True)
    snap_q = _query_times(snap)
    snap.close()
    return {"articles": articles, "first_publication_s": first, "lake_publish_s": statistics.median(lake_times),
            "lake_noop_s": statistics.median(noop_times), "snapshot_copy_s": statistics.median(snap_times),
            "compaction_s": compact, "live_bytes": _size(path), "lake_bytes": _size(paths.lake),
            "snapshot_bytes": _size(snapshot_path(path).parent), "lake_query_s": lake_q, "snapshot_query_s": snap_q}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,300000")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="nw-lake-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            res = measure(n, args.rounds, Path(tmp))
            results.append(res)
            mb = 2**20
            print(f"{n:>8} articles: publish lake {res['lake_publish_s']:.3f} s (no-op {res['lake_noop_s']:.3f} s), "
                  f"snapshot copy {res['snapshot_copy_s']:.3f} s, first publication {res['first_publication_s']:.2f} s, "
                  f"compaction {res['compaction_s']:.2f} s; disk live {res['live_bytes'] / mb:.0f} MB, "
                  f"lake {res['lake_bytes'] / mb:.0f} MB, snapshots {res['snapshot_bytes'] / mb:.0f} MB", flush=True)
            for q in QUERIES:
                print(f"    {q:<22} lake {res['lake_query_s'][q] * 1000:7.1f} ms   "
                      f"snapshot {res['snapshot_query_s'][q] * 1000:7.1f} ms", flush=True)
            Path(tmp, f"w{n}.duckdb").unlink()
    print(json.dumps({"sizes": [r["articles"] for r in results],
                      "lake_publish_seconds": [r["lake_publish_s"] for r in results],
                      "snapshot_copy_seconds": [r["snapshot_copy_s"] for r in results]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
