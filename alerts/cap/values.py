"""Strict parsers for CAP value syntaxes (dateTime, references, coordinates)."""

from __future__ import annotations

import math
import re
from datetime import datetime

_CAP_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d\Z")


def parse_datetime(text: str | None) -> datetime | None:
    """Parse a CAP 1.2 dateTime (explicit offset, whole seconds); None when malformed."""
    if text is None:
        return None
    text = text.strip()
    if not _CAP_DATETIME.match(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def format_datetime(value: datetime) -> str:
    """Format an aware datetime the CAP 1.2 way (``2003-06-17T14:57:00-07:00``)."""
    return value.replace(microsecond=0).isoformat()


def parse_reference(token: str) -> tuple[str, str, datetime] | None:
    """Parse one ``sender,identifier,sent`` triplet; None when malformed."""
    parts = token.split(",")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    sent = parse_datetime(parts[2])
    return None if sent is None else (parts[0], parts[1], sent)


def parse_point(token: str) -> tuple[float, float] | None:
    """Parse ``lat,lon`` into finite floats (no range check); None when malformed."""
    lat_text, sep, lon_text = token.partition(",")
    if not sep:
        return None
    try:
        lat, lon = float(lat_text), float(lon_text)
    except ValueError:
        return None
    return (lat, lon) if math.isfinite(lat) and math.isfinite(lon) else None


def in_range(lat: float, lon: float) -> bool:
    """True when latitude is in [-90, 90] and longitude in [-180, 180]."""
    return -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0
