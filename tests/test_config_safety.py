"""A hostile or mistaken config file is exit 2 with a message, never a traceback, a hang or a memory blow-up.

Each case goes through the real CLI (``python -m flows.cli check-config`` and ``run``) in a subprocess
with a memory limit, so a regression shows as a failure rather than as a machine that swaps.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# 470 bytes of nested aliases: each level is nine copies of the one above, 9**9 strings once walked.
BILLION_LAUGHS = "\n".join(
    ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
) + "\n"


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env=env, preexec_fn=_limited)


def cases(tmp: Path) -> dict[str, tuple[str, str]]:
    """name -> (config path, what the message must say)."""
    (tmp / "laughs.yaml").write_text(BILLION_LAUGHS)
    (tmp / "dup.yaml").write_text("fetch:\n  allow_private_networks: false\n  allow_private_networks: true\n")
    (tmp / "latin1.yaml").write_bytes("feeds:\n  - name: caf\xe9\n    url: https://x.example/\n".encode("latin-1"))
    (tmp / "big.yaml").write_text("# padding\n" * 120_000)
    (tmp / "adir").mkdir()
    os.mkfifo(tmp / "fifo")
    return {
        "aliases": (str(tmp / "laughs.yaml"), "aliases (*a0) are not allowed"),
        "duplicate": (str(tmp / "dup.yaml"), "duplicate key 'allow_private_networks' (first on line 2, again on line 3"),
        "not utf-8": (str(tmp / "latin1.yaml"), ":2: not UTF-8 text"),
        "too large": (str(tmp / "big.yaml"), "larger than 1000000 bytes"),
        "directory": (str(tmp / "adir"), "is a directory"),
        "device": ("/dev/zero", "not a regular file"),
        "fifo": (str(tmp / "fifo"), "not a regular file"),
        "missing": (str(tmp / "nope.yaml"), "no such config file"),
    }


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_every_unsafe_config_is_exit_2_with_a_message(tmp_path, command):
    for name, (path, expected) in cases(tmp_path).items():
        res = cli(command, "--config", path, cwd=tmp_path)
        assert res.returncode == 2, (name, res.returncode, res.stderr[-2000:])
        assert "Traceback" not in res.stderr, (name, res.stderr)
        assert expected in res.stderr, (name, res.stderr)
        assert not (tmp_path / "data").exists(), name  # nothing ran


def test_a_duplicate_key_is_not_silently_resolved_in_process(tmp_path):
    from newswatch.errors import ConfigError
    from pipeline.settings import load_settings

    (tmp_path / "c.yaml").write_text("feeds:\n  - name: a\n    url: https://a.example/\n    name: b\n")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path / "c.yaml")
    assert "duplicate key 'name' (first on line 2, again on line 4" in err.value.problems[0]


def test_anchors_without_aliases_and_ordinary_configs_still_load(tmp_path):
    from pipeline.settings import load_settings

    (tmp_path / "c.yaml").write_text("fetch: &f\n  timeout_seconds: 5\nfeeds:\n  - name: a\n    url: https://a.example/\n")
    s = load_settings(tmp_path / "c.yaml")
    assert s.fetch.timeout_seconds == 5 and len(s.feeds) == 1
