"""``newswatch ui`` over real HTTP: the JSON API, CSV tables, the SQL console's limits, the safety headers.

The server is the real command in a subprocess, reading a snapshot built by ``migrate()`` and loaded
through ``load_batch`` (tests/ui_fixture.py).
"""

from __future__ import annotations

import base64
import csv
import io

import duckdb
import httpx
import pytest
from ui_fixture import HOSTILE_TITLE, build_ui_warehouse, running_ui

from flows.cli import main
from warehouse.search_index import rebuilt_search_index
from warehouse.snapshot import publish_snapshot
from webui.snapshots import SnapshotReader
from webui.text import displayable, highlighted


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    snap = build_ui_warehouse(root / "wh.duckdb")
    con = duckdb.connect(str(snap), read_only=True)
    try:
        rebuilt_search_index(con, snap)  # the index beside the file `--db` names, as `newswatch search --db` reads it
    finally:
        con.close()
    with running_ui("--db", str(snap)) as url, httpx.Client(base_url=url, timeout=20) as client:
        yield client, root


def _story_with_copies(client) -> dict:
    home = client.get("/api/home").json()
    return next(s for s in home["latest_stories"] if s["article_count"] == 3)


def test_home_api_lists_topics_with_share_spikes_latest_stories_and_feed_warnings(ui):
    client, _ = ui
    r = client.get("/api/home")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    data = r.json()
    korea = next(t for t in data["topics"] if t["topic"] == "korea")
    assert len(korea["days"]) == 30
    today = korea["days"][-1]
    assert today["partial"] and today["stories"] == 5
    assert today["share"] == pytest.approx(today["stories"] / today["all_stories"])  # distinct stories / all stories
    assert {s["key"] for s in data["spiking_topics"]} == {"korea"}
    assert "person:kim jong un" in {s["key"] for s in data["spiking_entities"]}
    assert [w["name"] for w in data["feed_warnings"]] == ["Broken Feed"]
    assert data["totals"]["articles"] == 23


def test_story_api_lists_every_copy_with_outlet_and_how_it_joined(ui):
    client, _ = ui
    story = client.get(f"/api/stories/{_story_with_copies(client)['story_id']}").json()
    joined = {c["outlet"]: c["joined"] for c in story["copies"] if c["joined"] != "near"}
    assert sorted(c["joined"] for c in story["copies"]) == ["exact", "first", "near"]
    assert joined["Harbor Courier"] == "first"
    assert all(c["url"].startswith("https://") for c in story["copies"])
    assert {e["name"] for e in story["entities"]} >= {"Kim Jong Un", "North Korea", "Park Min-jun"}
    (quote,) = story["quotes"]
    assert quote["speaker"] == "Park Min-jun" and quote["copies"] == 3
    assert story["topics"] == [{"topic": "korea", "articles": 3}]


def test_entity_api_has_aliases_cooccurrence_quotes_and_articles(ui):
    client, _ = ui
    kim = client.get("/api/entities/person:kim jong un").json()
    assert kim["entity"]["aliases"] == ["Kim", "Kim Jong Un"]
    assert kim["cooccurring"][0]["name"] == "North Korea"
    assert kim["days"][-1]["stories"] == 5 and kim["spike_now"]["is_spike"]
    assert len(kim["articles"]) == 7
    park = client.get("/api/entities/person:park min-jun").json()
    assert {q["text"] for q in park["quotes_by"]} == {"We are ready to sit down without preconditions,"}


def test_topic_api_has_series_top_feeds_entities_and_speakers(ui):
    client, _ = ui
    topic = client.get("/api/topics/korea?days=30").json()
    assert len(topic["days"]) == 30
    assert topic["top_feeds"][0]["feed"] == "Harbor Courier"
    assert topic["top_entities"][0]["name"] == "North Korea"
    assert topic["top_speakers"][0]["speaker"] == "Park Min-jun"
    assert client.get("/api/topics/nothing-like-this").status_code == 404


def test_quotes_api_filters_by_speaker_and_words(ui):
    client, _ = ui
    assert len(client.get("/api/quotes", params={"speaker": "park"}).json()["quotes"]) == 1
    assert client.get("/api/quotes", params={"speaker": "park", "q": "PRECONDITIONS"}).json()["quotes"]
    assert client.get("/api/quotes", params={"q": "no such words"}).json()["quotes"] == []


