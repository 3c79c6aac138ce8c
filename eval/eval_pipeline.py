"""Extraction quality through the whole pipeline: aeb_dev pages served over loopback, one real cycle.

Usage:  .venv/bin/python eval/eval_pipeline.py

Every page of ../shared/eval/extraction/aeb_dev is served from a loopback server and listed in an
RSS feed; one ``newswatch`` cycle (a real Prefect flow run, NLP off for speed) loads them into a
fresh warehouse, and ``articles.text`` is scored against ``articleBody`` with the mean shingle F1 of
../shared/eval/README.md. A page that did not load scores 0. The data is read in place, never copied.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval" / "extraction" / "aeb_dev"


def main() -> int:
    if not EVAL_DIR.exists():
        print(f"skipped: {EVAL_DIR} not found")
        return 0
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="nw-eval-prefect-"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    import duckdb

    from demosite.loopback import LoopbackSite, Route
    from eval.eval_extraction import shingle_f1
    from flows.cycle import run_cycle
    from pipeline.settings import settings_from_dict
    from transform.urls import normalized_url

    truth = json.loads((EVAL_DIR / "ground-truth.json").read_text())
    site = LoopbackSite()
    items = []
    now = format_datetime(datetime.now(UTC))
    for page_id in sorted(truth):
        html = gzip.decompress((EVAL_DIR / "html" / f"{page_id}.html.gz").read_bytes())
        url = site.add(f"/a/{page_id}", Route(html, content_type="text/html"))
        items.append(f"<item><title>{page_id}</title><link>{escape(url)}</link><guid>{page_id}</guid><pubDate>{now}</pubDate></item>")
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>eval</title>{"".join(items)}</channel></rss>'
    site.add("/feed.xml", Route(feed.encode(), content_type="application/rss+xml"))
    tmp = Path(tempfile.mkdtemp(prefix="nw-eval-"))
    settings = settings_from_dict({
        "warehouse": {"path": str(tmp / "eval.duckdb")},
        "fetch": {"allow_private_networks": True, "per_host_concurrency": 8},
        "feeds": [{"name": "aeb_dev", "url": site.url("/feed.xml")}],
        "nlp": {"enabled": False},
    })
    with site:
        summary = run_cycle(settings)
    con = duckdb.connect(settings.warehouse.path, read_only=True)
    texts = {r[0]: r[1] for r in con.execute("SELECT url, text FROM articles").fetchall()}
    con.close()
    scores = []
    for page_id, gt in sorted(truth.items()):
        text = texts.get(site.url(f"/a/{page_id}")) or texts.get(normalized_url(site.url(f"/a/{page_id}"))) or ""
        scores.append(shingle_f1(text, gt["articleBody"]))
    print(f"cycle: {summary.status}, {summary.articles_new} articles loaded, {summary.quarantined} quarantined, "
          f"{summary.duplicates} duplicates, {summary.seconds:.1f}s")
    print(f"aeb_dev through the pipeline: mean shingle F1 {sum(scores) / len(scores):.4f} over {len(scores)} pages "
          f"({sum(1 for s in scores if s == 0)} scored 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
