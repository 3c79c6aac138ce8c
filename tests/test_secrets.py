"""Secrets from ``${ENV}`` never leave the process: not in logs, the warehouse, its snapshot, Prefect's
database, error messages or the command line's output.

The config puts a feed API key in a query string, a password in a feed URL's userinfo, a token in the
path of an alert webhook and a password in an operator webhook. The feeds point at a loopback site that
fails (500), echoes the key into item links (as some feed APIs do) and links a page that is missing; the
webhooks answer 500, so every error path that could quote a URL is taken. Two cycles run: one in this
process (every log record and everything written to stdout/stderr captured) and one as
``newswatch -v run`` in a subprocess. Then every table is dumped as text and searched.

The last tests are about configuration mistakes: every kind gives its path and a hint, nothing runs,
and a secret in a bad value is not echoed.
"""

from __future__ import annotations

import logging
import os
import secrets as pysecrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from demosite.loopback import LoopbackSite, Route
from pipeline.settings import load_settings
from tests.fault_site import closed_port
from tests.receiver import WebhookReceiver
from tests.site_fixture import ARTICLES, page_html, rss2

pytestmark = pytest.mark.timeout(300)

REPO = Path(__file__).resolve().parents[1]
SECRET_VARS = ("NW_FEED_KEY", "NW_FEED_PASS", "NW_HOOK_TOKEN", "NW_OPS_PASS")


def secret_site(key: str) -> LoopbackSite:
    site = LoopbackSite()
    now = datetime.now(UTC).replace(microsecond=0)
    title, paras = ARTICLES["korea-talks"]
    site.add("/news/korea", Route(page_html(title, paras).encode()))
    site.add("/news/bank", Route(page_html(*ARTICLES["bank-rates"]).encode()))
    feed = rss2([
        (title, site.url(f"/news/korea?apikey={key}&id=1"), now - timedelta(hours=1)),  # the key echoed into links
        ("Missing", site.url(f"/news/missing?apikey={key}"), now - timedelta(hours=2)),
    ])
    site.add("/feed.xml", Route(feed, content_type="application/rss+xml"))
    site.add("/private.xml", Route(rss2([(ARTICLES["bank-rates"][0], site.url("/news/bank"), now)]),
                                   content_type="application/rss+xml"))
    site.add("/broken.xml", Route(b"upstream failed", status=500))
    return site


def tables_as_text(path: str) -> dict[str, str]:
    """Every row of every table (and view) of a DuckDB file, as text, by table."""
    con = duckdb.connect(path, read_only=True)
    try:
        return {t: "\n".join(map(repr, con.execute(f"SELECT * FROM {t}").fetchall()))
                for (t,) in con.execute("SHOW TABLES").fetchall()}
    finally:
        con.close()


def prefect_database_bytes() -> bytes:
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    db = Path(str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value()).split("///", 1)[1])
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


