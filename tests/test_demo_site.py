"""The bundled demo site and the synthetic corpus: served over loopback, well-formed, deterministic.

The demo content is hand-written with deliberate traps (see ``DEMO_CASES``); these tests pin that
each trap is really there, so the demo keeps demonstrating what it claims to.
"""

from __future__ import annotations

import html
import io
import itertools
import re
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
import feedparser
import httpx
import pytest

from demosite import DEMO_CASES, DEMO_TOPICS, demo_feeds, demo_page_url, demo_pages, demo_site
from demosite.corpus import (
    synthetic_articles,
    synthetic_feed_urls,
    synthetic_page_html,
    synthetic_paragraphs,
    synthetic_site,
)
from demosite.loopback import LoopbackSite
from transform.topics import compiled_query, matched_terms
from transform.urls import normalized_url

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
BROKEN_FEEDS = set(DEMO_CASES["feed_http_500"] + DEMO_CASES["feed_not_xml"])


@pytest.fixture(scope="module")
def site() -> Iterator[LoopbackSite]:
    with demo_site(now=NOW) as s:
        yield s


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def _text(body_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", body_html))


def _shingles(text: str, k: int = 4) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + k]) for i in range(len(words) - k + 1)}


def _jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a), _shingles(b)
    return len(sa & sb) / len(sa | sb)


def test_every_demo_feed_is_served_and_only_the_broken_ones_fail(site, client):
    feeds = demo_feeds(site)
    assert len(feeds) == 7 and all(f["url"].startswith(site.base_url) for f in feeds)
    for feed in feeds:
        r = client.get(feed["url"])
        if feed["name"] in DEMO_CASES["feed_http_500"]:
            assert r.status_code == 500
            continue
        assert r.status_code == 200, feed
        if feed["name"] in DEMO_CASES["feed_not_xml"]:
            assert r.headers["content-type"].startswith("text/html")
            with pytest.raises(ParseError):
                SafeET.fromstring(r.content)
            continue
        assert "xml" in r.headers["content-type"]
        SafeET.fromstring(r.content)  # well-formed XML
        parsed = feedparser.parse(io.BytesIO(r.content))
        assert not parsed.bozo and parsed.entries, feed


def test_a_second_poll_of_a_feed_gets_304(site, client):
    for feed in demo_feeds(site):
        if feed["name"] in BROKEN_FEEDS:
            continue
        first = client.get(feed["url"])
        second = client.get(feed["url"], headers={"If-None-Match": first.headers["etag"]})
        assert second.status_code == 304 and second.content == b""


def test_every_demo_page_is_served_as_html_with_every_placeholder_filled(site, client):
    pages = demo_pages(NOW)
    assert 12 <= len(pages) <= 16
    for key, page in pages.items():
        r = client.get(demo_page_url(site, key))
        assert r.status_code == 200, key
        assert r.headers["content-type"].startswith("text/html")
        text = r.content.decode(page.charset)
        assert "{{" not in text and "}}" not in text, key
        assert f'<link rel="canonical" href="{site.base_url}{page.path}">' in text
        assert 'property="article:published_time"' in text
        if page.kind == "article":
            assert "min read" in text and page.credit in html.unescape(text)
        client.get(site.url(page.image_path)).raise_for_status()
    for feed in demo_feeds(site):
        body = client.get(feed["url"]).text
        assert "{{" not in body, feed["name"]


def test_every_feed_link_points_at_a_served_page(site, client):
    served = {normalized_url(demo_page_url(site, key)) for key in demo_pages(NOW)}
    linked = []
    for feed in demo_feeds(site):
        if feed["name"] not in BROKEN_FEEDS:
            linked += [e.link for e in feedparser.parse(io.BytesIO(client.get(feed["url"]).content)).entries]
    assert {normalized_url(u) for u in linked} == served
    # One URL appears twice: once plain, once with utm_ tracking parameters, in another feed.
    dup = demo_page_url(site, DEMO_CASES["link_in_two_feeds"][0])
    copies = [u for u in linked if normalized_url(u) == normalized_url(dup)]
    assert len(copies) == 2 and any("utm_source=" in u for u in copies) and dup in copies


