"""An operator's first day, through the public CLI only: real ``newswatch`` processes against the loopback demo site.

Why a scenario file: each command has its own tests; these check that they fit together the way the README
tells a new operator to use them (import feeds, add one by a site page, run, list, export, query, inspect,
then leave ``serve`` running with a webhook), and that nothing ends in a traceback or drives the terminal.
"""

from __future__ import annotations

import gzip
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from demosite.loopback import LoopbackSite, Route
from demosite.site import DEMO_TOPICS, demo_feeds, demo_page_url, demo_site
from extract.opml import opml_feeds
from tests.receiver import WebhookReceiver

REPO = Path(__file__).resolve().parents[1]
# Any ESC/CSI/OSC sequence, BEL or other C0 control but TAB, CR and LF.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@pytest.fixture(scope="module")
def site() -> Iterator[LoopbackSite]:
    with demo_site() as s:
        yield s


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "HOOK_URL")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_LOGGING_LEVEL="WARNING", **extra)
    return env


def _cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=tmp_path, env=env or _env(tmp_path),
                          capture_output=True, text=True, timeout=timeout)


def _feed(site: LoopbackSite, name: str) -> str:
    return next(f["url"] for f in demo_feeds(site) if f["name"] == name)


def _config(tmp_path: Path, **sections: Any) -> Path:
    doc: dict[str, Any] = {
        "warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")},
        "fetch": {"allow_private_networks": True, "timeout_seconds": 5, "per_host_concurrency": 8},
        "feeds": [],
        "topics": DEMO_TOPICS,
        "nlp": {"enabled": False},
        **sections,
    }
    cfg = tmp_path / "config.yaml"
    cfg.write_text("# the operator's config\n" + yaml.safe_dump(doc, sort_keys=False))
    return cfg


def _no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr[-3000:]


