"""Secrets are masked in every encoding they take, and nothing newswatch prints carries a raw control
or bidi character, while the warehouse keeps the text exactly as it came.

The CLI checks run ``python -m flows.cli`` in a subprocess against a DuckDB file built by ``migrate()``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_plus

import duckdb
import pytest

from extract.http import redacted_url
from newswatch import secrets
from newswatch.terminal import json_printable, printable, printable_cell
from warehouse.migrations import migrate

REPO = Path(__file__).resolve().parents[1]
SECRET = "Fe3d tok€n"
HOSTILE = "Breaking\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07 \x1b[2J\x1b[31mred\x00nul\x85c1 \u202eexe.txt\u2066"
UNSAFE = ["\x1b", "\x07", "\x00", "\x85", "\u202e", "\u2066"]


@pytest.fixture(autouse=True)
def registered_secret():
    secrets.register(SECRET)
    secrets.register("s3cretHOST")
    yield


@pytest.mark.parametrize("form", [
    SECRET,
    quote(SECRET),                        # Fe3d%20tok%E2%82%ACn
    quote(SECRET).lower(),                # fe3d%20tok%e2%82%acn
    quote_plus(SECRET),                   # Fe3d+tok%E2%82%ACn
    SECRET.upper(), SECRET.lower(),
    json.dumps(SECRET)[1:-1],             # Fe3d tok\u20acn
    json.dumps(SECRET.upper())[1:-1],
    quote(quote(SECRET)),                 # double-encoded: %25 then the rest
])
def test_a_secret_is_masked_in_each_of_its_encodings(form):
    text = f"GET https://feeds.example/{form}/rss failed: boom"
    out = secrets.redacted(text)
    assert "***" in out and "boom" in out
    assert "tok" not in out.lower() and "fe3d" not in out.lower(), out


def test_a_secret_in_a_host_name_is_masked_lower_cased_and_in_punycode():
    secrets.register("kéy-Tökén")
    host = "kéy-tökén".encode("idna").decode()
    for text in (f"https://{host}.example/feed", "https://s3crethost.example/", "https://kéy-tökén.example/"):
        out = secrets.redacted(text)
        assert "***" in out, out
        assert host not in out and "s3cret" not in out.lower()


def test_the_url_redactor_of_the_http_client_is_the_shared_one():
    url = f"https://user:pw@feeds.example/{quote(SECRET)}/rss?key=abc#frag"
    out = redacted_url(url)
    assert out == "https://feeds.example/***/rss?[redacted]"
    assert redacted_url is secrets.redacted_url


def test_printable_escapes_every_control_and_bidi_character_visibly():
    out = printable(HOSTILE)
    assert not any(c in out for c in UNSAFE)
    assert "\\x1b]8;;http://evil.example/" in out and "\\u202eexe.txt" in out
    assert printable("two\nlines\tand tab") == "two\nlines\tand tab"
    assert printable("two\nlines", multiline=False) == "two\\x0alines"
    assert printable_cell(["a\x1b", 3]) == ["a\\x1b", 3]


def test_json_printable_is_still_the_same_json_data():
    text = json.dumps({"title": HOSTILE}, ensure_ascii=False, indent=2)
    safe = json_printable(text)
    assert not any(c in safe for c in UNSAFE)
    assert json.loads(safe) == {"title": HOSTILE}


@pytest.fixture
def hostile_warehouse(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    migrate(con)
    now = datetime.now(UTC)
    con.execute(
        "INSERT INTO articles (article_id, url, canonical_url, feed_id, title, published_at, published_at_source, "
        "fetched_at, text, word_count, content_hash, story_id, article_key, story_key) VALUES ('a1', 'https://x.example/a', "
        "'https://x.example/a', 'f1', ?, ?, 'feed', ?, 'text', 1, 'h', 's1', md5_number_lower('a1'), md5_number_lower('s1'))",
        [HOSTILE, now, now])
    con.close()
    return path


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_sql_never_prints_a_raw_control_character(hostile_warehouse, fmt):
    res = cli("sql", "SELECT title FROM articles", "--db", str(hostile_warehouse), "--format", fmt)
    assert res.returncode == 0, res.stderr
    assert not any(c in res.stdout for c in UNSAFE), repr(res.stdout)
    if fmt == "json":
        assert json.loads(res.stdout) == [{"title": HOSTILE}]  # escaped, yet the same data
    else:
        # escaped (a table cuts a long cell at 80 characters with an ellipsis, so the later escapes may be cut)
        assert "\\x1b[2J" in res.stdout and ("\\u202e" in res.stdout or "…" in res.stdout)


def test_sql_csv_to_a_file_keeps_the_stored_text_and_the_warehouse_is_unchanged(hostile_warehouse):
    res = cli("sql", "SELECT title FROM articles", "--db", str(hostile_warehouse), "--format", "csv")
    assert res.returncode == 0, res.stderr
    assert HOSTILE in res.stdout  # piped to a program: the data as stored
    con = duckdb.connect(str(hostile_warehouse), read_only=True)
    try:
        assert con.execute("SELECT title FROM articles").fetchone() == (HOSTILE,)
    finally:
        con.close()


def test_sql_csv_to_a_terminal_is_escaped(hostile_warehouse):
    pty = pytest.importorskip("pty")
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI with its stdout on a terminal
        os.chdir(REPO)
        os.execv(sys.executable, [sys.executable, "-m", "flows.cli", "sql", "SELECT title FROM articles",
                                  "--db", str(hostile_warehouse), "--format", "csv"])
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "\\x1b]8;;http://evil.example/" in text
    assert not any(c in text for c in UNSAFE), repr(text)


def test_error_messages_and_log_lines_are_escaped(hostile_warehouse):
    res = cli("sql", "SELECT * FROM \"no\x1b[2Jtable\u202e\"", "--db", str(hostile_warehouse))
    assert res.returncode == 3 and "bad_query" in res.stderr
    assert "no\\x1b[2Jtable\\u202e" in res.stderr  # quoted back, escaped
    assert "\x1b" not in res.stderr and "\u202e" not in res.stderr
    assert "Traceback" not in res.stderr

    import logging

    from flows.cli import _SafeFormatter
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "title %s via %s", (HOSTILE, quote(SECRET)), None)
    line = _SafeFormatter("%(message)s").format(record)
    assert not any(c in line for c in UNSAFE) and "tok" not in line and "***" in line


def test_run_summary_lines_are_escaped():
    from types import SimpleNamespace

    from flows.cli import summary_lines

    summary = SimpleNamespace(run_id="r", status="failed", seconds=1.0, feeds_polled=1, feeds_failed=1,
                              entries_seen=0, articles_new=0, duplicates=0, quarantined=0, deferred=0,
                              message=HOSTILE)
    assert not any(c in line for line in summary_lines(summary) for c in UNSAFE)
