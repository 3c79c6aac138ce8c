"""``newswatch feeds``: import, add by a site page, list, export, enable/disable, through the public CLI."""

from __future__ import annotations

import gzip
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from demosite.loopback import LoopbackSite, Route
from extract.discovery import linked_feed_urls
from extract.opml import OpmlFeed, opml_feeds, opml_text
from flows.cli import main
from newswatch.errors import ItemError
from tests.site_fixture import ARTICLES, page_html, rss2

NOW = datetime.now(UTC)


def _site() -> LoopbackSite:
    site = LoopbackSite().start()
    for slug, (title, paras) in ARTICLES.items():
        site.add(f"/news/{slug}", Route(page_html(title, paras).encode()))
    slugs = list(ARTICLES)
    for i, path in enumerate(("/a.xml", "/b.xml", "/hidden/c.xml")):
        slug = slugs[i]
        body = rss2([(ARTICLES[slug][0], site.url(f"/news/{slug}"), NOW - timedelta(hours=i + 1))])
        site.add(path, Route(body, content_type="application/rss+xml"))
    # a site page that only links to its feed
    site.add("/home", Route(b'<html><head><title>C</title><link rel="alternate" type="application/rss+xml" '
                            b'title="C feed" href="/hidden/c.xml"></head><body><p>Home</p></body></html>'))
    return site


@pytest.fixture()
def site():
    s = _site()
    yield s
    s.stop()


def _config(tmp_path: Path, extra: str = "") -> Path:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        # operator's notes survive edits
        warehouse:
          path: {tmp_path / 'wh' / 'newswatch.duckdb'}   # the live file
        fetch:
          allow_private_networks: true   # loopback test site
          timeout_seconds: 3
        feeds: []
        topics:
          - name: korea
            query: '"North Korea"'
        nlp:
          processes: 1
        """) + extra)
    return cfg


def _opml(tmp_path: Path, site: LoopbackSite) -> Path:
    p = tmp_path / "subs.opml"
    p.write_text(f"""<?xml version="1.0"?>
<opml version="2.0"><head><title>from another reader</title></head><body>
  <outline text="World"><outline type="rss" text="Feed A" xmlUrl="{site.url('/a.xml')}"/></outline>
  <outline type="rss" title="Feed B" text="B" xmlUrl="{site.url('/b.xml')}"/>
