"""PLACEHOLDER (being replaced by the alerts engineer): the alert outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def queued_alerts(con: Any, settings: Any, *, now: datetime) -> int:
    return 0
