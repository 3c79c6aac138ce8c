"""Page render times of ``newswatch ui`` on a synthetic 100k-article archive (target: p95 < 300 ms).

The archive is built with ``migrate()`` and bulk SQL (the load path's per-article work is not what is
measured here): 100k articles over 60 days from 40 feeds, one story in five carried by 2-4 outlets,
12 topics matching ~20% of articles, 5k entities with ~5 mentions per article, ~0.6 quotes per article,
then published as a snapshot. The real command serves it in a subprocess; every page (HTML and its
JSON) is fetched over loopback HTTP, a few warm-up requests first, then N timed requests each.
Each page is timed cold (a new URL each time, so the server's per-minute page memo never answers and
every query runs) and warm (the same URL again, as when several analysts open the dashboard).
Baseline, measured in the same run: the round trip of a trivial console query (``SELECT 1``), i.e.
HTTP + a cursor on the snapshot + template, without any warehouse work. Ratios are page p95 / that.

Run: .venv/bin/python bench/ui.py [--articles 100000] [--n 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ui_fixture import running_ui  # noqa: E402

from warehouse.migrations import migrate  # noqa: E402
from warehouse.snapshot import publish_snapshot  # noqa: E402

TOPICS = 12
FEEDS = 40
ENTITIES = 5000


def build_archive(path: Path, articles: int) -> Path:
    """The synthetic warehouse at ``path``, published; returns the snapshot link."""
    con = duckdb.connect(str(path))
    migrate(con)
    con.execute(f"INSERT INTO feeds (feed_id, name, url, last_status, consecutive_failures, last_polled_at) "
                f"SELECT 'f' || i, 'Feed ' || i, 'https://feed' || i || '.example/rss', "
                f"CASE WHEN i % 13 = 0 THEN 'http_500' ELSE 'ok' END, CASE WHEN i % 13 = 0 THEN 3 ELSE 0 END, now() "
                f"FROM range({FEEDS}) t(i)")
    # Article i belongs to story i // 5 * 5 when i % 5 < 3 (copies), else to itself.
    con.execute(f"""
        INSERT INTO articles (article_id, url, canonical_url, feed_id, title, author, published_at,
            published_at_source, fetched_at, language, text, word_count, content_hash, story_id, run_id, article_key,
            story_key) SELECT
            'a' || i, 'https://x.example/' || i, 'https://x.example/' || i, 'f' || (i % {FEEDS}),
            'Headline number ' || (CASE WHEN i % 5 < 3 THEN i // 5 * 5 ELSE i END), 'Staff',
            now() - INTERVAL (i * 60 * 24 * 60 // {articles}) MINUTE, 'feed', now(), 'en',
            'Body of article ' || i || repeat(' words', 200), 200, 'h' || i,
            's' || (CASE WHEN i % 5 < 3 THEN i // 5 * 5 ELSE i END), 'r1', md5_number_lower('a' || i),
            md5_number_lower('s' || (CASE WHEN i % 5 < 3 THEN i // 5 * 5 ELSE i END))
        FROM range({articles}) t(i)""")
    con.execute("""
        INSERT INTO stories SELECT story_id, min(published_at), max(published_at), any_value(title), count(*)
        FROM articles GROUP BY story_id""")
    con.execute("""
        INSERT INTO story_links (article_id, story_id, matched_article_id, method, similarity, linked_at) SELECT article_id, story_id, CASE WHEN 's' || substr(article_id, 2) = story_id THEN NULL
               ELSE 'a' || substr(story_id, 2) END,
               CASE WHEN 's' || substr(article_id, 2) = story_id THEN 'first' WHEN hash(article_id) % 2 = 0 THEN 'exact'
               ELSE 'near' END, 0.8, now() FROM articles""")
    con.execute(f"INSERT INTO topic_matches (article_id, topic, matched_terms, matched_at, article_key) SELECT article_id, "
                f"'topic-' || (hash(article_id) % {TOPICS}), ['term'], now(), md5_number_lower(article_id) "
                "FROM articles WHERE hash(article_id) % 5 = 0")
    con.execute(f"INSERT INTO entities SELECT 'e' || i, 'Entity ' || i, CASE WHEN i % 3 = 0 THEN 'PERSON' ELSE 'ORG' END, "
                f"['Entity ' || i], now() FROM range({ENTITIES}) t(i)")
    con.execute(f"""
        INSERT INTO mentions (article_id, entity_id, surface, start_char, end_char) SELECT a.article_id, 'e' || ((hash(a.article_id) + k * 7919) % {ENTITIES} * (k % 2) + k),
               'Entity', k * 10, k * 10 + 6
        FROM articles a, range(5) r(k)""")
    con.execute("""
        INSERT INTO quotes (quote_id, article_id, text, speaker, speaker_entity_id, cue, start_char, end_char, article_key)
        SELECT 'q' || a.article_id, a.article_id, 'A quoted sentence number ' || a.article_id,
               'Entity ' || (hash(a.article_id) % 300 * 3), 'e' || (hash(a.article_id) % 300 * 3), 'said', 0, 30,
               md5_number_lower(a.article_id)
        FROM articles a WHERE hash(a.article_id) % 5 < 3""")
    con.execute("INSERT INTO runs (run_id, started_at, finished_at, status) VALUES ('r1', now(), now(), 'completed')")
    con.execute("CHECKPOINT")
    con.close()
    return publish_snapshot(path)


def timed(client: httpx.Client, path: str, n: int, *, cold: bool) -> list[float]:
    """``n`` timings of ``path``; ``cold`` makes every URL new (a throw-away parameter), so the server's
    per-minute page memo never answers and each request runs all its queries."""
    for _ in range(2):
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    out = []
    sep = "&" if "?" in path else "?"
    for i in range(n):
        url = f"{path}{sep}bench={i}-{time.time_ns()}" if cold else path
        t = time.perf_counter()
        r = client.get(url)
        out.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200
    return out


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        snap = build_archive(Path(tmp) / "wh.duckdb", args.articles)
        print(f"archive: {args.articles} articles built and published in {time.perf_counter() - t:.1f} s")
        with running_ui("--db", str(snap)) as url, httpx.Client(base_url=url, timeout=60) as client:
            story = client.get("/api/home").json()["latest_stories"][0]["story_id"]
            base = timed(client, "/sql?q=SELECT+1", args.n, cold=True)
            print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
            print(f"baseline /sql?q=SELECT 1: p50 {statistics.median(base):.1f} ms, p95 {p95(base):.1f} ms")
            pages = ["/", "/topics", "/topics/topic-3", f"/stories/{story}", "/entities/e3", "/quotes",
                     "/quotes?speaker=entity+3&q=sentence", "/feeds", "/sql?q=SELECT+count(*)+FROM+articles",
                     "/api/home", "/api/topics/topic-3", "/api/entities/e3"]
            worst = 0.0
            print(f"{'page':42} {'cold p50':>9} {'cold p95':>9} {'p95/base':>9} {'warm p95':>9}")
            for p in pages:
                xs = timed(client, p, args.n, cold=True)
                warm = timed(client, p, args.n, cold=False)
                worst = max(worst, p95(xs))
                print(f"{p:42} {statistics.median(xs):9.1f} {p95(xs):9.1f} {p95(xs) / p95(base):9.1f} {p95(warm):9.1f}")
            print(f"load average {os.getloadavg()[0]:.2f}; worst cold p95: {worst:.1f} ms (target < 300 ms): "
                  f"{'OK' if worst < 300 else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
