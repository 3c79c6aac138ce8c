"""Who may read the workbench: HTTP Basic with the configured password, or a bearer token.

Why both: people use a browser (Basic prompts once and is remembered), scripts send
``Authorization: Bearer <token>``. Without any credential configured the server only binds a loopback
address (enforced by the CLI), and then it answers only requests whose ``Host`` is a loopback name, so
a web page the analyst visits cannot read the API through DNS rebinding.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Credentials:
    """The accepted secrets; empty means no authentication (loopback only)."""

    password: str | None = None
    tokens: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        """Whether requests must authenticate."""
        return bool(self.password) or any(self.tokens)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def is_authorized(header: str | None, creds: Credentials) -> bool:
    """Whether an ``Authorization`` header value carries one of ``creds`` (always true when none is required)."""
    if not creds.required:
        return True
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return any(t and _same(value, t) for t in creds.tokens)
    if scheme.lower() == "basic" and creds.password:
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, sep, password = decoded.partition(":")
        return bool(sep) and _same(password, creds.password)
    return False


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (an address or name, no port) names this machine's loopback interface."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of(header: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8765`` -> ``::1``, ``127.0.0.1:80`` -> ``127.0.0.1``)."""
    h = header.strip()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h
