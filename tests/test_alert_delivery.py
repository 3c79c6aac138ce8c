"""Alert delivery against a real webhook receiver on 127.0.0.1: retries, digests, crashes, the CLI.

The first half drives ``deliver_alerts`` directly on a hand-made warehouse (fast, no Prefect); the
second half runs real cycles (a Prefect flow run over a loopback news site), including a cycle killed
between the load commit and the send.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from demosite.loopback import LoopbackSite, Route
from newswatch.faults import CRASH_EXIT_CODE as FAULT_EXIT_CODE
from newswatch.faults import FAULT_ENV
from pipeline.alert_routes import alert_routes
from pipeline.delivery import LEASE, MAX_ATTEMPTS, deliver_alerts
from pipeline.settings import load_settings, settings_from_dict
from tests.conftest import loopback_settings
from tests.receiver import WebhookReceiver
from tests.site_fixture import ARTICLES, atom, page_html, rss2
from tests.test_alerts import add_copy
from warehouse import db
from warehouse.outbox import queue_alerts

REPO = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def doc_for(tmp_path: Path, alerts: list[dict], operator: dict | None = None) -> dict:
    return {
        "warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")},
        "fetch": {"allow_private_networks": True},  # the receivers are on 127.0.0.1
        "feeds": [{"name": f"Feed {i}", "url": f"https://f{i}.example/rss"} for i in (1, 2, 3)],
        "topics": [{"name": "korea", "query": '"North Korea"'}],
        "alerts": alerts,
        **({"operator": operator} if operator else {}),
    }


def queued(settings, copies: list[tuple[str, str, int]], *, now: datetime = NOW, hours_apart: float = 0) -> None:
    """Load story copies (story, article, feed) and queue their alerts, as a load transaction would."""
    with db.writer(settings.warehouse.path) as con, db.transaction(con):
        for i, (story, article, feed) in enumerate(copies):
            add_copy(con, story, article, feed, seen=now, published=now - timedelta(hours=1 + i * hours_apart))
        queue_alerts(con, alert_routes(settings), now=now)


def rows(settings, table: str = "alerts") -> list[tuple]:
    con = duckdb.connect(settings.warehouse.path, read_only=True)
    try:
        return con.execute(f"SELECT status, attempts, error, next_attempt_at FROM {table} ORDER BY created_at, alert_id").fetchall()
    finally:
        con.close()


def run_until_killed(cmd: list[str], env: dict[str, str], log: Path, timeout: float = 240) -> tuple[int, str]:
    """Run ``cmd`` in its own process group; once it exits, kill what it left behind (a dying process
    orphans its pool workers, which would otherwise linger and hold the output pipes open)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode = proc.wait(timeout=timeout)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return returncode, log.read_text(errors="replace")[-3000:]


# --- delivery on a hand-made warehouse -------------------------------------------------------------------

def test_a_receiver_answering_500_then_200_gets_one_alert_after_a_backed_off_retry(tmp_path):
    with WebhookReceiver(statuses=[500]) as hook:
        s = settings_from_dict(doc_for(tmp_path, [{"topic": "korea", "notify": [hook.url]}]))
        queued(s, [("s1", "a1", 1), ("s1", "a1", 2), ("s1", "a3", 3)])
        assert deliver_alerts(s, now=NOW) == 0
        [(status, attempts, error, next_at)] = rows(s)
        assert (status, attempts, next_at) == ("pending", 1, NOW + timedelta(minutes=1))
        assert "500" in error
        assert deliver_alerts(s, now=NOW + timedelta(seconds=30)) == 0  # backing off: not tried
        assert len(hook.received) == 1
        assert deliver_alerts(s, now=NOW + timedelta(minutes=2)) == 1
        assert deliver_alerts(s, now=NOW + timedelta(hours=1)) == 0
    assert rows(s)[0][:3] == ("sent", 2, None)
    assert [r.status for r in hook.received] == [500, 200]
    first, second = hook.received
    assert first.key == second.key and first.body == second.body  # the same message, the same idempotency key
    assert "carried by 3 outlets" in second.message


def test_an_alert_is_given_up_as_failed_after_the_last_attempt(tmp_path):
    with WebhookReceiver(statuses=[503] * 50) as hook:
        s = settings_from_dict(doc_for(tmp_path, [{"topic": "korea", "notify": [hook.url]}]))
        queued(s, [("s1", "a1", 1)])
        for i in range(MAX_ATTEMPTS + 2):
            deliver_alerts(s, now=NOW + timedelta(hours=2 * i))
    [(status, attempts, error, next_at)] = rows(s)
    assert (status, attempts, next_at) == ("failed", MAX_ATTEMPTS, None)
    assert error.startswith(f"gave up after {MAX_ATTEMPTS} attempts") and "503" in error
    assert len(hook.received) == MAX_ATTEMPTS