class Everything(logging.Handler):
    """Collects every record of every logger, including those that do not propagate (Prefect's)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()} {record.exc_text or ''}")
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@contextmanager
def console_captured() -> Iterator[dict[str, str]]:
    """Everything written to file descriptors 1 and 2 in this block (Prefect's console handler included)."""
    out: dict[str, str] = {}
    with tempfile.TemporaryFile() as tmp:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            yield out
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            tmp.seek(0)
            out["text"] = tmp.read().decode("utf-8", "replace")


@contextmanager
def every_log_record() -> Iterator[Everything]:
    handler, touched = Everything(), []
    for logger in [logging.getLogger()] + [logging.getLogger(n) for n in list(logging.root.manager.loggerDict)]:
        if isinstance(logger, logging.Logger):
            logger.addHandler(handler)
            touched.append(logger)
    try:
        yield handler
    finally:
        for logger in touched:
            logger.removeHandler(handler)


@pytest.fixture(scope="module")
def secret_values():
    values = {name: f"{name.lower()}-{pysecrets.token_hex(12)}" for name in SECRET_VARS}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in values.items():
            mp.setenv(name, value)
        yield values


@pytest.fixture(scope="module")
def run(tmp_path_factory, secret_values, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    from flows.cycle import run_cycle
    from pipeline.workers import shutdown_pool

    shutdown_pool()  # a fresh worker pool, whatever earlier modules left
    tmp = tmp_path_factory.mktemp("secrets")
    site = secret_site(secret_values["NW_FEED_KEY"])
    port = int(site.base_url.rsplit(":", 1)[1])
    with site, WebhookReceiver(statuses=[500] * 20) as hook, WebhookReceiver(statuses=[500] * 20) as ops:
        hook_host, ops_host = hook.url.split("//")[1].split("/")[0], ops.url.split("//")[1].split("/")[0]
        doc = {
            "warehouse": {"path": str(tmp / "wh" / "newswatch.duckdb")},
            "fetch": {"allow_private_networks": True, "timeout_seconds": 3},
            "feeds": [
                {"name": "Keyed", "url": site.url("/feed.xml?apikey=${NW_FEED_KEY}")},
                {"name": "Keyed but broken", "url": site.url("/broken.xml?apikey=${NW_FEED_KEY}&v=2")},
                {"name": "Password", "url": f"http://reader:${{NW_FEED_PASS}}@127.0.0.1:{port}/private.xml"},
                {"name": "Password, refused", "url": f"http://reader:${{NW_FEED_PASS}}@127.0.0.1:{closed_port()}/x.xml"},
            ],
            "topics": [{"name": "korea", "query": '"North Korea"'}],
            "alerts": [{"topic": "korea", "notify": [f"json://{hook_host}/hook/${{NW_HOOK_TOKEN}}"]}],
            "operator": {"notify": [f"json://ops:${{NW_OPS_PASS}}@{ops_host}/ops"], "feed_failing_hours": 0.0001},
            "runner": {"max_failure_ratio": 1.0},
            "nlp": {"processes": 1},
        }
        cfg = tmp / "config.yaml"
        cfg.write_text(yaml.safe_dump(doc))
        settings = load_settings(cfg)
        with console_captured() as console, every_log_record() as records:
            first = run_cycle(settings)
        env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
        cli = subprocess.run([sys.executable, "-m", "flows.cli", "-v", "run", "--config", str(cfg)], cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=240)
        sent = [(m.path, str(m.headers), str(m.body)) for m in hook.received + ops.received]
    snapshot = next(Path(settings.warehouse.path).parent.glob("*-lake/current.duckdb"))  # the analysts' tables
    con = duckdb.connect(settings.warehouse.path, read_only=True)
    article_urls = [r[0] for r in con.execute("SELECT url FROM articles").fetchall()]
    feed_errors = [r[0] for r in con.execute("SELECT last_error FROM feeds WHERE last_error IS NOT NULL").fetchall()]
    con.close()
    return {"article_urls": article_urls, "feed_errors": feed_errors, "first": first, "cli": cli, "records": records.lines, "console": console["text"], "sent": sent,
            "hook_calls": len(hook.received), "ops_calls": len(ops.received),
            "warehouse": tables_as_text(settings.warehouse.path), "snapshot": tables_as_text(str(snapshot)),
            "prefect": prefect_database_bytes().decode("utf-8", "replace"), "secrets": secret_values}


def leaks(run, texts: dict[str, str]) -> list[tuple[str, str]]:
    return [(name, where) for name, value in run["secrets"].items() for where, text in texts.items() if value in text]


def test_the_cycles_took_every_error_path(run):
    first, cli = run["first"], run["cli"]
    assert first.status == "completed" and cli.returncode == 0, cli.stderr[-2000:]
    assert first.feeds_failed == 2 and first.quarantined == 1  # the 500 and refused feeds, the missing page
    everything = "\n".join(run["warehouse"].values())
    assert "http_500" in everything and "connection_refused" in everything and "http_404" in everything
    assert run["hook_calls"] >= 1 and run["ops_calls"] >= 1  # alert and operator notice tried (and failed)
    assert run["records"] and "run " in cli.stdout


def test_no_secret_in_logs_console_output_or_prefect(run):
    cli = run["cli"]
    assert leaks(run, {"log records": "\n".join(run["records"]), "console of the in-process cycle": run["console"],
                       "stdout/stderr of `newswatch -v run`": cli.stdout + cli.stderr,
                       "Prefect's database": run["prefect"]}) == []


def test_no_secret_in_quarantine_runs_alerts_or_feed_errors(run):
    wh = run["warehouse"]
    texts = {t: wh[t] for t in ("quarantine", "runs", "alerts", "operator_alerts")}
    texts["feeds.last_error"] = "\n".join(run["feed_errors"])
    assert len(run["feed_errors"]) == 2
    assert leaks(run, texts) == []
    assert "apikey=" not in wh["quarantine"] or "apikey=***" in wh["quarantine"]


def test_a_secret_a_feed_echoes_into_its_links_is_masked_in_article_urls(run):
    assert run["article_urls"] and all("apikey=***&id=1" in u for u in run["article_urls"] if "korea" in u)
    assert leaks(run, {"articles.url": "\n".join(run["article_urls"])}) == []


def test_no_secret_anywhere_in_the_warehouse_or_its_snapshot(run):
    texts = {f"warehouse.{t}": text for t, text in run["warehouse"].items()}
    texts |= {f"snapshot.{t}": text for t, text in run["snapshot"].items()}
    assert leaks(run, texts) == []


def test_webhooks_never_receive_another_channels_secret(run):
    feed_secrets = (run["secrets"]["NW_FEED_KEY"], run["secrets"]["NW_FEED_PASS"])
    assert [s for s in run["sent"] if any(v in "".join(s) for v in feed_secrets)] == []


def test_a_config_error_names_the_path_and_hides_the_secret(tmp_path, secret_values):
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        "warehouse": {"path": str(tmp_path / "wh" / "newswatch.duckdb")},
        "feeds": [{"name": "Keyed", "url": "ftp://example.org/feed?apikey=${NW_FEED_KEY}"}],
        "alerts": [{"topic": "missing", "notify": ["nosuchscheme://${NW_HOOK_TOKEN}@example.org/"]}],
        "fetch": {"timeout_seconds": "${NW_FEED_PASS}"},
        "bogus": 1,
    }))
    r = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--config", str(cfg)], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    for path in ("feeds[0].url:", "alerts[0].notify:", "fetch.timeout_seconds:", "bogus: unknown key"):
        assert path in r.stderr, (path, r.stderr)
    assert [v for v in secret_values.values() if v in r.stdout + r.stderr] == []
    assert not (tmp_path / "wh").exists()  # nothing ran: not even the warehouse was created