def test_feed_dates_are_relative_to_now_and_one_item_has_none(site, client):
    pages = demo_pages(NOW)
    undated = []
    for feed in demo_feeds(site):
        if feed["name"] in BROKEN_FEEDS:
            continue
        for e in feedparser.parse(io.BytesIO(client.get(feed["url"]).content)).entries:
            stamp = e.get("published_parsed") or e.get("updated_parsed")
            if stamp is None:
                undated.append(e.link)
                continue
            when = datetime(*stamp[:6], tzinfo=UTC)
            assert NOW - timedelta(days=7) < when <= NOW
    assert [normalized_url(u) for u in undated] == [normalized_url(demo_page_url(site, DEMO_CASES["no_feed_date"][0]))]
    korea = pages["harbor-courier/kim-talks"]
    assert NOW - korea.published < timedelta(hours=24)
    assert {p.published.date() for p in pages.values()} >= {(NOW - timedelta(days=d)).date() for d in range(4)}


def test_the_windows_1252_page_is_not_utf8_and_declares_its_charset_in_html_only(site, client):
    key = DEMO_CASES["windows_1252"][0]
    r = client.get(demo_page_url(site, key))
    assert r.headers["content-type"] == "text/html"
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")
    text = r.content.decode("windows-1252")
    assert 'charset=windows-1252' in text and "Joaquín Peña" in text and "“" in text


def test_syndicated_and_updated_copies_are_near_duplicates_and_nothing_else_is():
    pages = demo_pages(NOW)
    texts = {k: _text(p.body) for k, p in pages.items() if p.kind == "article"}
    pairs = {tuple(sorted(DEMO_CASES["syndicated"])), tuple(sorted(DEMO_CASES["updated"]))}
    for a, b in itertools.combinations(sorted(texts), 2):
        similarity = _jaccard(texts[a], texts[b])
        if (a, b) in pairs:
            assert similarity > 0.6, (a, b, similarity)
        else:
            assert similarity < 0.1, (a, b, similarity)
    wire, copy = (pages[k] for k in DEMO_CASES["syndicated"])
    assert "(Reporting by" in wire.body and "(Reporting by" not in copy.body and wire.title != copy.title
    assert pages[DEMO_CASES["updated"][1]].title.startswith("UPDATED:")


def test_the_paywall_stub_has_no_article_text(site, client):
    key = DEMO_CASES["no_text"][0]
    page = client.get(demo_page_url(site, key)).text
    body = page[page.index("<body"):]
    assert len(_text(re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)).split()) < 250
    assert '"isAccessibleForFree": false' in page


def test_the_demo_topics_match_the_intended_articles():
    pages = demo_pages(NOW)

    def matching(query: str) -> set[str]:
        q = compiled_query(query)
        return {k for k, p in pages.items() if matched_terms(q, p.title, _text(p.body))}

    topics = {t["name"]: t["query"] for t in DEMO_TOPICS}
    korea = matching(topics["korea-diplomacy"])
    assert {"harbor-courier/kim-talks", "daily-meridian/kim-analysis", "northern-wire/ministers-prepare"} == korea
    sport = DEMO_CASES["topic_excluded_by_not"][0]
    assert sport in matching(topics["korea-diplomacy"].replace(" NOT sport*", ""))
    assert set(DEMO_CASES["syndicated"]) <= matching(topics["central-banks"])
    assert set(DEMO_CASES["updated"]) <= matching(topics["elections"])