def test_a_failing_channel_is_tried_once_per_delivery(tmp_path):
    with WebhookReceiver(statuses=[500] * 10) as hook:
        s = settings_from_dict(doc_for(tmp_path, [{"topic": "korea", "notify": [hook.url]}]))
        queued(s, [("s1", "a1", 1), ("s2", "b1", 2), ("s3", "c1", 3)])
        deliver_alerts(s, now=NOW)
    assert len(hook.received) == 1
    assert sorted(r[1] for r in rows(s)) == [0, 0, 1]  # the others were released without using an attempt
    assert all(r[0] == "pending" and r[3] == NOW + timedelta(minutes=1) for r in rows(s))


def test_digest_mode_groups_several_stories_into_one_message_when_its_window_ends(tmp_path):
    start = NOW.replace(minute=5)
    with WebhookReceiver() as hook:
        s = settings_from_dict(doc_for(tmp_path, [{"topic": "korea", "notify": [hook.url], "mode": "digest",
                                                   "digest_every_minutes": 60}]))
        queued(s, [("s1", "a1", 1), ("s2", "b1", 2), ("s3", "c1", 3)], now=start, hours_apart=1)
        assert deliver_alerts(s, now=start + timedelta(minutes=10)) == 0  # the window has not ended
        assert deliver_alerts(s, now=start + timedelta(minutes=55)) == 3
        assert deliver_alerts(s, now=start + timedelta(hours=3)) == 0
    [msg] = hook.received
    assert msg.title == "[korea] 3 new stories"
    body = msg.message
    assert body.index("Headline a1") < body.index("Headline b1") < body.index("Headline c1")  # newest first
    assert [r[0] for r in rows(s)] == ["sent"] * 3


DELIVER_SCRIPT = "import sys; from newswatch.config import load_settings; from pipeline.delivery import deliver_alerts; deliver_alerts(load_settings(sys.argv[1]))"


def test_a_process_dying_after_the_channel_accepted_resends_with_the_same_idempotency_key(tmp_path):
    """The one documented duplicate: the receiver can drop it by its Idempotency-Key."""
    with WebhookReceiver() as hook:
        doc = doc_for(tmp_path, [{"topic": "korea", "notify": [hook.url]}])
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump(doc))
        s = load_settings(cfg)
        now = datetime.now(UTC)
        queued(s, [("s1", "a1", 1)], now=now)
        returncode, output = run_until_killed([sys.executable, "-c", DELIVER_SCRIPT, str(cfg)],
                                              {**os.environ, FAULT_ENV: "exit_after_send"}, tmp_path / "deliver.log")
        assert returncode == FAULT_EXIT_CODE, output
        assert len(hook.accepted) == 1 and rows(s)[0][0] == "sending"
        assert deliver_alerts(s, now=now + timedelta(minutes=1)) == 0  # its lease still holds
        assert deliver_alerts(s, now=now + LEASE + timedelta(minutes=1)) == 1
    assert [r.key for r in hook.accepted] == [hook.accepted[0].key] * 2
    assert rows(s)[0][:2] == ("sent", 2)


def test_the_operator_hears_once_about_a_failing_feed_and_a_crashed_cycle(tmp_path):
    with WebhookReceiver() as ops:
        s = settings_from_dict(doc_for(tmp_path, [], operator={"notify": [ops.url], "feed_failing_hours": 6}))
        from warehouse.state import feed_id_for

        with db.writer(s.warehouse.path) as con:
            con.execute("INSERT INTO feeds (feed_id, name, url, last_status, last_error, consecutive_failures, failing_since) "
                        "VALUES (?, 'Feed 2', 'https://f2.example/rss', 'http_500', 'Internal Server Error', 12, ?)",
                        [feed_id_for("https://f2.example/rss"), NOW - timedelta(hours=7)])
        assert deliver_alerts(s, now=NOW) == 1
        assert deliver_alerts(s, now=NOW + timedelta(minutes=15)) == 0
        with db.writer(s.warehouse.path) as con:
            con.execute("INSERT INTO runs (run_id, started_at, status) VALUES ('r1', ?, 'crashed')", [NOW + timedelta(minutes=20)])
        assert deliver_alerts(s, now=NOW + timedelta(minutes=30)) == 1
    assert [m.title for m in ops.accepted] == ["[newswatch] feed failing: Feed 2", "[newswatch] cycle crashed: r1"]
    assert "http_500" in ops.accepted[0].message


