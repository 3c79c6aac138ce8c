"""``newswatch inspect``: what the pipeline sees in one page, stored nowhere.

Why: when an article's entities or quotes look wrong, people need to see the cleaned text and the
analysis exactly as the pipeline produced them, with offsets, without running a cycle.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from dataclasses import asdict
from pathlib import Path
from typing import Any

from extract.html import decoded_html, page_content
from extract.http import FetchPolicy, HttpClient
from newswatch.errors import ItemError
from transform.articles import needs_date_search, page_reading

# Saved pages are often compressed (wget/curl archives, crawl dumps): recognised by their magic bytes.
_COMPRESSED = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


def file_bytes(path: Path, max_bytes: int) -> bytes:
    """A local page's bytes, decompressed when it is gzip, bzip2 or xz, at most ``max_bytes`` of them.

    Raises:
        ItemError: ``too_large`` beyond ``max_bytes`` (a decompression bomb stops there), ``bad_archive``.
    """
    with path.open("rb") as f:
        head = f.read(6)
    opener = next((o for magic, o in _COMPRESSED if head.startswith(magic)), None)
    try:
        with (opener(path, "rb") if opener else path.open("rb")) as f:
            data = f.read(max_bytes + 1)
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise ItemError("bad_archive", f"{path}: cannot decompress: {e}") from None
    if len(data) > max_bytes:
        raise ItemError("too_large", f"{path}: more than {max_bytes} bytes (fetch.max_bytes)")
    return data


def _page_html(target: str, settings: Any | None) -> tuple[str, str]:
    path = Path(target)
    if path.exists():
        limit = settings.fetch.max_bytes if settings is not None else FetchPolicy().max_bytes
        return decoded_html(file_bytes(path, limit), None), path.resolve().as_uri()
    if not target.startswith(("http://", "https://")):
        raise SystemExit(f"inspect: {target!r} is neither a file nor an http(s) URL")
    from pipeline.cycle import fetch_policy

    policy = fetch_policy(settings) if settings is not None else FetchPolicy()
    with HttpClient(policy) as client:
        res = client.get(target)
    return decoded_html(res.body, res.headers.get("content-type")), res.final_url


def inspection(target: str, settings: Any | None = None) -> dict[str, Any]:
    """Extraction, cleaning, entities and quotes of one page as a JSON-ready dict."""
    from transform.nlp.analysis import analyses_of_articles, load_pipeline

    html, url = _page_html(target, settings)
    page = page_reading(page_content(html, url, date_search=needs_date_search))
    model = settings.nlp.model if settings is not None else "en_core_web_sm"
    analysis = analyses_of_articles(load_pipeline(model), [(page.title, page.text)])[0]
    by_id = {e.entity_id: e for e in analysis.entities}
    return {
        "url": page.url,
        "canonical_url": page.canonical_url,
        "title": page.title,
        "author": page.author,
        "published_at": page.published_at,
        "published_at_source": page.published_at_source,
        "language": page.language,
        "word_count": len(page.text.split()),
        "text": page.text,
        "entities": [
            {**asdict(e), "aliases": list(e.aliases), "mentions": sum(1 for m in analysis.mentions if m.entity_id == e.entity_id)}
            for e in analysis.entities
        ],
        "mentions": [asdict(m) | {"type": by_id[m.entity_id].type if m.entity_id in by_id else None} for m in analysis.mentions],
        "quotes": [asdict(q) for q in analysis.quotes],
    }
