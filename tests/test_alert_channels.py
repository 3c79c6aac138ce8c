"""Alert channels against hostile receivers on 127.0.0.1: deadlines, redirects, the address policy, bugs.

Every receiver is a real HTTP server on loopback (tests/receiver.py). Private and public addresses are
simulated with an injected resolver and address check (``ALL_PUBLIC``, ``PRIVATE_DNS``): no packet is
ever sent anywhere but 127.0.0.1. ``json://`` goes through our httpx webhook channel, ``form://`` through
apprise in a child process; both must obey the same rules.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import psutil
import pytest
import yaml

from pipeline import delivery
from pipeline.delivery import DELIVERY_DEADLINE_SECONDS, MAX_ATTEMPTS, MESSAGE_DEADLINE_SECONDS, deliver_alerts
from pipeline.settings import settings_from_dict
from tests.receiver import TrickleReceiver, WebhookReceiver
from tests.test_alert_delivery import alert_site, queued, rows, run_until_killed, site_feeds

REPO = Path(__file__).resolve().parents[1]
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
# Slack for a loaded 2-core box: interpreter start, apprise import in the child, the receiver's 1 s tick.
SLACK = 3.0


def fake_hosts(host: str, port: int) -> list[str]:
    """A fake DNS: ``*.private.test`` names are in 10.0.0.0/8, everything else is the loopback receiver."""
    return ["10.0.0.7"] if host.endswith(".private.test") else ["127.0.0.1"]


def loopback_is_public(ip: str) -> bool:
    """The address check of a world where our loopback receiver plays a public host."""
    from extract.netguard import is_public_address

    return ip == "127.0.0.1" or is_public_address(ip)


def settings_for(tmp_path: Path, urls: list[str], *, allow_private: bool = True, rules: int = 1):
    return settings_from_dict({
        "warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")},
        "fetch": {"allow_private_networks": allow_private},
        "feeds": [{"name": f"Feed {i}", "url": f"https://f{i}.example/rss"} for i in (1, 2, 3)],
        "topics": [{"name": "korea", "query": '"North Korea"'}],
        "alerts": [{"name": f"r{i}", "topic": "korea", "notify": urls} for i in range(rules)],
    })


def hang_ups(hook: TrickleReceiver, wait: float = 5.0) -> list[float | None]:
    """When the client closed each connection; the receiver notices at its second write after a close."""
    deadline = time.monotonic() + wait
    while hook.open_connections and time.monotonic() < deadline:
        time.sleep(0.1)
    return list(hook.hung_up)


def no_children_left() -> list[str]:
    """Apprise sender processes this test process started that are still running (there must be none).

    Only those: other tests of the session may keep a worker pool alive on purpose (``run_cycle`` keeps it for
    the next cycle), and it is not what these tests are about.
    """
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "apprise_child" in " ".join(p.cmdline()):
                out.append(" ".join(p.cmdline())[:120])
        except psutil.Error:
            pass
    return out


# --- deadlines --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["json", "form"])
def test_alerts_test_against_a_trickling_webhook_returns_within_the_message_deadline(tmp_path, capsys, scheme):
    from flows.cli import main

    with TrickleReceiver(part="headers") as hook:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump({"fetch": {"allow_private_networks": True},
                                       "warehouse": {"path": str(tmp_path / "wh.duckdb")},
                                       "topics": [{"name": "korea", "query": "korea"}],
                                       "alerts": [{"topic": "korea", "notify": [hook.url.replace("json", scheme)]}]}))
        t0 = time.monotonic()
        code = main(["alerts", "test", "korea", "--config", str(cfg)])
        took = time.monotonic() - t0
        out = capsys.readouterr().out
        hung_up = hang_ups(hook)
    print(f"\nalerts test ({scheme}://, trickling 1 byte/s): exit {code} after {took:.1f}s; the receiver saw the client "
          f"hang up {hung_up[0]:.1f}s after the POST")
    assert code == 1 and f"timeout after {MESSAGE_DEADLINE_SECONDS:g}s" in out, out
    assert MESSAGE_DEADLINE_SECONDS - 0.5 < took < MESSAGE_DEADLINE_SECONDS + SLACK
    assert hung_up[0] is not None and hung_up[0] < MESSAGE_DEADLINE_SECONDS + SLACK
    assert no_children_left() == []


def test_a_webhook_that_answers_200_then_trickles_its_body_has_accepted_the_alert(tmp_path):
    with TrickleReceiver(part="body") as hook:
        s = settings_for(tmp_path, [hook.url])
        queued(s, [("s1", "a1", 1)])
        t0 = time.monotonic()
        assert deliver_alerts(s, now=NOW) == 1
        took = time.monotonic() - t0
    assert took < 3, took  # not a timeout (which would resend a message the receiver took)
    assert rows(s)[0][:3] == ("sent", 1, None)


def test_a_timed_out_send_is_retried_with_backoff_then_failed(tmp_path, monkeypatch):
    monkeypatch.setattr(delivery, "MESSAGE_DEADLINE_SECONDS", 0.5)
    with TrickleReceiver(part="headers") as hook:
        s = settings_for(tmp_path, [hook.url])
        queued(s, [("s1", "a1", 1)])
        t0 = time.monotonic()
        deliver_alerts(s, now=NOW)
        assert time.monotonic() - t0 < 0.5 + SLACK
        [(status, attempts, error, next_at)] = rows(s)
        assert (status, attempts, error, next_at) == ("pending", 1, "timeout after 1s", NOW + timedelta(minutes=1))
        for i in range(1, MAX_ATTEMPTS + 1):
            deliver_alerts(s, now=NOW + timedelta(hours=2 * i))
    [(status, attempts, error, next_at)] = rows(s)
    assert (status, attempts, next_at) == ("failed", MAX_ATTEMPTS, None)
    assert error == f"gave up after {MAX_ATTEMPTS} attempts: timeout after 1s"
    assert len(hook.received) == MAX_ATTEMPTS


def test_a_delivery_stops_at_its_deadline_and_releases_the_rest_unsent(tmp_path, monkeypatch):
    monkeypatch.setattr(delivery, "MESSAGE_DEADLINE_SECONDS", 1.0)
    monkeypatch.setattr(delivery, "DELIVERY_DEADLINE_SECONDS", 1.5)
    with TrickleReceiver(part="headers") as a, TrickleReceiver(part="headers") as b, TrickleReceiver(part="headers") as c:
        s = settings_for(tmp_path, [a.url, b.url, c.url])
        queued(s, [("s1", "a1", 1)])
        t0 = time.monotonic()
        deliver_alerts(s, now=NOW)
        took = time.monotonic() - t0
    assert took < 1.5 + SLACK, took
    got = sorted((r[0], r[1], r[2]) for r in rows(s))
    assert got[0][:2] == ("pending", 0) and "deadline" in got[0][2]  # never tried: its attempt given back
    assert [g[2] for g in got[1:]] == ["timeout after 1s", "timeout after 1s"]  # the second got the 0.5 s left
    assert len(a.received) + len(b.received) + len(c.received) == 2


# --- redirects ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("scheme", ["json", "form"])
def test_a_redirect_is_never_followed_so_the_body_and_key_never_reach_the_other_host(tmp_path, status, scheme):
    with WebhookReceiver() as elsewhere:
        with WebhookReceiver(statuses=[status] * 5, location=elsewhere.http_url + "?stolen=1") as hook:
            s = settings_for(tmp_path, [hook.url.replace("json", scheme)])
            queued(s, [("s1", "a1", 1)])
            assert deliver_alerts(s, now=NOW) == 0
        time.sleep(0.2)
        assert elsewhere.received == []
    assert len(hook.received) == 1
    [(state, attempts, error, _)] = rows(s)
    assert (state, attempts) == ("pending", 1) and str(status) in error
    if scheme == "json":
        assert hook.received[0].key and "redirect to 127.0.0.1 not followed" in error


def test_a_redirect_to_a_decimal_ip_form_is_not_followed_either(tmp_path):
    with WebhookReceiver() as elsewhere:
        with WebhookReceiver(statuses=[308], location=f"http://2130706433:{elsewhere.port}/hook") as hook:
            s = settings_for(tmp_path, [hook.url])
            queued(s, [("s1", "a1", 1)])
            deliver_alerts(s, now=NOW)
        assert elsewhere.received == []
    assert "308" in rows(s)[0][2]


# --- the address policy ------------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["json", "form"])
def test_a_channel_resolving_to_a_private_address_is_blocked_without_any_traffic(tmp_path, scheme):
    with WebhookReceiver() as hook:
        s = settings_for(tmp_path, [f"{scheme}://hooks.private.test:{hook.port}/hook"], allow_private=False)
        queued(s, [("s1", "a1", 1)])
        assert deliver_alerts(s, now=NOW, resolver=fake_hosts, address_check=loopback_is_public) == 0
        assert hook.received == []
    [(state, attempts, error, _)] = rows(s)
    assert (state, attempts) == ("pending", 1)
    assert error.startswith("blocked: private address"), error


@pytest.mark.parametrize("scheme", ["json", "form"])
def test_a_channel_resolving_to_a_public_address_is_delivered(tmp_path, scheme):
    with WebhookReceiver() as hook:
        s = settings_for(tmp_path, [f"{scheme}://hooks.public.test:{hook.port}/hook"], allow_private=False)
        queued(s, [("s1", "a1", 1)])
        assert deliver_alerts(s, now=NOW, resolver=fake_hosts, address_check=loopback_is_public) == 1
    assert len(hook.accepted) == 1 and hook.accepted[0].headers["host"].startswith("hooks.public.test")


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "0x7f000001", "[::1]", "localhost"])
@pytest.mark.parametrize("scheme", ["json", "form"])
def test_loopback_channels_in_any_spelling_are_refused_when_private_networks_are_not_allowed(tmp_path, scheme, host):
    with WebhookReceiver() as hook:
        s = settings_for(tmp_path, [f"{scheme}://{host}:{hook.port}/hook"], allow_private=False)
        results = delivery.send_test_alert(s, "r0")
        assert hook.received == []
    [(_, error)] = results
    assert error is not None and error.startswith("blocked: private address"), error


# --- the boundary ------------------------------------------------------------------------------------------

def test_a_channel_that_raises_costs_its_alert_an_attempt_and_nothing_else(tmp_path, monkeypatch, caplog):
    from pipeline.webhook import WebhookChannel

    with WebhookReceiver() as bad, WebhookReceiver() as good:
        real_send = WebhookChannel.send

        def send(self, message, *, deadline, idempotency_key):
            if str(bad.port) in self._url:
                raise UnicodeEncodeError("ascii", "\u20ac", 0, 1, "a plugin bug")
            return real_send(self, message, deadline=deadline, idempotency_key=idempotency_key)

        monkeypatch.setattr(WebhookChannel, "send", send)
        s = settings_from_dict({
            "warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")}, "fetch": {"allow_private_networks": True},
            "feeds": [{"name": f"Feed {i}", "url": f"https://f{i}.example/rss"} for i in (1, 2)],
            "topics": [{"name": "korea", "query": '"North Korea"'}],
            "alerts": [{"name": "bad", "topic": "korea", "notify": [bad.url]},
                       {"name": "good", "topic": "korea", "notify": [good.url]}]})
        queued(s, [("s1", "a1", 1), ("s2", "b1", 2)])
        with caplog.at_level(logging.INFO, logger="pipeline.delivery"):
            report = delivery.delivery_report(s, now=NOW)
    assert report.delivered == 2 and report.internal_errors == 1
    assert len(good.accepted) == 2 and bad.received == []
    con = duckdb.connect(s.warehouse.path, read_only=True)
    bad_rows = con.execute("SELECT status, attempts, error FROM alerts WHERE rule = 'bad' ORDER BY attempts DESC").fetchall()
    con.close()
    assert bad_rows[0][:2] == ("pending", 1) and bad_rows[0][2].startswith("internal_error: UnicodeEncodeError")
    assert bad_rows[1][:2] == ("pending", 0)  # the same channel is not tried twice in a delivery
    assert "Traceback" in caplog.text and "1 internal errors" in caplog.text


def test_an_apprise_plugin_that_raises_is_reported_from_its_process(tmp_path):
    """A URL apprise accepts but whose plugin fails at send time (an ``Exception`` inside the child)."""
    from pipeline.apprise_child import AppriseWorker
    from pipeline.channels import ChannelPolicy
    from transform.alerts import Message

    worker = AppriseWorker(ChannelPolicy(allow_private=False, resolver=fake_hosts, address_check=loopback_is_public))
    try:
        result = worker.send("form://hooks.public.test:9/hook", Message("t", "b"), deadline=time.monotonic() + 5)
        assert result.error and result.reason in ("refused", "internal_error")  # connection refused on port 9
        result = worker.send("not a url", Message("t", "b"), deadline=time.monotonic() + 5)
        assert result.error == "the channel URL is not a valid apprise URL"
    finally:
        worker.close()
    assert no_children_left() == []


# --- whole runs --------------------------------------------------------------------------------------------

def test_a_run_with_a_trickling_webhook_exits_promptly(tmp_path, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    with alert_site() as site, TrickleReceiver(part="headers") as hook:
        doc = {"warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")},
               "fetch": {"allow_private_networks": True, "timeout_seconds": 3},
               "feeds": site_feeds(site, ("/b.xml",)),
               "topics": [{"name": "korea", "query": '"North Korea" OR "Kim Jong Un"'}],
               "alerts": [{"topic": "korea", "notify": [hook.url]}],
               "nlp": {"processes": 1}}
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump(doc))
        env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
        t0 = time.monotonic()
        code, output = run_until_killed([sys.executable, "-m", "flows.cli", "run", "--config", str(cfg)], env,
                                        tmp_path / "run.log", timeout=240)
        took = time.monotonic() - t0
        hung_up = hang_ups(hook)
    print(f"\nrun with a trickling webhook: exit {code} in {took:.1f}s; webhook connections closed after {hung_up}")
    assert code == 0, output
    assert len(hook.received) == 1 and hung_up[0] is not None and hung_up[0] < MESSAGE_DEADLINE_SECONDS + SLACK
    con = duckdb.connect(doc["warehouse"]["path"], read_only=True)
    errors = sorted(e or "" for (e,) in con.execute("SELECT error FROM alerts").fetchall())
    con.close()
    assert errors[-1] == f"timeout after {MESSAGE_DEADLINE_SECONDS:g}s" and "earlier in this delivery" in errors[0]
    assert took < 120  # a cycle on this site takes ~10-30 s; the trickle alone would last an hour


def test_the_deadlines_fit_a_stopping_serve():
    from flows.serve import CYCLE_FINISH_SECONDS

    assert MESSAGE_DEADLINE_SECONDS <= DELIVERY_DEADLINE_SECONDS <= CYCLE_FINISH_SECONDS


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_serve_keeps_its_schedule_with_a_trickling_webhook_and_stops_on_sigterm(tmp_path):
    """Every cycle has new stories to alert, each to a webhook that never finishes its answer."""
    import signal
    import subprocess

    from tests.growing_site import growing_feeds, growing_site
    from tests.test_serve import STOP_TIMEOUT, _serve_env

    every_seconds = 30.0
    with growing_site(200, n_feeds=2, per_poll=2) as site, TrickleReceiver(part="headers") as hook:
        wh = tmp_path / "wh" / "newswatch.duckdb"
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump({
            "warehouse": {"path": str(wh)}, "schedule": {"every_minutes": every_seconds / 60},
            "fetch": {"allow_private_networks": True, "timeout_seconds": 3, "per_host_concurrency": 8},
            "polling": {"min_interval_minutes": 0.01, "max_interval_minutes": 0.05},
            "feeds": growing_feeds(site),
            "topics": [{"name": "all", "query": "the OR in OR merger OR revenue OR outage OR pressure"}],
            "alerts": [{"topic": "all", "notify": [hook.url]}],
            "nlp": {"enabled": False, "processes": 1}}))
        log = tmp_path / "serve.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--config", str(cfg)], cwd=tmp_path,
                                    env=_serve_env(tmp_path), stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 240
            while log.read_text().count("newswatch cycle ") < 3 or not hook.open_connections:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)  # in the middle of a trickling send
            code = proc.wait(timeout=STOP_TIMEOUT)
            stop_seconds = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
    con = duckdb.connect(str(wh), read_only=True)
    starts = [r[0] for r in con.execute("SELECT started_at FROM runs ORDER BY started_at").fetchall()]
    con.close()
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    print(f"\nserve with a trickling webhook: cycle starts {[f'{s:%H:%M:%S}' for s in starts]}, gaps {gaps}; "
          f"SIGTERM -> exit {code} in {stop_seconds:.1f}s; webhook sends cut after {hook.hung_up}")
    assert code == 0, log.read_text()
    assert len(starts) >= 3 and all(g < every_seconds + 15 for g in gaps), gaps
    assert all(h is None or h < MESSAGE_DEADLINE_SECONDS + SLACK for h in hook.hung_up)
    assert "Traceback" not in log.read_text()
