"""Validators every layer shares, with one wording for what is allowed."""

from __future__ import annotations

import math
import re
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzlocal

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def check_seconds(name: str | None, value: Any, *, zero_allowed: bool = False) -> float:
    """``value`` as float seconds, if it is a finite number > 0 (>= 0 if ``zero_allowed``).

    Parameters
    ----------
    name
        What the value is, to name it in the message; None to start the message
        with the value (for a caller that names the field itself, e.g. pydantic).
    value
        The value to check; ``bool`` is refused although it is an ``int``.
    zero_allowed
        Whether 0 is allowed.

    Raises
    ------
    ValueError
        Naming ``name``, the bad value and what is allowed.
    """
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and (value >= 0 if zero_allowed else value > 0)):
        shown = repr(value) if name is None else f"{name} {value!r}"
        bound = ">= 0" if zero_allowed else "> 0"
        raise ValueError(f"{shown} is invalid; allowed: a finite number of seconds {bound}")
    return float(value)


def check_time_of_day(name: str, value: Any) -> time:
    """A wall-clock time from ``"HH:MM"``, ``"HH:MM:SS"`` or a ``datetime.time`` without zone.

    Raises
    ------
    ValueError
        Naming ``name``, the bad value and what is allowed.
    """
    clock: time | None = None
    if isinstance(value, time):
        clock = value
    elif isinstance(value, str):
        match = _CLOCK.match(value.strip())
        if match:
            hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
            if hour < 24 and minute < 60 and second < 60:
                clock = time(hour, minute, second)
        else:
            try:  # ISO forms with fractions of a second too
                clock = time.fromisoformat(value.strip())
            except ValueError:
                clock = None
    if clock is None or clock.tzinfo is not None:
        raise ValueError(
            f"{name} {value!r} is not a wall-clock time; allowed: 'HH:MM' or 'HH:MM:SS' "
            "(e.g. '06:00') or a datetime.time without tzinfo (the zone is timezone's)"
        )
    return clock


def check_time_zone(value: Any) -> str:
    """The IANA name of a time zone; ``"local"`` is this machine's zone (UTC if unknown).

    Raises
    ------
    ValueError
        If ``value`` names no known zone.
    """
    if value == "local":
        return _local_zone_name()
    try:
        ZoneInfo(value)
    except (TypeError, ValueError, OSError, ZoneInfoNotFoundError):
        raise ValueError(
            f"timezone {value!r} is not a known IANA time zone; allowed: 'local' or a "
            "name such as 'Europe/Berlin', 'America/New_York' or 'UTC'"
        ) from None
    return str(value)


def _local_zone_name() -> str:
    try:
        name = tzlocal.get_localzone_name()
        if name:
            ZoneInfo(name)
            return name
    except (ValueError, OSError, LookupError):
        pass
    return "UTC"
