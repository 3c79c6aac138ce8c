"""Notification channels: apprise URLs validated at start-up and shown only in masked form.

Why: a channel URL is a credential (Slack tokens, SMTP passwords). Config validation must reject an
unknown scheme with a hint, and anything stored or logged uses apprise's privacy rendering.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from newswatch import secrets

log = logging.getLogger(__name__)


def _instantiate(url: str):  # type: ignore[no-untyped-def]  # apprise has no type hints
    import apprise

    # apprise logs "Unsupported URL" at error level for bad schemes; the caller reports it instead.
    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    return apprise.Apprise.instantiate(url, suppress_exceptions=True)


def channel_problem(url: str) -> str | None:
    """Why ``url`` is not a usable apprise URL, or None when it is fine."""
    if not url.strip():
        return "empty channel URL (hint: is the ${VAR} it comes from set?)"
    scheme = urlsplit(url).scheme
    if not scheme:
        return f"{secrets.redacted(url)!r} has no scheme (hint: e.g. slack://..., mailto://..., json://host/path)"
    if _instantiate(url) is None:
        return (
            f"unknown or malformed notification URL with scheme {scheme!r} "
            "(hint: see https://github.com/caronc/apprise/wiki for supported services)"
        )
    return None


def masked_channel(url: str) -> str:
    """The channel as it may be stored and logged: scheme and host, secrets masked."""
    plugin = _instantiate(url)
    if plugin is None:
        return secrets.redacted(urlsplit(url).scheme + "://***")
    return secrets.redacted(plugin.url(privacy=True).split("?", 1)[0])
