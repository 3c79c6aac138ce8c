"""Config: one model, every error at once with its path and a hint, secrets from the environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newswatch import secrets
from newswatch.errors import ConfigError
from pipeline.settings import load_settings, settings_from_dict

REPO = Path(__file__).resolve().parents[1]


def _problems(doc) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        settings_from_dict(doc)
    return exc.value.problems


def test_shipped_config_is_valid_with_its_env_vars(monkeypatch):
    monkeypatch.setenv("NEWSWATCH_WEBHOOK", "json://127.0.0.1:9/hook")
    monkeypatch.setenv("NEWSWATCH_OPS_URL", "json://127.0.0.1:9/ops")
    s = load_settings(REPO / "config.yaml")
    assert len(s.feeds) >= 12 and len(s.topics) == 2
    assert s.alerts[0].notify == ["json://127.0.0.1:9/hook"]


def test_every_error_is_reported_at_once_with_its_path(monkeypatch):
    monkeypatch.delenv("NW_MISSING_VAR", raising=False)
    problems = _problems({
        "warehouse": {"path": "x.duckdb", "colour": "blue"},
        "fetch": {"timeout_seconds": "soon"},
        "feeds": [{"name": "ok", "url": "https://example.org/rss"}, {"name": "bad", "url": "ftp://example.org/rss"}],
        "topics": [{"name": "t", "query": '"North Korea" AND (talks'}],
        "alerts": [{"topic": "t", "notify": ["${NW_MISSING_VAR}"]}, {"topic": "t", "notify": ["nosuchscheme://x"]}],
    })
    text = "\n".join(problems)
    assert "warehouse.colour: unknown key" in text
    assert "fetch.timeout_seconds:" in text
    assert "feeds[1].url: " in text and "hint" in text
    assert "topics[0].query:" in text and "position" in text
    assert "alerts[0].notify[0]: environment variable NW_MISSING_VAR is not set" in text
    assert "alerts[1].notify:" in text and "nosuchscheme" in text


def test_unknown_topic_in_alert_rule_is_an_error():
    problems = _problems({"topics": [{"name": "a", "query": "x"}], "alerts": [{"topic": "b", "notify": ["json://127.0.0.1/x"]}]})
    assert any("alerts[0].topic: unknown topic 'b'" in p for p in problems)


def test_bad_yaml_points_at_the_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("feeds:\n  - name: a\n    url: [unclosed\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(p)
    assert f"{p}:" in exc.value.problems[0] and "not valid YAML" in exc.value.problems[0]


def test_env_secrets_are_registered_and_redacted(monkeypatch):
    monkeypatch.setenv("NW_TOKEN_URL", "json://127.0.0.1/hook/s3cr3t-t0ken")
    settings_from_dict({"topics": [{"name": "a", "query": "x"}], "alerts": [{"topic": "a", "notify": ["${NW_TOKEN_URL}"]}]})
    assert "s3cr3t" not in secrets.redacted("failed to post to json://127.0.0.1/hook/s3cr3t-t0ken")


def test_check_config_command_exits_nonzero_before_running(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("feeds:\n  - name: a\n    url: notaurl\nbogus: 1\n")
    r = subprocess.run([sys.executable, "-m", "flows.cli", "check-config", "--config", str(p)],
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2
    assert "feeds[0].url:" in r.stderr and "bogus: unknown key" in r.stderr
