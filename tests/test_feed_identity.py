"""Distinct feed URLs never share a ``feed_id``, secrets included; existing warehouses keep their feeds.

Two feeds whose URLs differ only in a ``${VAR}`` password used to get the id of their common redacted
form: ``check-config`` said OK and every cycle then failed on the feeds table's primary key.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from demosite.loopback import LoopbackSite, Route
from newswatch import secrets
from tests.site_fixture import ARTICLES, page_html, rss2
from transform.urls import stable_id
from warehouse.migrations import migrate
from warehouse.state import feed_id_for, sync_feeds
from warehouse.trend_tables import refresh_trend_tables

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def passwords():
    for value in ("pw-alpha-1", "pw-beta-2", "pw-alpha-ROTATED"):
        secrets.register(value)


def test_urls_that_differ_only_in_a_secret_get_distinct_ids_that_reveal_nothing():
    a = feed_id_for("https://u:pw-alpha-1@feeds.example/rss")
    b = feed_id_for("https://u:pw-beta-2@feeds.example/rss")
    c = feed_id_for("https://feeds.example/rss?key=pw-alpha-1")
    d = feed_id_for("https://feeds.example/rss?key=pw-beta-2")
    assert len({a, b, c, d}) == 4
    assert all(len(x) == 16 and "pw" not in x for x in (a, b, c, d))


def test_a_url_without_secrets_keeps_the_id_it_always_had():
    url = "https://feeds.example/world.xml"
    assert feed_id_for(url) == stable_id("feed", url)


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    migrate(c)
    yield c
    c.close()


def test_two_feeds_differing_in_userinfo_sync_without_a_constraint_error(con):
    feeds = [("alpha", "https://a:pw-alpha-1@feeds.example/rss"), ("beta", "https://b:pw-beta-2@feeds.example/rss")]
    sync_feeds(con, feeds)
    sync_feeds(con, feeds)  # idempotent
    rows = con.execute("SELECT feed_id, name, url FROM feeds ORDER BY name").fetchall()
    assert [r[1] for r in rows] == ["alpha", "beta"]
    assert {r[0] for r in rows} == {feed_id_for(u) for _, u in feeds}
    assert all("pw-" not in r[2] for r in rows)  # stored redacted


def _legacy_row(con, url: str, name: str) -> str:
    """A feed as earlier versions stored it: id from the redacted URL, with an article, an item and a quarantine row."""
    legacy = stable_id("feed", secrets.redacted(url))
    now = datetime.now(UTC)
    con.execute("INSERT INTO feeds (feed_id, name, url) VALUES (?, ?, ?)", [legacy, name, secrets.redacted(url)])
    con.execute("INSERT INTO feed_items (feed_id, item_key, canonical_url, article_id, status, first_seen_at, item_hash, article_key) "
                "VALUES (?, 'k1', 'https://x.example/a', 'a1', 'loaded', ?, md5_number_lower('k1'), md5_number_lower('a1'))", [legacy, now])
    con.execute(
        "INSERT INTO articles (article_id, url, canonical_url, feed_id, title, published_at, published_at_source, "
        "fetched_at, text, word_count, content_hash, story_id, article_key, story_key) VALUES ('a1', 'https://x.example/a', "
        "'https://x.example/a', ?, 't', ?, 'feed', ?, 'text', 1, 'h', 's1', md5_number_lower('a1'), md5_number_lower('s1'))",
        [legacy, now, now])
    con.execute("INSERT INTO quarantine (stage, item_key, feed_id, reason, first_seen_at, last_seen_at) "
                "VALUES ('fetch', 'k2', ?, 'timeout', ?, ?)", [legacy, now, now])
    return legacy


def test_an_existing_feed_with_a_secret_keeps_its_history_under_its_new_id(con):
    url = "https://a:pw-alpha-1@feeds.example/rss"
    legacy = _legacy_row(con, url, "alpha")
    refresh_trend_tables(con)  # the article is counted under the old id
    sync_feeds(con, [("alpha", url)])
    new = feed_id_for(url)
    assert new != legacy
    assert con.execute("SELECT feed_id FROM feeds").fetchall() == [(new,)]
    for table in ("feed_items", "articles", "quarantine"):
        assert con.execute(f"SELECT DISTINCT feed_id FROM {table}").fetchall() == [(new,)], table
    assert con.execute("SELECT feed, feed_id, articles FROM feed_share_daily").fetchall() == [("alpha", new, 1)]

    # A rotated password is the same feed (only one configured feed has that redacted URL).
    rotated = "https://a:pw-alpha-ROTATED@feeds.example/rss"
    sync_feeds(con, [("alpha", rotated)])
    assert con.execute("SELECT feed_id FROM feeds").fetchall() == [(feed_id_for(rotated),)]
    assert con.execute("SELECT DISTINCT feed_id FROM articles").fetchall() == [(feed_id_for(rotated),)]


def test_an_ambiguous_old_row_is_left_alone_and_both_feeds_start_afresh(con):
    a, b = "https://a:pw-alpha-1@feeds.example/rss", "https://b:pw-beta-2@feeds.example/rss"
    legacy = _legacy_row(con, a, "alpha")
    sync_feeds(con, [("alpha", a), ("beta", b)])
    ids = {r[0] for r in con.execute("SELECT feed_id FROM feeds").fetchall()}
    assert ids == {legacy, feed_id_for(a), feed_id_for(b)}
    assert con.execute("SELECT DISTINCT feed_id FROM articles").fetchall() == [(legacy,)]


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=240, env={**os.environ, "PYTHONPATH": str(REPO), **env})


def test_check_config_reports_two_feeds_that_are_really_the_same_url(tmp_path):
    doc = {"feeds": [{"name": "a", "url": "https://Feeds.Example:443/rss#top"},
                     {"name": "b", "url": "https://feeds.example/rss"},
                     {"name": "c", "url": "https://u:${NW_ID_PW}@feeds.example/rss"}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(doc))
    res = _cli("check-config", "--config", str(tmp_path / "c.yaml"), cwd=tmp_path, env={"NW_ID_PW": "pw-alpha-1"})
    assert res.returncode == 2, res.stderr
    assert "feeds[1].url: the same URL as feeds[0].url" in res.stderr
    assert "feeds[2]" not in res.stderr  # other credentials: another feed


def test_a_real_run_polls_two_feeds_that_differ_only_in_their_password(tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    title, paras = ARTICLES["korea-talks"]
    with LoopbackSite() as site:
        site.add("/news/korea", Route(page_html(title, paras).encode()))
        site.add("/feed.xml", Route(rss2([(title, site.url("/news/korea"), now - timedelta(hours=1))]),
                                    content_type="application/rss+xml"))
        host = site.base_url.split("://", 1)[1]
        doc = {
            "warehouse": {"path": str(tmp_path / "wh" / "w.duckdb")},
            "fetch": {"allow_private_networks": True, "timeout_seconds": 5},
            "nlp": {"enabled": False},
            "feeds": [{"name": "alpha", "url": f"http://a:${{NW_ID_P1}}@{host}/feed.xml"},
                      {"name": "beta", "url": f"http://a:${{NW_ID_P2}}@{host}/feed.xml"}],
        }
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(doc))
        env = {"NW_ID_P1": "pw-alpha-1", "NW_ID_P2": "pw-beta-2"}
        assert _cli("check-config", "--config", str(tmp_path / "c.yaml"), cwd=tmp_path, env=env).returncode == 0
        res = _cli("run", "--config", str(tmp_path / "c.yaml"), cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "feeds polled 2 (failed 0)" in res.stdout
    con = duckdb.connect(str(tmp_path / "wh" / "w.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT name, last_status FROM feeds ORDER BY name").fetchall()
    finally:
        con.close()
    assert rows == [("alpha", "ok"), ("beta", "ok")]
