"""Crashes: a cycle killed anywhere loses nothing, duplicates nothing and never breaks the DuckDB file.

One warehouse lives through a series of deaths, each in a process of its own (it dies with
``os._exit``, like SIGKILL: no cleanup, no flush, no atexit):

1. ``during_fetch``      after the article pages were fetched, before extraction
2. ``during_extraction`` after the first chunk came back from the worker pool
3. ``during_load``       inside the load transaction, after the articles were inserted
4. ``exit_before_send``  after the load committed, before alerts are sent (pipeline/delivery.py)
5. a real SIGKILL sent to ``newswatch run`` at a random moment of a cycle over new articles

After each death the file must open, and hold either nothing of the batch or all of it. A normal
cycle then completes: every article exactly once, each with its feed item, story, story link, topic
match and mentions, and each matching story alerted exactly once (per Idempotency-Key).

The subprocesses talk to the session's Prefect test server (``PREFECT_API_URL``) instead of starting an
ephemeral one each (10-20 s apiece); their ``PREFECT_HOME`` is the throwaway folder set in conftest.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from demosite.loopback import LoopbackSite, Route
from pipeline.settings import load_settings
from tests.fault_site import articles, item, rss
from tests.receiver import WebhookReceiver
from tests.site_fixture import ARTICLES, page_html, rss2

pytestmark = pytest.mark.timeout(600)

REPO = Path(__file__).resolve().parents[1]
CYCLE = "import sys; from newswatch.config import load_settings; from flows.cycle import run_cycle; run_cycle(load_settings(sys.argv[1]))"
FIRST = ["korea-talks", "bank-rates", "harbor-storm", "election-debate"]
SUMMIT = ("North Korea and Japan hold first talks on missing citizens in a decade", [
    "TOKYO - Officials from North Korea and Japan met in Mongolia this week for the first talks in ten years on the fate of Japanese citizens abducted decades ago, the foreign ministry said.",
    "The two delegations spent two days in Ulaanbaatar and agreed to meet again before the end of the year, according to a short statement released on Saturday evening.",
    "\u201cWe heard nothing new, but we heard it across a table rather than through the newspapers,\u201d said Haruto Sakai, who speaks for the families of the missing.",
    "Past rounds ended with promises of fresh investigations that families say were never carried out, and public opinion in Japan remains deeply sceptical.",
    "Mongolia has offered its capital as a neutral venue for several rounds of quiet diplomacy involving Pyongyang over the past twenty years.",
])


def korea_site() -> tuple[LoopbackSite, list[str]]:
    """Feed /first.xml carries four articles (one about North Korea); /second.xml is empty until
    ``publish_second`` fills it with six more (one about North Korea), each page answering after 0.3 s."""
    site = LoopbackSite()
    now = datetime.now(UTC).replace(microsecond=0)
    for slug in FIRST:
        site.add(f"/news/{slug}", Route(page_html(*ARTICLES[slug]).encode()))
    first = rss2([(ARTICLES[s][0], site.url(f"/news/{s}"), now - timedelta(hours=i + 1)) for i, s in enumerate(FIRST)])
    site.add("/first.xml", Route(first, content_type="application/rss+xml"))
    site.add("/second.xml", Route(rss([]).encode(), content_type="application/rss+xml"))
    return site, [f"/news/{s}" for s in FIRST]


def publish_second(site: LoopbackSite) -> list[str]:
    later = articles(5, seed=1101) + [(SUMMIT[0], page_html(*SUMMIT))]
    paths = [f"/later/{i}" for i in range(5)] + ["/later/summit"]
    for path, (_, page) in zip(paths, later, strict=True):
        site.add(path, Route(page.encode(), delay_seconds=0.3))
    items = [item(title, site.url(path), path) for path, (title, _) in zip(paths, later, strict=True)]
    site.add("/second.xml", Route(rss(items).encode(), content_type="application/rss+xml"))
    return paths


def state(path: str) -> dict:
    """What the warehouse holds; opening it is itself the first check."""
    con = duckdb.connect(path, read_only=True)
    try:
        one = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        return {
            "articles": sorted(r[0] for r in one("SELECT regexp_extract(url, '/(news|later)/[^?]+') FROM articles")),
            "feed_items": one("SELECT count(*) FROM feed_items")[0][0],
            "quarantine": one("SELECT count(*) FROM quarantine")[0][0],
            "alerts": one("SELECT status, count(*) FROM alerts GROUP BY status ORDER BY status"),
            "runs": [r[0] for r in one("SELECT status FROM runs ORDER BY started_at")],
            "validators": one("SELECT count(*) FROM feeds WHERE last_content_hash IS NOT NULL")[0][0],
            "tables": {t: one(f"SELECT count(*) FROM {t}")[0][0] for (t,) in one("SHOW TABLES")},
        }
    finally:
        con.close()


def half_batches(path: str) -> list[tuple]:
    """Articles missing any row their batch writes with them (none may exist)."""
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(
            "SELECT a.url FROM articles a WHERE "
            "NOT EXISTS (SELECT 1 FROM feed_items f WHERE f.article_id = a.article_id AND f.status = 'loaded') "
            "OR NOT EXISTS (SELECT 1 FROM story_links l WHERE l.article_id = a.article_id) "
            "OR NOT EXISTS (SELECT 1 FROM stories s WHERE s.story_id = a.story_id) "
            "OR NOT EXISTS (SELECT 1 FROM mentions m WHERE m.article_id = a.article_id) "
            "OR (a.text LIKE '%North Korea%' AND NOT EXISTS (SELECT 1 FROM topic_matches t WHERE t.article_id = a.article_id))"
        ).fetchall()
    finally:
        con.close()


def env_for(fault: str | None) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    env.pop("NEWSWATCH_FAULT", None)
    if fault:
        env["NEWSWATCH_FAULT"] = fault
    return env


def leftovers(group: int, grace: float = 3.0) -> int:
    """How many processes of the dead cycle's process group still live after ``grace`` seconds; then
    SIGKILL them (they are this test's own: the cycle ran in a session of its own)."""
    import psutil

    def members() -> list[int]:
        out = []
        for p in psutil.process_iter(["pid", "status"]):
            try:
                if os.getpgid(p.pid) == group and p.info["status"] != psutil.STATUS_ZOMBIE:
                    out.append(p.pid)
            except (ProcessLookupError, psutil.Error):
                continue
        return out

    deadline = time.monotonic() + grace
    while members() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = len(members())
    if left:
        os.killpg(group, signal.SIGKILL)
    return left


def killed_at(cfg: Path, fault: str) -> dict:
    """Run one cycle in a process (and session) of its own that dies at ``fault``."""
    t0 = time.monotonic()
    with open(cfg.with_name(f"{fault}.log"), "w") as log:
        proc = subprocess.Popen([sys.executable, "-c", CYCLE, str(cfg)], cwd=REPO, env=env_for(fault),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=300)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return {"rc": rc, "seconds": time.monotonic() - t0, "leftovers": leftovers(proc.pid)}


def sigkilled(cfg: Path, site: LoopbackSite, rng: random.Random) -> dict:
    """Start ``newswatch run``; once it has polled the second feed, SIGKILL it after a random delay."""
    with open(cfg.with_name("sigkill.log"), "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--config", str(cfg)], cwd=REPO,
                                env=env_for(None), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        t0, polled = time.monotonic(), len(site.requests_to("/second.xml"))
        try:
            while len(site.requests_to("/second.xml")) == polled and proc.poll() is None and time.monotonic() - t0 < 240:
                time.sleep(0.05)
            delay = rng.uniform(0.2, 5.0)
            time.sleep(delay)
            pages_fetched = sum(1 for r in site.requests if r.path.startswith("/later/"))
            finished_first = proc.poll() is not None
            if not finished_first:
                os.kill(proc.pid, signal.SIGKILL)  # the cycle's process only, as the OOM killer would
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return {"rc": rc, "delay": delay, "pages_fetched_at_kill": pages_fetched, "finished_first": finished_first,
            "seconds": time.monotonic() - t0, "leftovers": leftovers(proc.pid)}


@pytest.fixture(scope="module")
def life(tmp_path_factory, prefect_harness):
    from flows.cycle import run_cycle
    from pipeline.workers import shutdown_pool

    shutdown_pool()  # start with a fresh worker pool, whatever earlier modules left
    tmp = tmp_path_factory.mktemp("faults-crash")
    site, first_pages = korea_site()
    out: dict = {"deaths": {}, "states": {}}
    with site, WebhookReceiver() as hook:
        doc = {"warehouse": {"path": str(tmp / "wh" / "newswatch.duckdb")},
               "fetch": {"allow_private_networks": True, "timeout_seconds": 5, "per_host_concurrency": 2},
               "feeds": [{"name": "First", "url": site.url("/first.xml")}, {"name": "Second", "url": site.url("/second.xml")}],
               "topics": [{"name": "korea", "query": '"North Korea" OR "Kim Jong Un"'}],
               "alerts": [{"topic": "korea", "notify": [hook.url]}],
               "nlp": {"processes": 1}}
        cfg = tmp / "config.yaml"
        cfg.write_text(yaml.safe_dump(doc))
        settings = load_settings(cfg)
        path = settings.warehouse.path
        for fault in ("during_fetch", "during_extraction", "during_load", "exit_before_send"):
            out["deaths"][fault] = killed_at(cfg, fault)
            out["states"][fault] = state(path)
            out["states"][fault]["alerts_received"] = len(hook.received)
        out["recovery"] = run_cycle(settings)
        out["states"]["recovery"] = state(path)
        out["after_recovery_received"] = list(hook.received)
        out["second_pages"] = publish_second(site)
        seed = int(os.environ.get("NEWSWATCH_CRASH_SEED", time.time_ns() % 1_000_000))
        out["sigkill"] = {"seed": seed, **sigkilled(cfg, site, random.Random(seed))}
        out["states"]["sigkill"] = state(path)
        out["final"] = run_cycle(settings)
        out["states"]["final"] = state(path)
        out["rerun"] = run_cycle(settings)
        out["states"]["rerun"] = state(path)
        out["received"] = list(hook.received)
    out["first_pages"], out["path"] = first_pages, path
    print(f"\ncrash points: {out['deaths']}\nsigkill: {out['sigkill']}")  # shown with pytest -s
    return out


def test_each_injected_death_kills_the_process_at_its_point(life):
    codes = {fault: d["rc"] for fault, d in life["deaths"].items()}
    assert codes == {"during_fetch": 137, "during_extraction": 137, "during_load": 137, "exit_before_send": 137}  # one hook, one status: a death at any point reads as SIGKILL


def test_a_dead_cycle_leaves_no_worker_process_behind(life):
    # the spawn pool's worker and resource tracker must not outlive the cycle's process by > 3 s
    left = {f: d["leftovers"] for f, d in life["deaths"].items()} | {"sigkill": life["sigkill"]["leftovers"]}
    assert set(left.values()) == {0}, left


def test_a_death_before_the_commit_leaves_nothing_of_the_batch(life):
    for fault in ("during_fetch", "during_extraction", "during_load"):
        s = life["states"][fault]
        assert s["articles"] == [] and s["feed_items"] == 0 and s["alerts"] == [], fault
        assert s["validators"] == 0, fault  # feed cursors did not advance without their items
        assert s["tables"]["mentions"] == s["tables"]["story_links"] == s["tables"]["topic_matches"] == 0, fault
        assert s["alerts_received"] == 0


def test_a_death_after_the_commit_keeps_the_whole_batch_and_its_unsent_alert(life):
    s = life["states"]["exit_before_send"]
    assert s["articles"] == sorted(life["first_pages"]) and s["alerts"] == [("pending", 1)]
    assert s["alerts_received"] == 0
    assert s["runs"] == ["crashed", "crashed", "crashed", "running"]  # each start marks the dead run before it


def test_the_next_cycle_after_the_deaths_completes_and_sends_the_alert_once(life):
    r = life["recovery"]
    assert r.status == "completed" and r.articles_new == 0
    assert r.entries_seen == r.articles_new + r.duplicates + r.quarantined
    assert [m.title for m in life["after_recovery_received"]] == [f"[korea] {ARTICLES['korea-talks'][0]}"]
    assert life["states"]["recovery"]["alerts"] == [("sent", 1)]


def test_a_real_sigkill_at_a_random_moment_loses_nothing(life):
    k = life["sigkill"]
    why = f"SIGKILL {k['delay']:.2f}s after the second feed was polled (seed {k['seed']}, {k['pages_fetched_at_kill']} pages fetched)"
    assert k["finished_first"] or k["rc"] == -signal.SIGKILL, why
    final = life["final"]
    assert final.status == "completed", why
    everything = sorted(life["first_pages"] + life["second_pages"])
    assert life["states"]["final"]["articles"] == everything, why  # each exactly once
    assert half_batches(life["path"]) == [], why
    assert life["states"]["final"]["quarantine"] == 0, why


def test_every_matching_story_is_alerted_exactly_once_across_all_the_deaths(life):
    by_key: dict[str, set[str]] = {}
    for m in life["received"]:
        if 200 <= m.status < 300:
            by_key.setdefault(m.key or "", set()).add(m.title)
    titles = sorted(t for ts in by_key.values() for t in ts)
    # a SIGKILL between a send and its settle may resend, always under the same Idempotency-Key
    assert titles == sorted([f"[korea] {ARTICLES['korea-talks'][0]}", f"[korea] {SUMMIT[0]}"]), life["received"]
    assert life["states"]["final"]["alerts"] == [("sent", 2)]


def test_a_rerun_after_everything_changes_nothing(life):
    assert life["rerun"].articles_new == 0 and life["rerun"].status == "completed"
    assert life["states"]["rerun"]["tables"] == {**life["states"]["final"]["tables"],
                                                 "runs": life["states"]["final"]["tables"]["runs"] + 1}


def test_two_cycles_in_one_process_with_new_pages_both_complete(tmp_path, prefect_harness):
    from flows.cycle import run_cycle
    from pipeline.workers import shutdown_pool
    from tests.conftest import loopback_settings

    shutdown_pool()
    site = LoopbackSite()
    pages = articles(2, seed=1201)
    for i, (_, page) in enumerate(pages):
        site.add(f"/p/{i}", Route(page.encode()))
    try:
        with site:
            site.add("/feed.xml", Route(rss([item(pages[0][0], site.url("/p/0"), "p0")]).encode()))
            settings = loopback_settings(tmp_path, [{"name": "Feed", "url": site.url("/feed.xml")}],
                                         nlp={"processes": 1, "enabled": False})
            assert run_cycle(settings).articles_new == 1
            site.add("/feed.xml", Route(rss([item(t, site.url(f"/p/{i}"), f"p{i}") for i, (t, _) in enumerate(pages)]).encode()))
            assert run_cycle(settings).articles_new == 1
    finally:
        shutdown_pool()  # leave a working pool behind for later modules
