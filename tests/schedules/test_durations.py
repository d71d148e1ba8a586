"""Durations as schedules take them (schedules/_durations.py)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from bluesky_timelapse.schedules import (
    DURATION_SYNTAX,
    parse_duration,
)
from schedule_checks import (
    fails_with,
)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("90s", 90),
        ("10m", 600),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("  1h30m\t", 5400),
        ("1 h 30 m", 5400),
        ("2d-3h", 45 * 3600),
        ("2d - 3h", 45 * 3600),
        ("1h-30m+15s", 1815),
        ("+1h", 3600),
        ("1.5h", 5400),
        (".5s", 0.5),
        ("500ms", 0.5),
        ("1m500ms", 60.5),
        ("1w", 604800),
        ("1w2d", 9 * 86400),
        ("45", 45),
        (" 1.5 ", 1.5),
        ("0s", 0),
        ("1h-2h", -3600),  # the sign of the total is the caller's to check
        (45, 45),
        (1.5, 1.5),
        (-5, -5),
        (timedelta(minutes=2, milliseconds=5), 120.005),
    ],
)
def test_parse_duration_accepts(value, seconds):
    assert parse_duration(value) == pytest.approx(seconds, abs=1e-12)
    assert isinstance(parse_duration(value), float)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "abc",
        "10x",
        "10 minutes",
        "1H",
        "-5m",
        "-5",
        "- 5m",
        "1h30",
        "1h--30m",
        "1h m",
        "1e3s",
        "5s.",
        "nan",
        "inf",
        None,
        True,
        [1],
        "1:30",
    ],
)
def test_parse_duration_rejects_and_names_the_syntax(value):
    with fails_with(f"duration {value!r} is not understood; allowed: {DURATION_SYNTAX}"):
        parse_duration(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "9" * 400 + "s", "9" * 400])
def test_parse_duration_rejects_infinite_values(value):
    with fails_with(f"duration {value!r} is not finite; allowed: {DURATION_SYNTAX}"):
        parse_duration(value)


def test_the_duration_syntax_is_spelled_out():
    with pytest.raises(ValueError) as info:
        parse_duration("10x")
    assert str(info.value) == (
        "duration '10x' is not understood; allowed: a number of seconds (45, 1.5), a "
        "timedelta, or a string of number+unit terms such as '90s', '10m', '1h30m', '1h 30m', "
        "'1.5h', '500ms', '1w', '2d-3h' (units w, d, h, m, s, ms; the first term may not be "
        "negative, later ones may be subtracted with '-')"
    )
