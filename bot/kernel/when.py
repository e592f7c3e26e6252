"""Days and timezones as the org file names them, for every feature's schedules and "per day" rules."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekday(value: str, field: str, example: str) -> str:
    """A config weekday as APScheduler's three-letter name."""
    day = value.strip().lower()[:3]
    if day not in DAYS:
        raise ValueError(f"{field} {value!r} must be a weekday such as {example}")
    return day


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
