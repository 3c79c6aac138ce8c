"""The small error taxonomy every stage speaks.

Why: per-item loops must catch only what they mean to. A bad page is an ``ItemError`` (quarantine it
and continue), a network hiccup or a 429/5xx is a ``RetriableError`` (try again later, honouring
``retry_after``), and a broken config, schema or database is a ``FatalError`` (fail the run). Anything
else (``KeyError``, ``TypeError`` ...) is a bug and must surface rather than be swallowed.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error newswatch raises on purpose.

    Args:
        reason: a short machine-readable code stored in ``quarantine.reason`` (``timeout``,
            ``too_large``, ``no_text``, ``http_404`` ...).
        message: a human-readable explanation; must never contain secrets.
    """

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.message = message or reason


class ItemError(PipelineError):
    """One feed or page is bad: record it in ``quarantine`` and go on with the rest."""


class RetriableError(PipelineError):
    """A transient failure (network, 429, 5xx): retry later, after ``retry_after`` seconds if given."""

    def __init__(self, reason: str, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(reason, message)
        self.retry_after = retry_after


class FatalError(PipelineError):
    """The run cannot go on (bad config, broken database): fail the cycle loudly."""


class ConfigError(FatalError):
    """The configuration is invalid. ``problems`` holds one ``path: message`` line per error."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("bad_config", "\n".join(problems))
        self.problems = problems


# Quarantine reasons of the per-item boundary (``pipeline/bulkhead.py``): a bug or an unexpected exception
# while handling the item, and an item over its time budget. Stable strings: operators filter on them.
INTERNAL_ERROR = "internal_error"
TOO_SLOW = "too_slow"
