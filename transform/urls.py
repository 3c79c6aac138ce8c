"""URL identity: the normalised form that decides whether two links are the same article.

Why: feeds decorate links with tracking parameters (utm_*, fbclid, ...), fragments and case
differences; two links that differ only by those are one article. ``canonical_url`` is an identifier,
never fetched.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that identify a campaign or a click, never the content. Prefix match for utm_*.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid",
        "_ga", "_gl", "ocid", "cmpid", "cmp", "smid", "smtyp", "ns_mchannel", "ns_source",
        "ns_campaign", "ns_linkname", "ns_fee", "ito", "xtor", "at_medium", "at_campaign",
        "rss", "ref", "referrer", "src", "source", "feature", "partner", "share", "sh", "mbid",
        "s_cid", "wt.mc_id", "cid", "spm", "taid", "ftag", "guccounter", "ncid", "soc_src", "soc_trk",
    }
)
_TRACKING_PREFIXES = ("utm_", "at_", "ns_", "pk_", "mtm_", "hsa_", "oly_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalized_url(url: str) -> str:
    """Return the identity form of ``url``.

    Lower-cases scheme and host, drops default ports, fragments, tracking parameters and a trailing
    ``index.html``, sorts the remaining query parameters, and removes a trailing slash (except the root).

    Args:
        url: an absolute http(s) URL.
    Returns:
        The normalised URL; unparsable input is returned stripped.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    # Until nothing changes, so that normalising twice gives the same URL ("/index.html/" loses its slash,
    # then its index.html; "/index.html/index.html" needs two rounds).
    while True:
        shorter = re.sub(r"/index\.(html?|php)$", "/", path)
        if len(shorter) > 1 and shorter.endswith("/"):
            shorter = shorter[:-1]
        if shorter == path:
            break
        path = shorter
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)
    ]
    # Stripped again: dropping the fragment can leave whitespace at the end ("0\x85#"), which a second
    # normalisation would strip, and an identity must be a fixed point.
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), "")).strip()


def stable_id(*parts: str) -> str:
    """A deterministic 16-hex key from its parts (sha1), used for every warehouse id."""
    h = hashlib.sha1("\x1f".join(parts).encode("utf-8"))
    return h.hexdigest()[:16]


def article_id_for(canonical_url: str) -> str:
    """The ``article_id`` of the article at ``canonical_url``."""
    return stable_id("article", canonical_url)
