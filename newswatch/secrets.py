"""Secret values seen while expanding ``${VAR}`` in the config, and redaction of them.

Why: apprise URLs carry tokens (``slack://T000/B000/XXXX``), feed URLs can carry API keys. Every
string that leaves the process (logs, warehouse rows, error messages) goes through ``redacted()``.
"""

from __future__ import annotations

import logging
import re
import threading

_lock = threading.Lock()
_values: set[str] = set()
# Tokens shorter than this are not treated as secrets: masking "1" or "on" everywhere would garble logs.
_MIN_SECRET_LEN = 4
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def register(value: str) -> None:
    """Remember a value read from the environment so it can be masked later."""
    if len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _values.add(value)


def redacted(text: str) -> str:
    """``text`` with registered secrets replaced by ``***`` and URL userinfo removed."""
    with _lock:
        values = sorted(_values, key=len, reverse=True)
    for v in values:
        text = text.replace(v, "***")
    return _URL_USERINFO.sub(r"\g<scheme>***@", text)


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in every record (installed on the root handlers by the CLI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redacted(msg)
        if clean != msg:
            record.msg, record.args = clean, None
        return True
