"""Local wall-clock time for an alert area: time zone lookup (offline) and short formats."""

from __future__ import annotations

import threading
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from timezonefinder import TimezoneFinder

_LOCK = threading.Lock()

_DAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
}
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
}


@cache
def _finder() -> TimezoneFinder:
    return TimezoneFinder()


@cache
def zone_for(lon: float, lat: float) -> ZoneInfo:
    """The IANA time zone at a lon/lat point (UTC at sea or when unknown)."""
    with _LOCK:
        name = _finder().timezone_at(lng=lon, lat=lat)
    return ZoneInfo(name or "UTC")


def base_language(language: str) -> str:
    """The primary subtag of an RFC 5646 tag, lower-cased ("es-US" -> "es")."""
    return (language or "en").split("-")[0].lower()


def format_local(moment: datetime, tz: ZoneInfo, language: str = "en") -> str:
    """A short local time with its zone abbreviation, e.g. "Sat Nov 28 3:00 PM EST"."""
    local = moment.astimezone(tz)
    lang = base_language(language)
    abbr = local.tzname() or ""
    if lang == "es":
        day, month = _DAYS["es"][local.weekday()], _MONTHS["es"][local.month - 1]
        return f"{day} {local.day} {month} {local:%H:%M} {abbr}"
    day, month = _DAYS["en"][local.weekday()], _MONTHS["en"][local.month - 1]
    hour = local.hour % 12 or 12
    return f"{day} {month} {local.day} {hour}:{local:%M} {local:%p} {abbr}"


def format_until(
    moment: datetime, tz: ZoneInfo, language: str = "en", reference: datetime | None = None
) -> str:
    """A compact local time for short texts; the weekday only when not the reference's day."""
    local = moment.astimezone(tz)
    same_day = reference is not None and reference.astimezone(tz).date() == local.date()
    abbr = local.tzname() or ""
    if base_language(language) == "es":
        clock = f"{local:%H:%M} {abbr}"
        return clock if same_day else f"{_DAYS['es'][local.weekday()]} {local.day} {clock}"
    hour = local.hour % 12 or 12
    clock = f"{hour}:{local:%M} {local:%p} {abbr}"
    return clock if same_day else f"{_DAYS['en'][local.weekday()]} {clock}"