def test_an_operators_first_run_through_the_cli(tmp_path, site):
    version = _cli(tmp_path, "--version")
    assert version.returncode == 0 and re.fullmatch(r"newswatch \S+\n", version.stdout), version

    cfg = _config(tmp_path, alerts=[{"topic": "korea-diplomacy", "notify": ["${HOOK_URL}"]}])
    with_hook = _env(tmp_path, HOOK_URL="json://127.0.0.1:9/hook")
    opml = tmp_path / "subscriptions.opml"
    opml.write_text(f"""<?xml version="1.0"?>
<opml version="2.0"><head><title>exported from another reader</title></head><body>
  <outline text="Wire"><outline type="rss" text="Northern Wire" xmlUrl="{_feed(site, 'Northern Wire')}"/></outline>
  <outline type="rss" text="Capital Ledger" xmlUrl="{_feed(site, 'Capital Ledger - Business')}"/>
</body></opml>""")
    imported = _cli(tmp_path, "feeds", "import", str(opml), "--config", str(cfg), env=with_hook)
    assert imported.returncode == 0 and "imported 2 of 2" in imported.stdout, imported.stderr
    page = demo_page_url(site, "harbor-courier/kim-talks")  # an article page; its <link rel=alternate> names the feed
    added = _cli(tmp_path, "feeds", "add", page, "--name", "Harbor Courier", "--config", str(cfg), env=with_hook)
    assert added.returncode == 0, added.stderr
    assert _feed(site, "Harbor Courier - Top Stories") in added.stdout
    assert "# the operator's config" in cfg.read_text()

    run = _cli(tmp_path, "run", "--config", str(cfg), env=with_hook)  # piped: stage lines, no bars
    assert run.returncode == 0, run.stderr[-3000:]
    _no_traceback(run)
    assert "feeds polled 3 (failed 0)" in run.stdout
    stages = [line.split(":")[0] for line in run.stderr.splitlines() if re.match(r"^\w+: .* in \d+\.\d+s$", line)]
    assert stages == ["poll", "fetch", "process", "load", "deliver"], run.stderr
    assert "poll: 3 feeds (0 failed) in " in run.stderr
    assert not CONTROL.search(run.stdout + run.stderr)

    listing = _cli(tmp_path, "feeds", "--config", str(cfg), env=with_hook)
    assert listing.returncode == 0, listing.stderr
    for name in ("Northern Wire", "Capital Ledger", "Harbor Courier"):
        assert re.search(rf"^{name}\s.* ok ", listing.stdout, re.M), listing.stdout

    exported = _cli(tmp_path, "feeds", "export", "--config", str(cfg), env=with_hook)
    assert exported.returncode == 0, exported.stderr
    assert {f.url for f in opml_feeds(exported.stdout.encode())} == {
        _feed(site, "Northern Wire"), _feed(site, "Capital Ledger - Business"), _feed(site, "Harbor Courier - Top Stories")}

    # The analyst's side: HOOK_URL is not set in their shell, and the alert rule is none of their business.
    per_feed = _cli(tmp_path, "sql", "SELECT count(DISTINCT feed_id) AS feeds, count(*) > 0 AS some FROM feed_items",
                    "--format", "json", "--config", str(cfg))
    assert per_feed.returncode == 0, per_feed.stderr
    assert json.loads(per_feed.stdout) == [{"feeds": 3, "some": True}]
    assert _cli(tmp_path, "check-config", "--config", str(cfg)).returncode == 2  # ...which the pipeline does need
    # The README's Python snippet for analysts runs as printed, and prints no warning (as a user runs it).
    snippet = next(block for block in re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
                   if "query_frame" in block)
    snippet_run = subprocess.run([sys.executable, "-c", snippet.replace('"config.yaml"', repr(str(cfg)))],
                                 cwd=REPO, env=with_hook, capture_output=True, text=True, timeout=120)
    assert snippet_run.returncode == 0 and not snippet_run.stderr, snippet_run.stderr[-3000:]

    bad = tmp_path / "bad"
    bad.mkdir()
    bad_cfg = _config(bad, schedule={"cron": "99 * * * *"})
    checked = _cli(bad, "check-config", "--config", str(bad_cfg))
    assert checked.returncode == 2 and "schedule.cron" in checked.stderr, checked.stderr
    _no_traceback(checked)

    with urllib.request.urlopen(page, timeout=5) as resp:  # noqa: S310 - the loopback demo site
        html = resp.read()
    gz = tmp_path / "kim-talks.html.gz"
    gz.write_bytes(gzip.compress(html))
    inspected = _cli(tmp_path, "inspect", str(gz), "--config", str(cfg), env=with_hook)
    assert inspected.returncode == 0, inspected.stderr
    assert "Kim" in json.loads(inspected.stdout)["text"]