def test_feeds_api_and_its_csv_agree(ui):
    client, _ = ui
    feeds = client.get("/api/feeds").json()["feeds"]
    broken = next(f for f in feeds if f["name"] == "Broken Feed")
    assert broken["state"] == "failing" and broken["consecutive_failures"] == 1
    r = client.get("/api/feeds", params={"format": "csv", "table": "feeds"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["name"]: row["state"] for row in rows} == {f["name"]: f["state"] for f in feeds}


def test_home_topics_csv_has_one_row_per_topic_and_day(ui):
    client, _ = ui
    rows = list(csv.DictReader(io.StringIO(client.get("/api/home?format=csv&table=topics").text)))
    assert len(rows) == 30 and {r["topic"] for r in rows} == {"korea"} and "share" in rows[0]
    assert client.get("/api/home?format=csv&table=nope").status_code == 400


def test_sql_console_reads_and_writes_nothing(ui):
    client, root = ui
    ok = client.get("/api/sql", params={"q": "SELECT count(*) AS n FROM articles"}).json()
    assert ok["rows"] == [{"n": 23}]
    target = root / "stolen.csv"
    for query in (f"COPY articles TO '{target}'", "SELECT * FROM read_csv('/etc/passwd')",
                  "SET enable_external_access = true", f"ATTACH '{root / 'other.duckdb'}'",
                  "CREATE TABLE x AS SELECT 1", f"EXPORT DATABASE '{root / 'export'}'"):
        r = client.get("/api/sql", params={"q": query})
        assert r.status_code == 400 and r.json()["error"], query
    assert not target.exists() and not (root / "other.duckdb").exists() and not (root / "export").exists()
    csv_text = client.get("/api/sql", params={"q": "SELECT title FROM articles ORDER BY title", "format": "csv"}).text
    assert csv_text.splitlines()[0] == "title" and len(csv_text.splitlines()) == 24
    page = client.get("/sql", params={"q": f"COPY articles TO '{target}'"})
    assert page.status_code == 200 and "disabled by configuration" in page.text and not target.exists()


def test_hostile_title_renders_inert(ui):
    client, _ = ui
    home = client.get("/").text
    assert "<script>alert" not in home and "&lt;script&gt;alert" in home
    assert "\x1b" not in home and "\u202e" not in home
    assert "&lt;U+001B&gt;" in home and "&lt;U+202E&gt;" in home
    api = client.get("/api/home").json()  # the API returns the data as stored
    assert HOSTILE_TITLE in {s["title"] for s in api["latest_stories"]}


def test_every_response_carries_a_strict_csp_and_there_are_no_redirects(ui):
    client, _ = ui
    for path in ("/", "/feeds", "/api/home", "/static/app.js", "/no-such-page"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
    base = str(client.base_url).rstrip("/")
    for path in ("//evil.example/", "/topics/", "/%2F%2Fevil.example", "/feeds/"):
        r = client.get(base + path)  # a full URL: the client must not read "//host" as another host
        assert r.status_code == 404 and "location" not in r.headers, path
    assert "<script>" not in client.get("/").text.replace('<script src="/static/app.js" defer></script>', "")


def test_pages_render_with_data(ui):
    client, _ = ui
    sid = _story_with_copies(client)["story_id"]
    pages = {"/": "Spiking now", "/topics": "korea", "/topics/korea": "Top speakers", f"/stories/{sid}": "exact",
             "/entities/person:kim jong un": "Appears with", "/quotes?speaker=park": "without preconditions",
             "/feeds": "Broken Feed", "/sql?q=SELECT+42+AS+answer": "answer"}
    for path, text in pages.items():
        r = client.get(path)
        assert r.status_code == 200 and text in r.text, path
        assert r.headers["x-newswatch-snapshot"].startswith("newswatch-")
    assert "<svg" in client.get("/").text and 'class="bar' in client.get("/topics/korea").text
    assert client.get("/topics/korea?days=0").status_code == 400
    assert client.get("/stories/nope").status_code == 404


def test_a_foreign_host_header_is_refused_without_authentication(ui):
    client, _ = ui
    assert client.get("/api/home", headers={"host": "evil.example"}).status_code == 421
    assert client.get("/api/home", headers={"host": "localhost:1234"}).status_code == 200


def test_search_page_and_api_use_the_search_engine(ui):
    client, _ = ui
    r = client.get("/api/search", params={"q": '"North Korea"'})
    assert r.status_code == 200, r.text
    hits = r.json()
    assert hits and all({"article_id", "story_id", "url", "title", "published_at", "feed", "score", "snippet",
                         "copies"} <= set(h) for h in hits)
    assert all("korea" in (h["title"] + " " + h["snippet"]).lower() for h in hits)
    assert len({h["story_id"] for h in hits}) == len(hits)  # one hit per story
    page = client.get("/search", params={"q": '"North Korea"'})
    assert page.status_code == 200 and "Korea" in page.text
    bad = client.get("/api/search", params={"q": '"North Korea'})
    assert bad.status_code == 400 and "unclosed quote" in bad.text
    assert client.get("/api/search", params={"q": "zzzunknownword"}).json() == []


def test_binding_a_public_address_without_authentication_exits_2(tmp_path, capsys):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"warehouse:\n  path: {tmp_path / 'wh.duckdb'}\n")
    assert main(["ui", "--host", "0.0.0.0", "--config", str(cfg)]) == 2
    assert "without authentication" in capsys.readouterr().err


def test_bad_port_and_a_port_in_use_are_messages(tmp_path, capsys):
    import socket

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    snap = tmp_path / "x.duckdb"
    duckdb.connect(str(snap)).close()
    try:
        assert main(["ui", "--db", str(snap), "--port", str(busy.getsockname()[1])]) == 3
    finally:
        busy.close()
    assert "cannot listen" in capsys.readouterr().err


def test_with_a_password_or_token_every_request_must_authenticate(ui, tmp_path):
    _, root = ui
    snap = root / "wh-snapshot" / "newswatch.duckdb"
    cfg = tmp_path / "config.yaml"
    cfg.write_text("ui:\n  password: ${NEWSWATCH_UI_PASSWORD}\n  tokens: ['${NEWSWATCH_UI_TOKEN}']\n")
    env = {"NEWSWATCH_UI_PASSWORD": "correct horse battery", "NEWSWATCH_UI_TOKEN": "tok-0123456789"}
    with running_ui("--config", str(cfg), "--db", str(snap), env=env) as url, httpx.Client(base_url=url) as c:
        r = c.get("/api/home")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        good = base64.b64encode(b"analyst:correct horse battery").decode()
        bad = base64.b64encode(b"analyst:wrong").decode()
        assert c.get("/api/home", headers={"authorization": f"Basic {good}"}).status_code == 200
        assert c.get("/api/home", headers={"authorization": f"Basic {bad}"}).status_code == 401
        assert c.get("/api/home", headers={"authorization": "Bearer tok-0123456789"}).status_code == 200
        assert c.get("/api/home", headers={"authorization": "Bearer nope"}).status_code == 401
        # with authentication, any Host may be used (a reverse proxy or a LAN name)
        assert c.get("/api/home", headers={"authorization": f"Basic {good}", "host": "ui.lan"}).status_code == 200


def test_each_request_reads_one_snapshot_version_and_old_versions_are_closed(tmp_path):
    wh = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("CREATE TABLE t AS SELECT 1 AS v")
    con.close()
    link = publish_snapshot(wh)
    reader = SnapshotReader(link)
    with reader.cursor() as (cur, first):
        con = duckdb.connect(str(wh))
        con.execute("UPDATE t SET v = 2")
        con.close()
        publish_snapshot(wh)  # the link switches while the request is in flight
        assert cur.execute("SELECT v FROM t").fetchall() == [(1,)]
        with reader.cursor() as (cur2, second):
            assert second != first and cur2.execute("SELECT v FROM t").fetchall() == [(2,)]
        assert cur.execute("SELECT v FROM t").fetchall() == [(1,)]
    assert reader.open_versions() == [second]
    reader.close()


def test_displayable_shows_controls_and_highlight_escapes():
    assert displayable("a\x1b[31mb\u202ec") == "a<U+001B>[31mb<U+202E>c"
    assert str(highlighted("<b>North</b> Korea talks", '"North Korea" AND talks')) == \
        "&lt;b&gt;<mark>North</mark>&lt;/b&gt; <mark>Korea</mark> <mark>talks</mark>"


def test_a_wired_search_function_gets_pages_grouped_by_story_and_its_api(tmp_path):
    """The search route as the search module will use it: a function from query and filters to result objects.

    The function here is a plain title scan over the same snapshot, standing in for the index."""
    import threading

    import uvicorn

    from webui.app import create_app

    snap = build_ui_warehouse(tmp_path / "wh.duckdb")
    reader = SnapshotReader(snap)
    seen_filters = []

    def title_search(q, filters):
        seen_filters.append(dict(filters))
        with reader.cursor() as (con, _):
            rows = con.execute(
                "SELECT a.article_id, a.story_id, a.url, a.title, a.published_at, f.name AS feed, 1.0 AS score, "
                "a.title AS snippet, s.article_count AS copies FROM articles a JOIN stories s USING (story_id) "
                "JOIN feeds f USING (feed_id) WHERE contains(lower(a.title), lower(?)) ORDER BY a.published_at",
                [q.strip('"')]).fetchall()
        keys = ("article_id", "story_id", "url", "title", "published_at", "feed", "score", "snippet", "copies")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    server = uvicorn.Server(uvicorn.Config(create_app(reader, search=title_search), host="127.0.0.1", port=0,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            page = c.get("/search", params={"q": '"North Korea"', "feed": "Northern Wire"})
            assert page.status_code == 200 and "<mark>North</mark>" in page.text
            assert page.text.count('class="hit"') == 6  # 7 titles, two of them copies of one story
            assert seen_filters[-1] == {"feed": "Northern Wire"}
            api = c.get("/api/search", params={"q": "korea"}).json()
            assert len(api) == 8 and set(api[0]) >= {"article_id", "story_id", "url", "title", "snippet", "copies"}
            assert c.get("/search", params={"q": "x", "page": "0"}).status_code == 400
    finally:
        server.should_exit = True
        thread.join(10)
        reader.close()
