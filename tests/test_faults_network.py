"""A broken network through real cycles: each failure is recorded once with a readable reason, the
cycle completes, retriable failures are retried and then given up, and gone feeds are disabled and
reported.

Private networks are *not* allowed here (``fetch.allow_private_networks: false``), as in production.
The site (tests/fault_site.py ``network_site``) listens on 127.0.0.1 only; the cycle builds its own
HttpClient, so the fake DNS (``news.example`` -> 127.0.0.1, ``intranet.example`` -> 127.0.0.2, an
unknown name, a temporarily failing name) and the address check (127.0.0.1 plays a public server) are
injected through ``extract.netguard.DEFAULT_RESOLVER`` / ``DEFAULT_ADDRESS_CHECK``. A socket guard
fails any connection attempt outside 127.0.0.1 and the tests assert there was none.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import duckdb
import pytest

from tests.conftest import loopback_settings
from tests.fault_site import loopback_plays_public, network_dns, network_site, only_loopback_connections
from tests.receiver import WebhookReceiver

pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]

def rows(path: str, sql: str) -> list[tuple]:
    con = duckdb.connect(path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from extract import netguard
    from flows.cycle import run_cycle
    from pipeline.workers import shutdown_pool

    shutdown_pool()  # a fresh worker pool, whatever earlier modules left
    fs = network_site()
    with pytest.MonkeyPatch.context() as mp, only_loopback_connections(mp) as outside, fs.site, WebhookReceiver() as ops:
        mp.setattr(netguard, "DEFAULT_RESOLVER", network_dns())
        mp.setattr(netguard, "DEFAULT_ADDRESS_CHECK", loopback_plays_public)
        settings = loopback_settings(
            tmp_path_factory.mktemp("faults-net"), fs.feeds,
            fetch={"allow_private_networks": False, "timeout_seconds": 2, "per_host_concurrency": 16},
            polling={"disable_after_gone": 2}, runner={"max_failure_ratio": 1.0},
            operator={"notify": [ops.url]}, nlp={"processes": 1, "enabled": False},
        )
        path = settings.warehouse.path
        summaries, quarantine, feed_state, requests = [], [], [], []
        for _ in range(3):
            summaries.append(run_cycle(settings))
            quarantine.append(rows(path, "SELECT url, stage, reason, message, attempts FROM quarantine"))
            feed_state.append({r[0]: r[1:] for r in rows(
                path, "SELECT name, last_status, last_error, consecutive_failures, disabled, disabled_reason, "
                      "next_poll_at - last_polled_at FROM feeds")})
            requests.append({p: len(fs.site.requests_to(p)) for p in fs.site.routes})
        received = list(ops.received)
    return {"fs": fs, "path": path, "s": summaries, "q": quarantine, "feeds": feed_state, "requests": requests,
            "ops": received, "outside": outside}


def page_rows(quarantine: list[tuple]) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in quarantine if r[1] != "feed"}


def test_every_cycle_completes_and_accounts_for_every_entry(run):
    for s in run["s"]:
        assert s.status == "completed", s
        assert s.entries_seen == s.articles_new + s.duplicates + s.quarantined
    assert [s.articles_new for s in run["s"]] == [2, 0, 0]
    assert [s.feeds_polled for s in run["s"]] == [13, 13, 11]  # the two gone feeds are no longer polled
    runs = rows(run["path"], "SELECT status, entries_seen, articles_new, duplicates, failures FROM runs")
    assert len(runs) == 3 and all(r[0] == "completed" and r[1] == r[2] + r[3] + r[4] for r in runs)


def test_nothing_connected_outside_loopback_and_private_targets_were_never_asked(run):
    assert run["outside"] == []
    assert run["requests"][-1]["/p/secret"] == 0  # the redirect into the intranet was refused


def test_each_page_failure_is_quarantined_once_with_its_reason(run):
    fs = run["fs"]
    first = page_rows(run["q"][0])
    assert {url: (stage, reason) for url, (stage, reason, _, _) in first.items()} == fs.expected_pages
    for url, (_, _, message, attempts) in first.items():
        assert attempts == 1 and message and len(message) < 300, (url, message)
    messages = {f"{urlsplit(url).hostname}|{reason}": message for url, (_, reason, message, _) in first.items()}
    assert messages["nxdomain.example|dns_error"] == "cannot resolve nxdomain.example: Name or service not known"
    assert "temporary DNS failure" in messages["flaky-dns.example|dns_error"]
    private = [m for k, m in messages.items() if k.endswith("private_address")]
    assert len(private) == 2 and all("set fetch.allow_private_networks to allow it" in m for m in private)
    assert any("169.254.169.254" in m for m in private) and any("intranet.example" in m for m in private)
    assert messages["news.example|http_410"].endswith("HTTP 410 Gone")
    assert messages["news.example|http_503"].endswith("HTTP 503 Service Unavailable (Retry-After 7200s)")
    assert messages["news.example|tls_error"].startswith("https://news.example:")


def test_retriable_page_failures_are_retried_then_given_up_and_final_ones_are_not(run):
    by_cycle = [page_rows(q) for q in run["q"]]
    assert [len(q) for q in by_cycle] == [11, 11, 11]  # the same rows, updated in place
    last = by_cycle[-1]
    for url, (_, reason, _, attempts) in last.items():
        retriable = reason in ("connection_refused", "tls_error", "http_503", "http_429") or "flaky-dns" in url
        assert attempts == (3 if retriable else 1), (url, reason, attempts)
    quarantined_items = rows(run["path"], "SELECT count(*) FROM feed_items WHERE status = 'quarantined'")
    assert quarantined_items == [(11,)]  # after the third attempt every failure is final
    req = run["requests"]
    assert req[-1]["/p/busy"] == 3 and req[-1]["/p/slow-down"] == 3
    assert req[-1]["/p/gone"] == 1 and req[-1]["/p/missing"] == 1 and req[-1]["/p/loop-a"] == 1


def test_each_feed_failure_is_in_feed_state_with_a_readable_reason(run):
    fs, first = run["fs"], run["feeds"][0]
    for name, status in fs.expected_feeds.items():
        assert first[name][0] == status, (name, first[name])
        assert first[name][1] and "?" not in first[name][1], (name, first[name][1])
    feed_rows = [r for r in run["q"][0] if r[1] == "feed"]
    assert len(feed_rows) == len(fs.expected_feeds)  # one quarantine row per failing feed
    assert first["Pages"][0] == "ok"


def test_retry_after_is_honoured_for_429_and_503(run):
    first = run["feeds"][0]
    assert first["Rate limited"][5] >= timedelta(seconds=3600)
    assert first["Busy"][5] >= timedelta(seconds=7200)
    assert first["Busy until"][5] >= timedelta(hours=2, minutes=55)  # an HTTP-date Retry-After


def test_gone_feeds_are_disabled_after_the_configured_count_and_reported_once(run):
    after = run["feeds"]
    assert not after[0]["Gone"][3] and not after[0]["Missing"][3]  # one 410 is not enough
    assert after[1]["Gone"][3] and after[1]["Missing"][3]
    assert after[1]["Gone"][4] == "gone (http_410) 2 times"
    assert not after[2]["Busy"][3] and after[2]["Busy"][2] == 3  # a busy feed backs off, never disabled
    assert run["requests"][2]["/feeds/gone"] == run["requests"][1]["/feeds/gone"] == 2
    disabled = [m for m in run["ops"] if "feed disabled" in m.title]
    assert sorted(m.title for m in disabled) == ["[newswatch] feed disabled: Gone", "[newswatch] feed disabled: Missing"]