def test_every_kind_of_config_mistake_gives_its_path_and_a_hint(monkeypatch):
    from newswatch.errors import ConfigError
    from pipeline.settings import settings_from_dict

    monkeypatch.delenv("NW_UNSET_VAR", raising=False)
    with pytest.raises(ConfigError) as err:
        settings_from_dict({
            "warehouse": {"path": "x.duckdb", "colour": "blue"},                      # unknown key
            "fetch": {"timeout_seconds": "soon", "concurrency": 0},                   # wrong type, out of range
            "feeds": [{"name": "bad", "url": "ftp://example.org/rss"}],               # bad URL
            "topics": [{"name": "t", "query": '"North Korea" AND (talks'}],           # bad topic query
            "alerts": [{"topic": "nope", "notify": ["nosuchscheme://x"]},             # unknown topic, unknown scheme
                       {"topic": "t", "notify": ["${NW_UNSET_VAR}"]}],               # missing environment variable
        })
    problems = [p for p in err.value.problems if not p.startswith(" ")]  # caret lines under a query
    paths = ["warehouse.colour", "fetch.timeout_seconds", "fetch.concurrency", "feeds[0].url", "topics[0].query",
             "alerts[0].topic", "alerts[0].notify", "alerts[1].notify[0]"]
    assert [p for p in paths if not any(line.startswith(p + ":") for line in problems)] == []
    assert [line for line in problems if "hint" not in line and "position" not in line] == []
