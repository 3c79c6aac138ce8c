"""Search benchmark on a synthetic archive: index build rate, per-cycle update cost, latency, size, vs ILIKE.

Usage: ``python bench/search.py [--articles 100000] [--small 10000] [--runs 30]``

Builds a warehouse with ``migrate()`` in a temporary folder, fills it with synthetic articles (Zipf-like
words, ~300 words each, a few planted phrases), then measures:

- the index build rate (``rebuilt_search_index`` over the whole archive);
- the writer's per-cycle update for 100 new articles at the small and at the full size, and their ratio
  (flat means the cost follows the new articles, not the archive);
- search latency p50/p99 (index candidates + matcher verification + copies + snippets, i.e. everything
  ``newswatch search`` does after opening the index) for a phrase and a boolean query;
- index size on disk per article;
- the same queries as ``ILIKE`` scans over ``articles.text`` in the same run, as the baseline.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from transform.topics import compiled_query
from warehouse.migrations import migrate
from warehouse.search import SearchFilters, search_hits
from warehouse.search_index import opened_index, rebuilt_search_index, search_index_path, updated_search_index

VOCAB = [f"w{i}" for i in range(6000)] + ["north", "korea", "summit", "talks", "nuclear", "sport", "kim", "jong", "un"]
WEIGHTS = [1 / (i + 1) for i in range(len(VOCAB))]
START = datetime(2026, 1, 1, tzinfo=UTC)


def _frame(rng: random.Random, first: int, n: int, run_id: str) -> pd.DataFrame:
    rows = []
    for i in range(first, first + n):
        words = rng.choices(VOCAB, WEIGHTS, k=300)
        if i % 50 == 0:
            words[100:103] = ["kim", "jong", "un"]
        if i % 30 == 0:
            words[200:202] = ["north", "korea"]
        text = " ".join(words)
        aid = f"{i:016x}"
        published = START + timedelta(minutes=i)
        rows.append((aid, f"http://127.0.0.1/{aid}", f"http://127.0.0.1/{aid}", f"f{i % 20}", f"title {words[5]} {words[9]}",
                     None, published, "feed", published, "en", text, 300, aid, f"{i // 3:016x}", run_id))
    cols = ["article_id", "url", "canonical_url", "feed_id", "title", "author", "published_at", "published_at_source",
            "fetched_at", "language", "text", "word_count", "content_hash", "story_id", "run_id"]
    return pd.DataFrame(rows, columns=cols)


def _insert(con: duckdb.DuckDBPyConnection, rng: random.Random, first: int, n: int, run_id: str) -> None:
    for start in range(first, first + n, 10_000):
        frame = _frame(rng, start, min(10_000, first + n - start), run_id)
        con.register("batch", frame)
        con.execute("INSERT INTO articles BY NAME SELECT *, md5_number_lower(article_id) AS article_key, "
                    "md5_number_lower(story_id) AS story_key FROM batch")
        con.unregister("batch")


def _cycle_updates(con: duckdb.DuckDBPyConnection, path: Path, rng: random.Random, first: int, label: str,
                   repeats: int = 3) -> float:
    times = []
    for k in range(repeats):
        _insert(con, rng, first + k * 100, 100, f"2027{label}{k:02d}")
        t = time.perf_counter()
        u = updated_search_index(con, path)
        times.append(time.perf_counter() - t)
        assert u.added == 100 and not u.rebuilt
    return statistics.median(times)


def _percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    rng = random.Random(17)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        con = duckdb.connect(str(path))
        migrate(con)
        _insert(con, rng, 0, args.small, "2026A")
        rebuilt_search_index(con, path)
        small_update = _cycle_updates(con, path, rng, 10_000_000, "S")
        _insert(con, rng, args.small, args.articles - args.small, "2026B")
        con.execute("CHECKPOINT")
        n = con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
        t = time.perf_counter()
        built = rebuilt_search_index(con, path)
        build_s = time.perf_counter() - t
        big_update = _cycle_updates(con, path, rng, 20_000_000, "T")
        n = con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
        folder = search_index_path(path).resolve()
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        print(f"archive: {n} articles, DuckDB file {path.stat().st_size / 1e6:.1f} MB")
        print(f"index build: {built.added} articles in {build_s:.1f}s = {built.added / build_s:,.0f} articles/s")
        print(f"index size: {size / 1e6:.1f} MB = {size / n:,.0f} bytes/article")
        print(f"per-cycle update, 100 new articles: at {args.small + 300}: {small_update * 1000:.0f} ms; "
              f"at {n}: {big_update * 1000:.0f} ms; ratio {big_update / small_update:.2f}")
        con.close()

        con = duckdb.connect(str(path), read_only=True)
        index, pos = opened_index(path)
        queries = {
            "phrase": ('"Kim Jong Un"', "text ILIKE '%kim jong un%'"),
            "boolean": ('"North Korea" AND (summit OR talk*) NOT sport*',
                        "text ILIKE '%north korea%' AND (text ILIKE '%summit%' OR text ILIKE '%talk%') "
                        "AND NOT text ILIKE '%sport%'"),
        }
        for name, (q, like) in queries.items():
            compiled = compiled_query(q)
            lat = []
            for _ in range(args.runs):
                t = time.perf_counter()
                res = search_hits(con, index, pos, compiled, SearchFilters(), limit=20)
                lat.append(time.perf_counter() - t)
            ilike = []
            for _ in range(5):
                t = time.perf_counter()
                hits = con.execute(f"SELECT article_id, title FROM articles WHERE {like} LIMIT 20").fetchall()
                ilike.append(time.perf_counter() - t)
            p50, p99, base = _percentile(lat, 0.5), _percentile(lat, 0.99), statistics.median(ilike)
            print(f"search {name} {q!r}: {len(res.hits)} hits, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms; "
                  f"ILIKE (LIMIT 20, {len(hits)} rows) median {base * 1000:.1f} ms; ILIKE/search p50 = {base / p50:.1f}x")
            t = time.perf_counter()
            total = con.execute(f"SELECT count(*) FROM articles WHERE {like}").fetchall()[0][0]
            print(f"  ILIKE count of all {total} matches: {(time.perf_counter() - t) * 1000:.1f} ms")
        con.close()


if __name__ == "__main__":
    main()
