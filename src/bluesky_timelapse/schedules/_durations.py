"""Durations: seconds, timedeltas or strings such as ``"1h30m"``, as schedules take them."""

from __future__ import annotations

import math
import numbers
import re
from datetime import timedelta
from typing import Any

__all__ = ["DURATION_SYNTAX", "parse_duration"]

DURATION_SYNTAX = (
    "a number of seconds (45, 1.5), a timedelta, or a string of number+unit terms "
    "such as '90s', '10m', '1h30m', '1h 30m', '1.5h', '500ms', '1w', '2d-3h' "
    "(units w, d, h, m, s, ms; the first term may not be negative, later ones may be "
    "subtracted with '-')"
)
"""What :func:`parse_duration` accepts, as its error messages say it."""

_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_TERM = re.compile(rf"\s*(?P<sign>[+-]?)\s*(?P<number>{_NUMBER})\s*(?P<unit>ms|w|d|h|m|s)\s*")
_MICROSECOND = 1e-6


def parse_duration(value: str | float | int | timedelta) -> float:
    """Return the number of seconds in a duration.

    Parameters
    ----------
    value
        Seconds as a number, a :class:`~datetime.timedelta`, or a string: a bare
        number of seconds (``"45"``), or terms of a number and a unit (``w``, ``d``,
        ``h``, ``m``, ``s``, ``ms``) such as ``"90s"``, ``"1h30m"``, ``"1h 30m"``,
        ``"1.5h"`` or ``"2d-3h"`` (45 hours). The first term may not be negative;
        later terms are added, or subtracted when written with ``-``.

    Returns
    -------
    float
        The duration in seconds. Its sign is not checked: that is the caller's.

    Raises
    ------
    ValueError
        For anything else, or a duration that is not finite; the message names the
        value and the accepted syntax.
    """
    return _duration(value, "duration")


def _duration(value: Any, name: str) -> float:
    seconds: float | None = None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int or a Fraction too large for a float
            seconds = math.inf
    elif isinstance(value, str):
        seconds = _parse_duration_string(value)
    if seconds is None:
        raise ValueError(f"{name} {value!r} is not understood; allowed: {DURATION_SYNTAX}")
    if not math.isfinite(seconds):
        raise ValueError(f"{name} {value!r} is not finite; allowed: {DURATION_SYNTAX}")
    return seconds


def _parse_duration_string(text: str) -> float | None:
    stripped = text.strip()
    if re.fullmatch(_NUMBER, stripped):
        return float(stripped)
    total, position = 0.0, 0
    while position < len(text) or position == 0:
        term = _TERM.match(text, position)
        if term is None or (position == 0 and term["sign"] == "-"):
            return None
        seconds = float(term["number"]) * _UNIT_SECONDS[term["unit"]]
        total += -seconds if term["sign"] == "-" else seconds
        position = term.end()
    return total


def _parse_interval(value: Any) -> float:
    """Return an interval in seconds: a duration of at least a microsecond."""
    seconds = _duration(value, "interval")
    if seconds <= 0:
        raise ValueError(
            f"interval {value!r} is not positive; allowed: a duration of at least 1 "
            "microsecond, e.g. 10, '10m' or '1h30m'"
        )
    if seconds < _MICROSECOND:
        raise ValueError(
            f"interval {value!r} is shorter than 1 microsecond; allowed: a duration of at "
            "least 1 microsecond, e.g. 10, '10m' or '1h30m'"
        )
    return seconds
