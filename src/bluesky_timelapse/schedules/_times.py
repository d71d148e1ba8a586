"""Datetimes, wall-clock times and zones as schedules read and store them.

Every stored datetime is timezone-aware UTC; naive values are the machine's local
time (``tzlocal``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import tzlocal

_DATETIME_SYNTAX = (
    "a datetime or an ISO 8601 string such as '2026-03-29T06:00' (naive = local time) "
    "or '2026-03-29T06:00+02:00'"
)


def _to_utc(value: Any, name: str) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are local time."""
    when: datetime | None = None
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            when = None
    if when is None:
        raise ValueError(f"{name} {value!r} is not a date and time; allowed: {_DATETIME_SYNTAX}")
    if when.tzinfo is None or when.utcoffset() is None:
        when = when.replace(tzinfo=tzlocal.get_localzone())
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{name} {value!r} is out of range: in UTC it falls before the year 1 or after "
            f"the year 9999; allowed: {_DATETIME_SYNTAX}, between those years in UTC"
        ) from None


def _local_date(when: datetime, zone: ZoneInfo) -> date:
    """Return ``when``'s date in ``zone``; past an end of the datetime range, that end."""
    try:
        return when.astimezone(zone).date()
    except OverflowError:
        return date.min if when.year == 1 else date.max


def _check_until(start: datetime, until: datetime | None) -> None:
    if until is not None and until < start:
        raise ValueError(
            f"until {_isoformat(until)} is before start {_isoformat(start)}; allowed: an "
            "until at or after start"
        )


def _isoformat(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