</body></opml>""")
    return p


def test_opml_round_trips_urls_and_keeps_folders_as_tags():
    feeds = [OpmlFeed("A & B", "https://a.example/rss?x=1&y=2", ("World", "Asia")), OpmlFeed("C", "https://c.example/")]
    again = opml_feeds(opml_text(feeds).encode())
    assert {f.url for f in again} == {f.url for f in feeds}
    assert {f.name: set(f.tags) for f in again} == {"A & B": {"World", "Asia"}, "C": set()}
    with pytest.raises(ItemError, match="DTD"):
        opml_feeds(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><opml><body/></opml>')
    with pytest.raises(ItemError):
        opml_feeds(b"<rss/>")


def test_a_page_links_to_its_feeds_relative_to_its_base():
    html = ('<html><head><base href="https://s.example/sub/"><link rel="alternate" type="application/atom+xml" '
            'href="atom"><link rel="stylesheet" href="x.css"><link rel="alternate" type="text/html" href="/fr"></head></html>')
    assert linked_feed_urls(html, "https://s.example/page") == ["https://s.example/sub/atom"]


def test_import_add_run_list_export_through_the_cli(tmp_path, site, capsys, prefect_harness):
    cfg = _config(tmp_path)
    assert main(["feeds", "import", str(_opml(tmp_path, site)), "--config", str(cfg)]) == 0
    assert "imported 2 of 2" in capsys.readouterr().out
    assert main(["feeds", "add", site.url("/home"), "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "added 'Gazette'" in out and "/hidden/c.xml" in out and "linked from the page" in out
    text = cfg.read_text()
    assert "# operator's notes survive edits" in text and "# loopback test site" in text
    assert "tags: [World]" in text
    # refused: the same feed again, by its URL or through the page
    assert main(["feeds", "add", site.url("/a.xml"), "--config", str(cfg)]) == 3
    assert "already configured as 'Feed A'" in capsys.readouterr().err
    assert main(["feeds", "add", site.url("/home"), "--config", str(cfg)]) == 3
    assert main(["check-config", "--config", str(cfg)]) == 0
    assert "3 feeds" in capsys.readouterr().out

    from flows.cycle import run_cycle
    from pipeline.settings import load_settings

    summary = run_cycle(load_settings(cfg))
    assert summary.status == "completed" and summary.feeds_polled == 3 and summary.articles_new == 3

    assert main(["feeds", "--config", str(cfg)]) == 0
    listing = capsys.readouterr().out.splitlines()
    rows = {line.split("  ")[0]: line for line in listing[2:5]}
    assert set(rows) == {"Feed A", "Feed B", "Gazette"}  # title wins over text
    assert all(" ok " in r for r in rows.values())
    assert listing[-1].startswith("3 feeds: 3 ok")

    assert main(["feeds", "export", "--config", str(cfg)]) == 0
    exported = opml_feeds(capsys.readouterr().out.encode())
    assert {f.url for f in exported} == {site.url("/a.xml"), site.url("/b.xml"), site.url("/hidden/c.xml")}
    assert main(["feeds", "export", "--out", str(tmp_path / "out.opml"), "--config", str(cfg)]) == 0
    assert len(opml_feeds((tmp_path / "out.opml").read_bytes())) == 3


def test_disable_pauses_a_feed_and_enable_clears_a_gone_feed_without_sql(tmp_path, site, capsys):
    from pipeline.settings import load_settings
    from warehouse import db
    from warehouse.state import feed_id_for, sync_feeds

    cfg = _config(tmp_path, "")
    cfg.write_text(cfg.read_text().replace("feeds: []", f"feeds:\n  - name: Feed A\n    url: {site.url('/a.xml')}\n"))
    settings = load_settings(cfg)
    with db.writer(settings.warehouse.path) as con:  # the state a feed answering 410 three times is left in
        sync_feeds(con, [("Feed A", site.url("/a.xml"))])
        con.execute("UPDATE feeds SET disabled = true, disabled_reason = 'http_410', consecutive_failures = 3,"
                    " last_polled_at = now(), last_status = 'http_410'")
    from warehouse.snapshot import publish_snapshot

    publish_snapshot(settings.warehouse.path, None)
    assert main(["feeds", "--config", str(cfg)]) == 0
    assert "disabled: http_410" in capsys.readouterr().out
    assert main(["feeds", "disable", "feed a", "--config", str(cfg)]) == 0
    assert "enabled: false" in cfg.read_text()
    assert load_settings(cfg).feeds[0].enabled is False
    assert main(["feeds", "enable", "Feed A", "--config", str(cfg)]) == 0
    assert "cleared" in capsys.readouterr().out
    assert "enabled:" not in cfg.read_text()
    with db.writer(settings.warehouse.path) as con:
        assert con.execute("SELECT disabled, consecutive_failures, next_poll_at FROM feeds WHERE feed_id = ?",
                           [feed_id_for(site.url("/a.xml"))]).fetchone() == (False, 0, None)
    assert main(["feeds", "enable", "nope", "--config", str(cfg)]) == 3
    assert "no feed named 'nope'" in capsys.readouterr().err


def test_duplicate_feed_names_and_unknown_alert_feeds_are_config_errors(tmp_path, capsys):
    cfg = _config(tmp_path)
    cfg.write_text(cfg.read_text().replace("feeds: []", "feeds:\n  - {name: Wire, url: 'https://a.example/rss', tags: [world]}\n"
                                                       "  - {name: wire, url: 'https://b.example/rss'}\n")
                   + "alerts:\n  - topic: korea\n    notify: ['json://127.0.0.1:9/']\n    feeds: [world, nosuch]\n")
    assert main(["check-config", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "feeds[1].name: 'wire' is used twice" in err
    assert "unknown feed 'nosuch'" in err and "'world'" not in err  # a tag is a valid filter


def test_an_alert_rule_filtering_on_a_tag_takes_every_feed_that_carries_it():
    from pipeline.alert_routes import alert_rule
    from pipeline.settings import settings_from_dict

    s = settings_from_dict({"feeds": [{"name": "A", "url": "https://a.example/", "tags": ["World"]},
                                      {"name": "B", "url": "https://b.example/"}],
                            "topics": [{"name": "t", "query": "x"}],
                            "alerts": [{"topic": "t", "notify": ["json://127.0.0.1:9/"], "feeds": ["world"]}]})
    assert alert_rule(s.alerts[0], s.feeds).feeds == frozenset({"world", "a"})


def test_feeds_add_says_what_it_tried_when_a_page_has_no_feed(tmp_path, site, capsys):
    cfg = _config(tmp_path)
    assert main(["feeds", "add", site.url("/news/bank-rates"), "--config", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "no feed found" in err and "/rss.xml" in err
    assert "feeds: []" in cfg.read_text()


def test_a_bad_cron_and_cron_with_every_minutes_fail_check_config(tmp_path, capsys):
    cfg = _config(tmp_path, 'schedule:\n  cron: "99 * * * *"\n')
    assert main(["check-config", "--config", str(cfg)]) == 2
    assert "schedule.cron" in capsys.readouterr().err
    cfg = _config(tmp_path, 'schedule:\n  cron: "*/5 * * * *"\n  every_minutes: 5\n')
    assert main(["check-config", "--config", str(cfg)]) == 2
    assert "not both" in capsys.readouterr().err
    cfg = _config(tmp_path, 'schedule:\n  cron: "0 9-17 * * mon-fri"\n')
    assert main(["check-config", "--config", str(cfg)]) == 0


@pytest.mark.parametrize("expr", ["*/15 * * * *", "0 9-17 * * mon-fri", "5,35 */2 1-15 jan-jun 0", "99 * * * *",
                                  "* 24 * * *", "0 0 0 * *", "*/0 * * * *", "5-1 * * * *", "0 0 * 13 *", "H * * * *", "1 2 3"])
def test_the_cron_check_agrees_with_the_schedulers_parser(expr):
    from prefect._internal.schemas.validators import validate_cron_string

    from newswatch.config import cron_problem

    try:
        validate_cron_string(expr)
        prefect_ok = len(expr.split()) == 5
    except ValueError:
        prefect_ok = False
    assert (cron_problem(expr) is None) == prefect_ok


def test_sql_needs_only_the_warehouse_section(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HOOK_URL", raising=False)
    cfg = _config(tmp_path, "alerts:\n  - topic: korea\n    notify: ['${HOOK_URL}']\n")
    from warehouse import db

    with db.writer(tmp_path / "wh" / "newswatch.duckdb"):
        pass
    assert main(["sql", "SELECT 1 AS one", "--config", str(cfg)]) == 0
    assert main(["check-config", "--config", str(cfg)]) == 2  # the commands that send still need it
    assert "HOOK_URL" in capsys.readouterr().err


def test_sql_tables_show_null_as_null_and_integer_sums_as_integers(tmp_path, capsys):
    from warehouse import db

    path = tmp_path / "x.duckdb"
    with db.writer(path):
        pass
    assert main(["sql", "SELECT sum(x) AS s, NULL::VARCHAR AS n, 1.5 AS d, max(CASE WHEN x > 9 THEN x END) AS i"
                 " FROM (VALUES (4), (5)) t(x)", "--db", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["s", "n", "d", "i"]
    assert out[2].split() == ["9", "NULL", "1.5", "NULL"]


def test_inspect_reads_a_gzipped_page_and_refuses_a_broken_config(tmp_path, capsys):
    title, paras = ARTICLES["korea-talks"]
    page = tmp_path / "page.html.gz"
    page.write_bytes(gzip.compress(page_html(title, paras).encode()))
    assert main(["inspect", str(page), "--config", str(_config(tmp_path))]) == 0
    assert "North Korea has agreed to a new round of talks" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("fetch:\n  allow_private_networks: maybe\n")
    assert main(["inspect", str(page), "--config", str(bad)]) == 2
    assert "fetch.allow_private_networks" in capsys.readouterr().err
    junk = tmp_path / "junk.html"
    junk.write_bytes(b"\x00\x01")
    assert main(["inspect", str(junk), "--config", str(_config(tmp_path))]) == 1
    assert "no_text" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("newswatch 0.")


def test_a_listing_piped_into_head_ends_quietly(tmp_path):
    import subprocess
    import sys

    from warehouse import db

    path = tmp_path / "x.duckdb"
    with db.writer(path):
        pass
    cmd = (f"{sys.executable} -m flows.cli sql --db {path} 'SELECT range AS n FROM range(200000)' | head -n 3")
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.stdout.splitlines()[0].split() == ["n"]
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr


def test_the_demo_prints_a_command_that_exists():
    import shutil
    import sys

    from flows.demo import newswatch_command

    cmd = newswatch_command()
    assert shutil.which(cmd) or (Path.cwd() / cmd).exists() or Path(cmd).exists() or not (Path(sys.executable).parent / "newswatch").exists()


def test_verbose_logging_leaves_out_raw_http_lines():
    import logging

    from flows.cli import _setup_logging

    _setup_logging(True)
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