def test_the_korea_story_carries_every_quote_shape():
    paragraphs = [_text(p) for p in re.findall(r"<p[^>]*>(.*?)</p>", demo_pages(NOW)["harbor-courier/kim-talks"].body)]
    body = "\n".join(paragraphs)
    assert any(p.startswith("“") and "”" not in p for p in paragraphs)  # a quote running on
    assert re.search(r"”,? Mr Han told reporters[^“]*\. “", body)  # split quote
    assert "She added: “" in body and "” he said." in body and "” the 79-year-old said" in body
    assert "” the president said" in body and "according to a short statement" in body
    assert "“roadmap”" in body and '"We support' in body  # a scare quote, and straight quotes
    assert "Kim Jong Un" in body and "Kim, who" in body  # the full name, then the surname alone


def test_every_demo_case_names_a_real_page_or_feed(site):
    known = set(demo_pages(NOW)) | {f["name"] for f in demo_feeds(site)}
    assert {ref for refs in DEMO_CASES.values() for ref in refs} <= known


# --- synthetic corpus -----------------------------------------------------------------------------

def test_the_synthetic_corpus_is_deterministic():
    a = synthetic_articles(50, seed=3, syndicated_fraction=0.2, now=NOW)
    b = synthetic_articles(50, seed=3, syndicated_fraction=0.2, now=NOW)
    assert a == b
    assert [synthetic_page_html(x, "http://h") for x in a[:10]] == [synthetic_page_html(x, "http://h") for x in b[:10]]
    other = synthetic_articles(50, seed=4, syndicated_fraction=0.2, now=NOW)
    assert [x.title for x in other] != [x.title for x in a]


def test_distinct_synthetic_articles_are_not_near_duplicates_but_copies_are():
    plan = synthetic_articles(150, seed=0, syndicated_fraction=0.2, now=NOW)
    distinct = [x for x in plan if not x.syndicated]
    texts = [" ".join(synthetic_paragraphs(x)) for x in distinct[:100]]
    worst = max(_jaccard(s, t) for s, t in itertools.combinations(texts, 2))
    assert worst < 0.2
    copies = [x for x in plan if x.syndicated]
    assert 15 <= len(copies) <= 45  # ~20% of 149
    for x in copies:
        source = plan[x.body_index]
        assert x.path != source.path and x.title != source.title and x.feed_index != source.feed_index
        assert _jaccard(" ".join(synthetic_paragraphs(x)), " ".join(synthetic_paragraphs(source))) > 0.6


def test_synthetic_articles_have_the_requested_length_names_and_quotes():
    for x in synthetic_articles(30, seed=1, words_per_article=(300, 500), now=NOW):
        paragraphs = synthetic_paragraphs(x)
        words = sum(len(p.split()) for p in paragraphs)
        assert 300 <= words <= 600
        body = " ".join(paragraphs)
        # The first quote introduces its speaker by full name next to a cue.
        assert re.search(r'(," said [A-Z]\w+ [A-Z]|[A-Z]\w+, [^"]+, said: "|," [A-Z]\w+ [A-Z]\w+, the .+ told reporters)', body)


def test_the_synthetic_site_serves_its_feeds_and_pages(client):
    plan = synthetic_articles(60, n_feeds=4, seed=2, now=NOW)
    with synthetic_site(60, n_feeds=4, seed=2, now=NOW) as s:
        urls = synthetic_feed_urls(s)
        assert len(urls) == 4
        links = []
        for url in urls:
            r = client.get(url)
            SafeET.fromstring(r.content)
            links += [e.link for e in feedparser.parse(io.BytesIO(r.content)).entries]
            assert client.get(url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
        assert sorted(links) == sorted(s.url(x.path) for x in plan)
        for x in plan[:8]:
            r = client.get(s.url(x.path))
            assert r.status_code == 200 and "<figcaption>" in r.text
            assert html.escape(synthetic_paragraphs(x)[0]) in r.text


def test_planning_1600_synthetic_articles_is_cheap():
    tracemalloc.start()
    plan = synthetic_articles(1600, seed=0, syndicated_fraction=0.1, now=NOW)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(plan) == 1600 and len({x.path for x in plan}) == 1600
    assert peak < 20_000_000