def test_alerts_test_and_alerts_list_commands(tmp_path, capsys):
    from flows.cli import main

    with WebhookReceiver(statuses=[200, 500]) as hook:
        doc = doc_for(tmp_path, [{"name": "korea-now", "topic": "korea", "notify": [hook.url]}])
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump(doc))
        assert main(["alerts", "test", "korea-now", "--config", str(cfg)]) == 0
        assert "ok      json://127.0.0.1" in capsys.readouterr().out
        assert hook.received[0].title == "[korea-now] newswatch test alert"
        assert main(["alerts", "test", "nope", "--config", str(cfg)]) == 3
        s = load_settings(cfg)
        queued(s, [("s1", "a1", 1)])
        deliver_alerts(s, now=NOW)  # answered 500
        capsys.readouterr()
        assert main(["alerts", "list", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "korea-now" in out and "pending" in out and "500" in out and "Headline a1" in out
    assert "totals: 1 pending" in out


# --- real cycles: Prefect flow runs over a loopback site ---------------------------------------------------

PORT_STORY = ("Kim Jong Un inspects new fishing port on east coast", [
    "WONSAN - Kim Jong Un inspected a newly built fishing port on the east coast on Friday, state media reported, praising workers for finishing the project ahead of schedule.",
    "The port, which officials said can handle more than forty trawlers at a time, is part of a campaign to raise the catch of fish and squid before the winter months.",
    "\u201cThis harbour will put more fish on the tables of our people,\u201d Kim Jong Un told the builders, according to the official news agency.",
    "Satellite images taken last month showed new breakwaters and a row of warehouses along the shore, analysts at a research institute in Seoul said.",
    "North Korea has announced several construction projects this year, and foreign observers say many of them were rushed to meet political deadlines.",
])
BORDER_STORY = ("North Korea reopens northern border to tour groups", [
    "BEIJING - North Korea has reopened its northern border to small groups of foreign tourists for the first time in several years, two travel agencies said on Wednesday.",
    "The first groups will travel by train from the Chinese city of Dandong and spend four nights in the country, visiting farms, schools and a newly opened museum.",
    "\u201cDemand has been far higher than we expected, and the first three departures are already full,\u201d said Lena Hartmann, who runs a small agency in Berlin.",
    "Tourists will be accompanied by local guides at all times, and photography will be restricted near military sites, according to the agencies.",
    "The reopening follows a gradual easing of restrictions on trade with China, which had been sharply reduced during the pandemic years.",
])


def alert_site() -> LoopbackSite:
    """Three feeds. The talks story is carried by all three (twice at one URL, once as a wire copy at another);
    two other Korea stories by one feed each; a bank story matches nothing."""
    site = LoopbackSite()
    now = datetime.now(UTC).replace(microsecond=0)
    talks_title, talks = ARTICLES["korea-talks"]
    bank_title, bank = ARTICLES["bank-rates"]
    pages = {"/news/korea-talks": (talks_title, talks), "/wire/korea-talks": (talks_title, talks),
             "/news/kim-port": PORT_STORY, "/news/border": BORDER_STORY, "/news/bank-rates": (bank_title, bank)}
    for path, (title, paras) in pages.items():
        site.add(path, Route(page_html(title, paras).encode()))
    u = site.url
    a = rss2([(talks_title, u("/news/korea-talks?utm_source=a"), now - timedelta(hours=2)),
              (PORT_STORY[0], u("/news/kim-port"), now - timedelta(hours=1))])
    b = rss2([(talks_title, u("/news/korea-talks"), now - timedelta(hours=2)),
              (BORDER_STORY[0], u("/news/border"), now - timedelta(hours=3))])
    c = atom([(talks_title, u("/wire/korea-talks"), now - timedelta(hours=2)),
              (bank_title, u("/news/bank-rates"), now - timedelta(hours=4))])
    site.add("/a.xml", Route(a, content_type="application/rss+xml"))
    site.add("/b.xml", Route(b, content_type="application/rss+xml"))
    site.add("/c.xml", Route(c, content_type="application/atom+xml"))
    return site


def site_feeds(site: LoopbackSite, paths=("/a.xml", "/b.xml", "/c.xml")) -> list[dict[str, str]]:
    return [{"name": f"Gazette {p[1].upper()}", "url": site.url(p)} for p in paths]


@pytest.fixture(scope="module")
def cycles(tmp_path_factory, prefect_harness):
    """Cycle 1, a delivery an hour later (retry + digest window), then a rerun."""
    from flows.cycle import run_cycle

    tmp = tmp_path_factory.mktemp("alerts")
    with alert_site() as site, WebhookReceiver() as now_hook, WebhookReceiver(statuses=[500]) as wide_hook, \
            WebhookReceiver() as digest_hook:
        settings = loopback_settings(tmp, site_feeds(site), alerts=[
            {"name": "korea-now", "topic": "korea", "notify": [now_hook.url]},
            {"name": "korea-wide", "topic": "korea", "notify": [wide_hook.url], "min_sources": 3},
            {"name": "korea-digest", "topic": "korea", "notify": [digest_hook.url], "mode": "digest", "digest_every_minutes": 60},
        ])
        first = run_cycle(settings)
        after_first = {"now": list(now_hook.received), "wide": list(wide_hook.received), "digest": list(digest_hook.received)}
        delivered_later = deliver_alerts(settings, now=datetime.now(UTC) + timedelta(minutes=61))
        second = run_cycle(settings)
        return {"settings": settings, "first": first, "second": second, "after_first": after_first,
                "delivered_later": delivered_later,
                "now": list(now_hook.received), "wide": list(wide_hook.received), "digest": list(digest_hook.received)}


def test_cycle_alerts_each_matching_story_once_however_many_feeds_carry_it(cycles):
    assert cycles["first"].status == "completed"
    msgs = cycles["after_first"]["now"]
    titles = sorted(m.title for m in msgs)
    assert titles == sorted(f"[korea-now] {t}" for t in (ARTICLES["korea-talks"][0], PORT_STORY[0], BORDER_STORY[0]))
    talks = next(m for m in msgs if ARTICLES["korea-talks"][0] in m.title)
    assert "carried by 3 outlets" in talks.message and "Matched: North Korea, Kim Jong Un" in talks.message
    assert "\u201cWe are ready to sit down without preconditions" in talks.message  # the top quote ...
    assert "\u2014 Park Min" in talks.message  # ... with its speaker
    assert all(m.status == 200 for m in msgs)


def test_a_500_then_200_receiver_gets_the_three_source_story_once_after_retry(cycles):
    assert [m.status for m in cycles["after_first"]["wide"]] == [500]
    wide = cycles["wide"]
    assert [m.status for m in wide] == [500, 200]  # only the story three feeds carry passes min_sources: 3
    assert wide[0].key == wide[1].key and ARTICLES["korea-talks"][0] in wide[1].title


def test_digest_rule_sends_one_grouped_message_newest_first(cycles):
    assert cycles["after_first"]["digest"] == []
    [digest] = cycles["digest"]
    assert digest.title == "[korea-digest] 3 new stories"
    body = digest.message
    assert body.index(PORT_STORY[0]) < body.index(ARTICLES["korea-talks"][0]) < body.index(BORDER_STORY[0])
    assert cycles["delivered_later"] == 1 + 3  # the retried alert and the three stories of the digest


def test_a_rerun_sends_nothing_new(cycles):
    assert cycles["second"].articles_new == 0
    assert len(cycles["now"]) == 3 and len(cycles["wide"]) == 2 and len(cycles["digest"]) == 1


CYCLE_SCRIPT = "import sys; from newswatch.config import load_settings; from flows.cycle import run_cycle; run_cycle(load_settings(sys.argv[1]))"


def test_a_cycle_killed_between_commit_and_send_sends_exactly_once_on_the_next_run(tmp_path, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    from flows.cycle import run_cycle

    with alert_site() as site, WebhookReceiver() as hook:
        doc = {"warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")},
               "fetch": {"allow_private_networks": True, "timeout_seconds": 3},
               "feeds": site_feeds(site, ("/b.xml",)),
               "topics": [{"name": "korea", "query": '"North Korea" OR "Kim Jong Un"'}],
               "alerts": [{"topic": "korea", "notify": [hook.url]}],
               "nlp": {"processes": 1}}
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump(doc))
        env = {**os.environ, FAULT_ENV: "exit_before_send", "PREFECT_API_URL": str(PREFECT_API_URL.value())}
        returncode, output = run_until_killed([sys.executable, "-c", CYCLE_SCRIPT, str(cfg)], env, tmp_path / "cycle.log")
        assert returncode == FAULT_EXIT_CODE, output
        s = load_settings(cfg)
        assert hook.received == []
        assert [r[0] for r in rows(s)] == ["pending", "pending"]  # committed with the articles, not sent
        summary = run_cycle(s)
        assert summary.articles_new == 0  # the rerun loads nothing new ...
    assert sorted(m.title for m in hook.accepted) == sorted(f"[korea] {t}" for t in (ARTICLES["korea-talks"][0], BORDER_STORY[0]))
    assert len(hook.received) == 2  # ... and sends each story exactly once
    assert [r[0] for r in rows(s)] == ["sent", "sent"]