def _hostile_site() -> LoopbackSite:
    """A feed whose titles try to retitle the window, clear the screen and plant a link."""
    site = LoopbackSite()
    now = datetime.now(UTC)
    evil = "\x1b]0;pwned\x07Breaking\x1b[2J news \x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
    items = []
    for k in range(6):
        path = f"/news/{k}"
        body = (f"<html><head><title>{evil} {k}</title></head><body><article><h1>{evil} {k}</h1>"
                + "".join(f"<p>Paragraph {j} of story {k} says the harbour reopened after the storm and ferries "
                          f"sailed again on {j} routes across the bay, to the relief of island residents.</p>"
                          for j in range(8)) + "</article></body></html>")
        site.add(path, Route(body.encode(), content_type="text/html; charset=utf-8"))
        date = (now - timedelta(hours=k + 1)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        items.append(f"<item><title>{evil} {k}</title><link>{site.url(path)}</link><guid>{site.url(path)}</guid>"
                     f"<pubDate>{date}</pubDate></item>")
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>{evil}</title>{"".join(items)}</channel></rss>'
    site.add("/feed.xml", Route(feed.encode(), content_type="application/rss+xml"))
    return site


def _under_a_terminal(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> tuple[int, bytes]:
    """Run ``args`` with stdin, stdout and stderr on a pseudo-terminal, as an operator's shell would; returns
    its exit code and everything it wrote to the terminal."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, cwd=cwd, env={**env, "COLUMNS": "100", "LINES": "30", "TERM": "xterm-256color"},
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=30), bytes(out)


def test_a_run_on_a_terminal_shows_progress_then_the_summary_and_no_feed_text_drives_it(tmp_path):
    with _hostile_site() as hostile, demo_site() as demo:
        feeds = [{"name": "Hostile", "url": hostile.url("/feed.xml")}, *demo_feeds(demo)[:4]]
        cfg = _config(tmp_path, feeds=feeds)
        code, screen = _under_a_terminal([sys.executable, "-m", "flows.cli", "run", "--config", str(cfg)],
                                         tmp_path, _env(tmp_path))
    text = screen.decode("utf-8", "replace")
    assert code == 0, text[-3000:]
    assert "Traceback" not in text
    assert "feeds polled" in text and "pages fetched" in text and "pages processed" in text  # the bars
    assert "/s" in text and "ETA" in text  # with a rate and an estimate
    assert "\x1b[?25l" in text and text.count("\x1b[2K") >= 3  # drawn live, then erased
    summary_at = text.index("run ")
    assert "feeds polled 5" in text[summary_at:]  # the summary follows the bars, which are gone by then
    assert "\x1b[2K" not in text[summary_at:]
    for sequence in ("\x1b]0;pwned", "\x1b]8;;http://evil", "\x07", "\x1b[2J"):
        assert sequence not in text  # the feed's own control sequences never reach the terminal


def test_serve_delivers_every_alert_soon_after_start_despite_a_failing_webhook_and_stops_on_sigterm(tmp_path, site):
    """A 30-minute schedule: the first cycle runs at start, the webhook's 500 is retried between cycles."""
    with WebhookReceiver(statuses=[500]) as hook:
        cfg = _config(tmp_path, feeds=demo_feeds(site), schedule={"every_minutes": 30},
                      alerts=[{"topic": t["name"], "notify": [hook.url]} for t in DEMO_TOPICS])
        log = tmp_path / "serve.out"
        err = tmp_path / "serve.err"
        started = time.monotonic()
        with open(log, "wb") as out, open(err, "wb") as errors:
            proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--config", str(cfg)], cwd=tmp_path,
                                    env=_env(tmp_path), stdout=out, stderr=errors)
        try:
            queued = _alerts_queued(tmp_path, cfg, proc, deadline=started + 240)
            assert queued > 0
            while time.monotonic() < started + 300:
                accepted = {r.key for r in hook.received if r.status == 200}
                if len(accepted) >= queued:
                    break
                assert proc.poll() is None, err.read_text()[-3000:]
                time.sleep(1)
            arrived = time.monotonic() - started
            accepted = {r.key for r in hook.received if r.status == 200}
            assert len(accepted) == queued, (hook.received, log.read_text())
            assert hook.received[0].status == 500  # the first request failed and was retried
            assert arrived < 300
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=120)
    print(f"\nevery alert ({queued}) arrived {arrived:.0f}s after serve started")
    assert code == 0, err.read_text()[-3000:]
    assert "Traceback" not in err.read_text() and "Traceback" not in log.read_text()
    assert "newswatch poll: " in log.read_text()  # serve logs one line per stage too
    assert not CONTROL.search(log.read_text())


def _alerts_queued(tmp_path: Path, cfg: Path, proc: subprocess.Popen[bytes], *, deadline: float) -> int:
    """How many alerts the first cycle queued, read from the analysts' lake once it is published."""
    snapshot = tmp_path / "wh" / "newswatch-lake" / "current.duckdb"
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited before its first cycle"
        if snapshot.exists():  # serve publishes one before its first cycle: wait for a finished run
            r = _cli(tmp_path, "sql", "SELECT (SELECT count(*) FROM runs WHERE finished_at IS NOT NULL) AS runs, "
                     "(SELECT count(*) FROM alerts) AS n", "--format", "json", "--config", str(cfg))
            if r.returncode == 0 and (counts := json.loads(r.stdout)[0])["runs"]:
                return int(counts["n"])
        time.sleep(1)
    raise AssertionError("no lake version within the deadline")
