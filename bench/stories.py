"""Benchmark: the cost of assigning a story to a new article as the story index grows to 100,000 articles.

Why: the index must cost the same per article whether it holds a thousand articles or a week of a
large deployment; a cost that grows with the warehouse would make every cycle slower. Articles are
synthetic (Zipf-distributed words from a generated vocabulary, ~600 words each in paragraphs, 10% near
copies and 3% exact copies of recent articles), all inside the 7-day window, assigned by the real
``StoryIndex.assign`` in batches of 500 into a DuckDB file, each batch one transaction.

Usage:
    python bench/stories.py [--articles 100000] [--batch 500]
Prints ms per new article with the index at ~1k, ~10k and ~100k articles (batches with the index
between n/2 and 2n) and their ratio, the time to rebuild the index from DuckDB at the end, and the
memory the index holds per article.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402

from newswatch.models import Article  # noqa: E402
from transform.stories import content_hash  # noqa: E402
from transform.urls import stable_id  # noqa: E402
from warehouse.migrations import migrate  # noqa: E402
from warehouse.stories import StoryIndex  # noqa: E402

START = datetime(2024, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=6)  # every article stays inside the default 7-day window


class Corpus:
    """Deterministic synthetic news text: a 40k-word vocabulary drawn with Zipf frequencies (s=1.05)."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        lengths = self.rng.integers(2, 11, size=40_000)
        self.vocab = np.array(["".join(self.rng.choice(letters, n)) for n in lengths])
        weights = 1.0 / np.arange(1, len(self.vocab) + 1) ** 1.05
        self.cdf = np.cumsum(weights / weights.sum())
        self.texts: list[str] = []  # the last 2,000, which copies are made from

    def paragraphs(self, words: int) -> list[str]:
        idx = np.minimum(np.searchsorted(self.cdf, self.rng.random(words)), len(self.vocab) - 1)
        tokens = self.vocab[idx].tolist()
        return [" ".join(tokens[i : i + 55]) + "." for i in range(0, len(tokens), 55)]

    def text(self, i: int) -> str:
        """Article ``i``: new text, or a near/exact copy of one of the last 2,000 articles."""
        roll = self.rng.random()
        if self.texts and roll < 0.13:
            src = self.texts[-int(self.rng.integers(1, min(len(self.texts), 2000) + 1))]
            if roll < 0.03:
                out = src
            else:
                paras = src.split("\n\n")
                del paras[int(self.rng.integers(0, len(paras)))]
                out = "\n\n".join(["Advertisement", *paras, "(Reporting by a correspondent; editing by a desk)"])
        else:
            out = "\n\n".join(self.paragraphs(int(np.clip(self.rng.normal(600, 150), 200, 1500))))
        self.texts = [*self.texts[-1999:], out]
        return out


def articles(corpus: Corpus, start: int, count: int, total: int) -> list[Article]:
    out = []
    for i in range(start, start + count):
        body = corpus.text(i)
        when = START + SPAN * (i / total)
        url = f"https://site{i % 97}.example/news/2024/story-{i}"
        out.append(Article(stable_id("article", url), url, url, f"feed{i % 97}", f"Synthetic headline number {i}",
                           None, when, "feed", when + timedelta(minutes=5), "en", body, len(body.split()),
                           content_hash(body)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="story index benchmark")
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args(argv)
    total, batch = args.articles, args.batch
    checkpoints = [n for n in (1_000, 10_000, 100_000) if n <= total]
    corpus = Corpus()
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        migrate(con)
        index = StoryIndex.load(con, now=START)
        # (index size before the batch, CPU seconds per article, wall seconds per article). CPU time of the
        # process (DuckDB's threads included) is the figure compared: the machine is shared, and wall time
        # then measures the neighbours as much as the index.
        timings: list[tuple[int, float, float]] = []
        methods: dict[str, int] = {}
        for start in range(0, total, batch):
            arts = articles(corpus, start, min(batch, total - start), total)
            t, cpu = time.perf_counter(), time.process_time()
            con.execute("BEGIN")
            result = index.assign(con, arts)
            con.execute("COMMIT")
            timings.append((len(index) - len(arts), (time.process_time() - cpu) / len(arts),
                            (time.perf_counter() - t) / len(arts)))
            for r in result:
                methods[r.method] = methods.get(r.method, 0) + 1
        print(f"{total:,} articles assigned in batches of {batch}; methods: {methods}")
        per_size = {}
        for n in checkpoints:
            # the batches with the index between n/2 and 2n articles: the median is the typical cost, the
            # mean includes the LSH compactions (amortised cost)
            near = np.array([(c, w) for size, c, w in timings if n / 2 <= size < 2 * n] or [timings[-1][1:]]) * 1e3
            per_size[n] = float(np.median(near[:, 0]))
            print(f"index ~{n:>7,} articles: CPU {per_size[n]:.3f} ms per new article median, "
                  f"{near[:, 0].mean():.3f} mean; wall {np.median(near[:, 1]):.3f} median ({len(near)} batches)")
        if len(checkpoints) > 1:
            print(f"CPU ratio {checkpoints[-1]:,} / {checkpoints[0]:,}: {per_size[checkpoints[-1]] / per_size[checkpoints[0]]:.2f}"
                  f" (index size x{checkpoints[-1] // checkpoints[0]})")
        del index, corpus
        gc.collect()
        t, cpu = time.perf_counter(), time.process_time()
        reloaded = StoryIndex.load(con, now=START + SPAN)
        print(f"rebuild from DuckDB at start: {time.perf_counter() - t:.2f} s wall, {time.process_time() - cpu:.2f} s CPU"
              f" for {len(reloaded):,} articles")
        del reloaded
        gc.collect()
        tracemalloc.start()
        arrow0 = pa.total_allocated_bytes()
        reloaded = StoryIndex.load(con, now=START + SPAN)
        held = tracemalloc.get_traced_memory()[0] + pa.total_allocated_bytes() - arrow0
        tracemalloc.stop()
        print(f"memory held by the index: {held / 2**20:.0f} MiB, {held / len(reloaded) / 1024:.1f} KiB per article")
        con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
