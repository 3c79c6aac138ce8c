"""Notification channel URLs: whether one is usable, and how it may be stored and shown.

Why in the kernel: config validation checks every channel URL at start-up, and the warehouse records a channel by
its masked form (never a secret); sending, which both of those must not depend on, is ``pipeline/channels.py``.
"""

from __future__ import annotations

import logging
import socket
from typing import Any
from urllib.parse import urlsplit

from newswatch import secrets


def apprise_plugin(url: str) -> Any:
    """apprise's plugin object for ``url`` (None when apprise does not know the URL); apprise has no type hints."""
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
    if apprise_plugin(url) is None:
        return (
            f"unknown or malformed notification URL with scheme {scheme!r} "
            "(hint: see https://github.com/caronc/apprise/wiki for supported services)"
        )
    return None


def masked_channel(url: str) -> str:
    """The channel as it may be stored and logged: scheme and host, secrets masked."""
    plugin = apprise_plugin(url)
    if plugin is None:
        return secrets.redacted(urlsplit(url).scheme + "://***")
    return secrets.redacted(plugin.url(privacy=True).split("?", 1)[0])


def numeric_host(host: str) -> str:
    """``host`` as a dotted IPv4 address when it is one of the numeric forms the C resolver accepts.

    ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and ``127.1`` all connect to 127.0.0.1; turning them into
    the dotted form first means the address check judges the address, whatever resolver is in use.
    """
    if not host or any(c not in "0123456789abcdefABCDEFxX." for c in host):
        return host
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return host
