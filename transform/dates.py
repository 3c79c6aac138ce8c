"""Publication dates from the strings pages carry (meta tags, JSON-LD) and from article URLs.

Why our own small parser rather than htmldate: extraction reads the handful of meta tags that carry a
publication timestamp anyway (``article:published_time``, JSON-LD ``datePublished`` ...) and those are
ISO 8601 or RFC 2822 in practice, which the standard library parses in microseconds, keeping the time
of day and the offset that htmldate's day-only answer drops. htmldate's extensive search is what makes
``with_metadata=True`` cost more than text extraction (docs/stack-notes.md#trafilatura). Everything returned is an
aware UTC ``datetime``; a value without an offset is taken as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from newswatch.models import plausible_datetime

_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
            ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
            ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}

# /2019/11/19/, /2019-11-19/, /2019_11_19, /2019/nov/19/ and /20191119/ as a whole path segment.
# A bare year-month (/2019/11/) is not enough: a "url" date must name the day.
_URL_DATE_PATTERNS = (
    re.compile(r"/((?:19|20)\d{2})[/_-](0?[1-9]|1[0-2])[/_-](0?[1-9]|[12]\d|3[01])(?:[/_.-]|$)"),
    re.compile(r"/((?:19|20)\d{2})/([a-z]{3,9})/(0?[1-9]|[12]\d|3[01])(?:[/_.-]|$)", re.IGNORECASE),
    re.compile(r"/((?:19|20)\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?:/|$)"),
)

# "2019-11-19 08:57:40", "2019-11-19T08:57:40.123+0100", "2019-11-19T08:57:40 +01:00", "2019-11-19Z"
_ISO_LIKE = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2}|UTC|GMT)?$",
    re.IGNORECASE,
)
# Some CMSs put epoch seconds or milliseconds in meta tags.
_EPOCH = re.compile(r"^\d{10}(?:\d{3})?$")


def parsed_datetime(value: str) -> datetime | None:
    """Parse a timestamp as pages write it into an aware UTC datetime.

    Accepts ISO 8601 (with or without time, ``Z`` or an offset, a space instead of ``T``),
    RFC 2822 (``Tue, 19 Nov 2019 08:57:40 +0100``) and epoch seconds or milliseconds.

    Args:
        value: the raw string from a meta tag, JSON-LD or a ``<time datetime>`` attribute.
    Returns:
        The instant in UTC, or None when the string is not a date this parser knows or is implausible.
    """
    value = value.strip()
    if not value:
        return None
    return plausible_datetime(_iso_datetime(value) or _rfc2822_datetime(value) or _epoch_datetime(value))


def published_at_from_url(url: str) -> datetime | None:
    """The publication day a URL path spells out (``/2019/11/19/slug``), as midnight UTC.

    Args:
        url: an absolute article URL.
    Returns:
        Midnight UTC of that day, or None when the path holds no full, valid date.
    """
    path = url.split("?", 1)[0].split("#", 1)[0]
    for pattern in _URL_DATE_PATTERNS:
        for match in pattern.finditer(path):
            year, month_text, day = match.groups()
            month = int(month_text) if month_text.isdigit() else _MONTHS.get(month_text.lower())
            if month is None:
                continue
            found = _valid_datetime(int(year), month, int(day))
            if found is not None:
                return found
    return None


def _iso_datetime(value: str) -> datetime | None:
    match = _ISO_LIKE.match(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    found = _valid_datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    if found is None:
        return None
    if zone and zone.upper() not in ("Z", "UTC", "GMT"):
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 14 or minutes > 59:
            return None
        offset = (hours * 60 + minutes) * (1 if zone[0] == "+" else -1)
        try:
            found = found - timedelta(minutes=offset)
        except OverflowError:  # 9999-12-31T23:59-12:00 and 0001-01-01T00:00+01:00 have no UTC instant
            return None
    return found


def _rfc2822_datetime(value: str) -> datetime | None:
    if not re.search(r"[A-Za-z]{3}", value) or re.search(r"(?<![+-])\b0\d{3}\b", value):
        return None  # "0001": the stdlib reads a year below 100 as 19xx/20xx, which would invent a date
    try:
        found = parsedate_to_datetime(value)
        return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):  # junk, or a year-9999 date west of UTC
        return None


def _epoch_datetime(value: str) -> datetime | None:
    if not _EPOCH.match(value):
        return None
    seconds = int(value) / (1000 if len(value) == 13 else 1)
    return datetime.fromtimestamp(seconds, tz=UTC)


def _valid_datetime(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError:  # 31 February, hour 25 ...
        return None

