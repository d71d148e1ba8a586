"""Timelapse schedules as validated, immutable data (plans/schedule.py)."""

from __future__ import annotations

import json
import math
import re
import time as clock
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
import tzlocal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluesky_timelapse.plans.schedule import (
    DURATION_SYNTAX,
    KINDS,
    At,
    Daily,
    Every,
    Schedule,
    Slot,
    Union,
    at,
    daily,
    every,
    parse_duration,
    schedule_from_spec,
    union,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
INTERVAL_ALLOWED = "allowed: a duration of at least 1 microsecond, e.g. 10, '10m' or '1h30m'"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fails_with(message: str):
    """Expect a ValueError whose message is exactly ``message``."""
    return pytest.raises(ValueError, match=f"^{re.escape(message)}$")


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[ZoneInfo]:
    """Make Europe/Berlin the machine's zone, whatever the machine's really is."""
    monkeypatch.setattr(tzlocal, "get_localzone", lambda: BERLIN)
    monkeypatch.setattr(tzlocal, "get_localzone_name", lambda: "Europe/Berlin")
    yield BERLIN


def local_times(schedule: Schedule, zone: ZoneInfo, n: int | None = None) -> list[str]:
    return [s.time.astimezone(zone).strftime("%m-%d %H:%M") for s in islice(schedule.slots(), n)]


# parse_duration ------------------------------------------------------------------------


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


# every ---------------------------------------------------------------------------------

START = utc(2026, 5, 1, 6, 0)


def test_every_bounded_by_count():
    schedule = every("10m", count=3, start=START)
    assert list(schedule.slots()) == [
        Slot(0, START),
        Slot(1, START + timedelta(minutes=10)),
        Slot(2, START + timedelta(minutes=20)),
    ]
    assert schedule.is_bounded
    assert schedule.count() == 3
    assert schedule.first() == Slot(0, START)
    assert schedule.last() == Slot(2, START + timedelta(minutes=20))
    assert schedule.max_count == 3


def test_every_until_is_inclusive_on_the_grid():
    schedule = every(600, until=START + timedelta(minutes=30), start=START)
    assert schedule.count() == 4
    assert schedule.last() == Slot(3, START + timedelta(minutes=30))


def test_every_until_between_grid_times():
    schedule = every("10m", until="2026-05-01T06:25:00+00:00", start=START)
    assert [s.time.minute for s in schedule.slots()] == [0, 10, 20]


def test_every_until_at_start_is_one_slot():
    assert every("1h", until=START, start=START).count() == 1


@pytest.mark.parametrize(("count", "expected"), [(2, 2), (10, 4)])
def test_every_with_count_and_until_ends_at_the_first_bound(count, expected):
    schedule = every("10m", count=count, until=START + timedelta(minutes=35), start=START)
    assert schedule.count() == expected
    assert len(list(schedule.slots())) == expected
    assert schedule.last().index == expected - 1


def test_every_unbounded_is_lazy():
    schedule = every("1s", start=START)
    assert not schedule.is_bounded
    assert schedule.count() is None
    assert schedule.last() is None
    slots = list(islice(schedule.slots(), 1000))
    assert slots[-1] == Slot(999, START + timedelta(seconds=999))
    began = clock.perf_counter()
    far = next(schedule.slots(start_index=10**9))
    assert clock.perf_counter() - began < 0.5
    assert far == Slot(10**9, START + timedelta(seconds=10**9))


def test_every_unbounded_ends_at_the_year_9999():
    schedule = every("10m", start=START)
    assert next(schedule.slots(start_index=10**9), None) is None  # 19,000 years on


def test_every_slots_from_jumps_to_the_next_slot():
    schedule = every("1h", start=utc(2026, 1, 1))
    assert next(schedule.slots_from(utc(2026, 1, 2, 0, 30))) == Slot(25, utc(2026, 1, 2, 1))
    assert next(schedule.slots_from(utc(2026, 1, 2, 1))) == Slot(25, utc(2026, 1, 2, 1))
    assert next(schedule.slots_from(utc(2025, 1, 1))) == Slot(0, utc(2026, 1, 1))
    bounded = every("1h", count=3, start=utc(2026, 1, 1))
    assert list(bounded.slots_from(utc(2026, 1, 1, 1, 59))) == [Slot(2, utc(2026, 1, 1, 2))]
    assert list(bounded.slots_from(utc(2026, 1, 1, 2, 1))) == []


def test_every_start_in_the_past_is_kept():
    start = datetime.now(UTC) - timedelta(days=3)
    schedule = every("1h", count=10, start=start)
    assert schedule.first() == Slot(0, start)
    assert schedule.last().time < datetime.now(UTC)  # past-only: the plan decides


def test_every_start_defaults_to_now_and_is_stored():
    before = datetime.now(UTC)
    schedule = every("10m")
    after = datetime.now(UTC)
    assert before <= schedule.start <= after
    assert schedule.start.tzinfo is UTC
    assert schedule_from_spec(schedule.to_json()) == schedule
    assert json.loads(schedule.to_json())["start"] == schedule.start.isoformat()


def test_every_round_trips_through_json():
    schedule = every(1 / 3, count=7, until=START + timedelta(hours=1), start=START)
    assert schedule_from_spec(schedule.to_json()) == schedule
    assert schedule_from_spec(schedule.to_dict()) == schedule
    assert schedule.to_dict() == {
        "kind": "every",
        "interval": 1 / 3,
        "start": "2026-05-01T06:00:00+00:00",
        "count": 7,
        "until": "2026-05-01T07:00:00+00:00",
    }


def test_every_fractional_interval_rounds_to_microseconds_without_drift():
    schedule = every(1 / 3, start=START)
    times = [s.time - START for s in islice(schedule.slots(), 4)]
    assert times == [timedelta(microseconds=us) for us in (0, 333333, 666667, 1000000)]
    assert next(schedule.slots(3 * 10**6)).time == START + timedelta(seconds=10**6)


def test_every_naive_times_are_local(local_zone):
    schedule = every("1h", start=datetime(2026, 7, 1, 12), until="2026-07-01T14:00")
    assert schedule.start == utc(2026, 7, 1, 10)
    assert schedule.until == utc(2026, 7, 1, 12)
    winter = every("1h", start="2026-01-01T12:00")
    assert winter.start == utc(2026, 1, 1, 11)


def test_every_stores_aware_times_in_utc():
    schedule = every("1h", start=datetime(2026, 7, 1, 12, tzinfo=NEW_YORK))
    assert schedule.start == utc(2026, 7, 1, 16)
    assert schedule.start.tzinfo is UTC


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval": 0}, f"interval 0 is not positive; {INTERVAL_ALLOWED}"),
        ({"interval": -1.5}, f"interval -1.5 is not positive; {INTERVAL_ALLOWED}"),
        ({"interval": "0s"}, f"interval '0s' is not positive; {INTERVAL_ALLOWED}"),
        ({"interval": "1h-2h"}, f"interval '1h-2h' is not positive; {INTERVAL_ALLOWED}"),
        ({"interval": 1e-9}, f"interval 1e-09 is shorter than 1 microsecond; {INTERVAL_ALLOWED}"),
        (
            {"interval": "10x"},
            f"interval '10x' is not understood; allowed: {DURATION_SYNTAX}",
        ),
        ({"interval": math.nan}, f"interval nan is not finite; allowed: {DURATION_SYNTAX}"),
        (
            {"interval": "1h", "count": 0},
            "count 0 is not an integer >= 1; allowed: a number of slots >= 1, or None for "
            "no limit",
        ),
        (
            {"interval": "1h", "count": 2.5},
            "count 2.5 is not an integer >= 1; allowed: a number of slots >= 1, or None for "
            "no limit",
        ),
        (
            {"interval": "1h", "count": True},
            "count True is not an integer >= 1; allowed: a number of slots >= 1, or None for "
            "no limit",
        ),
        (
            {"interval": "1h", "until": utc(2026, 5, 1, 5)},
            "until 2026-05-01T05:00:00+00:00 is before start 2026-05-01T06:00:00+00:00; "
            "allowed: an until at or after start",
        ),
        (
            {"interval": "1h", "until": "yesterday"},
            "until 'yesterday' is not a date and time; allowed: a datetime or an ISO 8601 "
            "string such as '2026-03-29T06:00' (naive = local time) or "
            "'2026-03-29T06:00+02:00'",
        ),
        (
            {"interval": "1d", "count": 10**7},
            "count 10000000 at interval 86400 s runs past the year 9999; allowed: a count "
            "whose last slot is a representable datetime",
        ),
    ],
)
def test_every_rejects(kwargs, message):
    with fails_with(message):
        every(**{"start": START, **kwargs})


@pytest.mark.parametrize("start_index", [-1, 1.5, "3"])
def test_slots_rejects_a_bad_start_index_at_once(start_index):
    for schedule in (every("1h"), at(START), daily("1h", timezone="UTC"), union(at(START))):
        with fails_with(f"start_index {start_index!r} is not an integer >= 0"):
            schedule.slots(start_index)


def test_schedules_are_frozen():
    schedule = every("1h", start=START)
    with pytest.raises(ValueError, match="frozen"):
        schedule.interval = 5  # type: ignore[misc]
    assert hash(schedule) == hash(every("1h", start=START))


# at ------------------------------------------------------------------------------------


def test_at_sorts_and_stores_utc():
    schedule = at("2026-05-01T08:00+02:00", utc(2026, 5, 1, 7), "2026-05-01T05:30Z")
    assert schedule.times == (utc(2026, 5, 1, 5, 30), utc(2026, 5, 1, 6), utc(2026, 5, 1, 7))
    assert all(t.tzinfo is UTC for t in schedule.times)
    assert [s.index for s in schedule.slots()] == [0, 1, 2]
    assert schedule.count() == 3
    assert schedule.last() == Slot(2, utc(2026, 5, 1, 7))
    assert schedule.is_bounded


def test_at_accepts_one_iterable():
    times = [utc(2026, 5, 1, h) for h in (9, 7, 8)]
    assert at(times) == at(*times) == at(t for t in times)
    assert at(times).times == tuple(sorted(times))


def test_at_naive_times_are_local(local_zone):
    schedule = at("2026-07-01T12:00", datetime(2026, 1, 1, 12), date(2026, 7, 2))
    assert schedule.times == (utc(2026, 1, 1, 11), utc(2026, 7, 1, 10), utc(2026, 7, 1, 22))


def test_at_naive_times_follow_the_tz_environment(monkeypatch):
    try:
        with monkeypatch.context() as patch:
            patch.setenv("TZ", "America/New_York")
            tzlocal.reload_localzone()
            assert at("2026-07-01T12:00").times == (utc(2026, 7, 1, 16),)
    finally:
        tzlocal.reload_localzone()


def test_at_rejects_duplicate_instants():
    with fails_with(
        "times contains 2026-05-01T06:00:00+00:00 twice (given as '2026-05-01T08:00+02:00' "
        "and datetime.datetime(2026, 5, 1, 6, 0, tzinfo=datetime.timezone.utc)); allowed: "
        "distinct instants"
    ):
        at("2026-05-01T08:00+02:00", utc(2026, 5, 1, 7), utc(2026, 5, 1, 6))


@pytest.mark.parametrize("times", [(), ([],), (iter(()),)])
def test_at_rejects_no_times(times):
    with fails_with("times is empty; allowed: one or more datetimes or ISO 8601 strings"):
        at(*times)


def test_at_rejects_what_is_not_a_time():
    with fails_with(
        "times 'noon' is not a date and time; allowed: a datetime or an ISO 8601 string such "
        "as '2026-03-29T06:00' (naive = local time) or '2026-03-29T06:00+02:00'"
    ):
        at(utc(2026, 1, 1), "noon")


def test_at_slots_from_and_start_index():
    schedule = at(utc(2026, 1, 1), utc(2026, 1, 2), utc(2026, 1, 3))
    assert list(schedule.slots_from(utc(2026, 1, 1, 12))) == [
        Slot(1, utc(2026, 1, 2)),
        Slot(2, utc(2026, 1, 3)),
    ]
    assert list(schedule.slots_from("2026-01-02T00:00Z")) == list(schedule.slots(1))
    assert list(schedule.slots(3)) == []
    assert list(schedule.slots_from(utc(2026, 1, 4))) == []


def test_at_past_only_is_accepted_and_last_tells():
    schedule = at("2001-01-01T00:00Z")
    assert schedule.last().time < datetime.now(UTC)


# daily ---------------------------------------------------------------------------------


def test_daily_grid_inside_the_window():
    schedule = daily(
        "2h", between=("06:00", "20:00"), timezone="UTC", start=utc(2026, 6, 1), count=16
    )
    assert local_times(schedule, ZoneInfo("UTC")) == [
        f"06-0{day} {hour:02d}:00" for day in (1, 2) for hour in range(6, 21, 2)
    ]


def test_daily_end_time_only_when_on_the_grid():
    schedule = daily("25m", ("06:00", "07:00"), timezone="UTC", start=utc(2026, 6, 1), count=4)
    assert local_times(schedule, ZoneInfo("UTC")) == [
        "06-01 06:00",
        "06-01 06:25",
        "06-01 06:50",
        "06-02 06:00",
    ]


def test_daily_interval_equal_to_the_window_gives_both_ends():
    schedule = daily("1h", ("06:00", "07:00"), timezone="UTC", start=utc(2026, 6, 1), count=3)
    assert local_times(schedule, ZoneInfo("UTC")) == ["06-01 06:00", "06-01 07:00", "06-02 06:00"]


def test_daily_start_mid_window_begins_at_the_next_grid_time():
    schedule = daily("30m", timezone="Europe/Berlin", start="2026-06-01T10:10+02:00", count=2)
    assert schedule.first() == Slot(0, utc(2026, 6, 1, 8, 30))
    late = daily("30m", timezone="Europe/Berlin", start="2026-06-01T20:01+02:00")
    assert late.first() == Slot(0, utc(2026, 6, 2, 4))


def test_daily_start_defaults_to_now():
    before = datetime.now(UTC)
    schedule = daily("1m", between=("00:00", "23:59"), timezone="UTC")
    assert before <= schedule.start <= datetime.now(UTC)
    first = schedule.first().time
    assert before - timedelta(seconds=1) < first <= before + timedelta(minutes=2)
    assert (first.second, first.microsecond) == (0, 0)
    assert schedule_from_spec(schedule.to_json()) == schedule


def test_daily_timezone_local_is_resolved_and_stored(local_zone):
    schedule = daily("1h")
    assert schedule.timezone == "Europe/Berlin"
    assert json.loads(schedule.to_json())["timezone"] == "Europe/Berlin"
    assert (schedule.start_time, schedule.end_time) == (time(6), time(20))


@pytest.mark.parametrize("name", [None, "", "Not/AZone"])
def test_daily_local_timezone_without_a_usable_name_is_utc(monkeypatch, name):
    monkeypatch.setattr(tzlocal, "get_localzone_name", lambda: name)
    assert daily("1h").timezone == "UTC"


def test_daily_local_timezone_when_tzlocal_fails_is_utc(monkeypatch):
    def broken() -> str:
        raise LookupError("no zone configured")

    monkeypatch.setattr(tzlocal, "get_localzone_name", broken)
    assert daily("1h").timezone == "UTC"


def test_berlin_spring_forward_keeps_the_wall_clock():
    schedule = daily("1h", timezone="Europe/Berlin", start="2026-03-28T00:00+01:00", count=45)
    slots = list(schedule.slots())
    for day in (28, 29, 30):
        hours = [
            s.time.astimezone(BERLIN).hour for s in slots if s.time.astimezone(BERLIN).day == day
        ]
        assert hours == list(range(6, 21))
    assert slots[15].time - slots[14].time == timedelta(hours=9)  # 20:00 CET to 06:00 CEST


def test_berlin_spring_forward_skips_the_missing_hour():
    schedule = daily(
        "30m", ("01:00", "04:00"), "Europe/Berlin", start="2026-03-28T00:00+01:00", count=19
    )
    assert local_times(schedule, BERLIN) == [
        *(f"03-28 {t}" for t in ("01:00", "01:30", "02:00", "02:30", "03:00", "03:30", "04:00")),
        *(f"03-29 {t}" for t in ("01:00", "01:30", "03:00", "03:30", "04:00")),
        *(f"03-30 {t}" for t in ("01:00", "01:30", "02:00", "02:30", "03:00", "03:30", "04:00")),
    ]
    march_29 = [s.time for s in schedule.slots(7)][:5]
    assert march_29 == [
        utc(2026, 3, 29, 0),
        utc(2026, 3, 29, 0, 30),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 2),
    ]


def test_berlin_fall_back_takes_the_first_occurrence_once():
    schedule = daily(
        "30m", ("01:00", "04:00"), "Europe/Berlin", start="2026-10-25T00:00+02:00", count=7
    )
    assert [s.time for s in schedule.slots()] == [
        utc(2026, 10, 24, 23),  # 01:00 CEST
        utc(2026, 10, 24, 23, 30),
        utc(2026, 10, 25, 0),  # 02:00 CEST, the first 02:00
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 2),  # 03:00 CET: the second 02:00..02:59 is not repeated
        utc(2026, 10, 25, 2, 30),
        utc(2026, 10, 25, 3),
    ]
    assert all(s.time.astimezone(BERLIN).fold == 0 for s in schedule.slots())


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 7), 25),
        (date(2026, 3, 8), 21),  # 02:00, 02:15, 02:30, 02:45 do not exist
        (date(2026, 3, 9), 25),
        (date(2026, 10, 31), 25),
        (date(2026, 11, 1), 25),  # 01:00..01:45 happen twice, slotted once
        (date(2026, 11, 2), 25),
    ],
)
def test_new_york_dst_days(day, expected):
    start = datetime.combine(day, time(), NEW_YORK)
    schedule = daily(
        "15m",
        ("00:00", "06:00"),
        "America/New_York",
        start=start,
        until=start + timedelta(hours=23),
    )
    slots = list(schedule.slots())
    walls = [s.time.astimezone(NEW_YORK) for s in slots]
    assert len(slots) == expected
    assert len({s.time for s in slots}) == expected
    assert all(
        w.date() == day and time(0) <= w.time() <= time(6) and w.minute % 15 == 0 for w in walls
    )
    assert all(a.time < b.time for a, b in pairwise(slots))


def test_santiago_changes_at_midnight():
    santiago = ZoneInfo("America/Santiago")
    spring = daily("30m", ("00:00", "02:00"), "America/Santiago", "2026-09-06T00:00-04:00")
    assert local_times(spring, santiago, 4) == [
        "09-06 01:00",
        "09-06 01:30",
        "09-06 02:00",
        "09-07 00:00",
    ]
    autumn = daily("30m", ("22:00", "23:30"), "America/Santiago", "2026-04-04T12:00-03:00")
    assert [s.time for s in islice(autumn.slots(), 5)] == [
        utc(2026, 4, 5, 1),
        utc(2026, 4, 5, 1, 30),
        utc(2026, 4, 5, 2),  # 23:00 -03, the first of two
        utc(2026, 4, 5, 2, 30),
        utc(2026, 4, 6, 2),  # 22:00 -04
    ]


def test_new_york_window_across_the_dst_hours_all_year():
    start = datetime(2026, 1, 1, tzinfo=NEW_YORK)
    schedule = daily(
        "1h",
        ("00:00", "05:00"),
        "America/New_York",
        start=start,
        until=datetime(2026, 12, 31, 23, 59, tzinfo=NEW_YORK),
    )
    slots = list(schedule.slots())
    assert len(slots) == 365 * 6 - 1  # 02:00 on 2026-03-08 does not exist
    assert len({s.time for s in slots}) == len(slots)
    per_day: dict[date, list[int]] = {}
    for s in slots:
        wall = s.time.astimezone(NEW_YORK)
        per_day.setdefault(wall.date(), []).append(wall.hour)
    assert per_day[date(2026, 3, 8)] == [0, 1, 3, 4, 5]
    assert per_day[date(2026, 11, 1)] == [0, 1, 2, 3, 4, 5]
    assert all(
        hours == [0, 1, 2, 3, 4, 5] for d, hours in per_day.items() if d != date(2026, 3, 8)
    )


def test_daily_leap_day():
    schedule = daily(
        "12h", ("08:00", "20:00"), "UTC", start="2028-02-28T00:00Z", until="2028-03-01T23:59Z"
    )
    assert [s.time.date() for s in schedule.slots()] == [
        date(2028, 2, 28),
        date(2028, 2, 28),
        date(2028, 2, 29),
        date(2028, 2, 29),
        date(2028, 3, 1),
        date(2028, 3, 1),
    ]


def test_daily_until_is_inclusive_and_bounds_count():
    schedule = daily("1h", timezone="UTC", start=utc(2026, 6, 1), until=utc(2026, 6, 2, 8))
    assert schedule.count() == 15 + 3
    assert schedule.last() == Slot(17, utc(2026, 6, 2, 8))
    both = daily("1h", timezone="UTC", start=utc(2026, 6, 1), until=utc(2026, 6, 3), count=20)
    assert both.count() == 20
    assert both.last() == Slot(19, utc(2026, 6, 2, 10))
    assert list(both.slots(20)) == []
    assert list(both.slots_from(utc(2026, 6, 2, 10, 1))) == []


def test_daily_unbounded():
    schedule = daily("1h", timezone="UTC", start=utc(2026, 6, 1))
    assert not schedule.is_bounded
    assert schedule.count() is None
    assert schedule.last() is None
    assert next(schedule.slots(15 * 3650)) == Slot(15 * 3650, utc(2036, 5, 29, 6))


def test_daily_jumps_match_iteration_across_dst_days():
    schedule = daily("20m", ("00:30", "04:10"), "Europe/Berlin", start="2026-03-20T02:00+01:00")
    slots = list(islice(schedule.slots(), 400))
    for i in (0, 1, 5, 11, 12, 100, 123, 399):
        assert next(schedule.slots(i)) == slots[i]
        assert next(schedule.slots_from(slots[i].time)) == slots[i]
        assert next(schedule.slots_from(slots[i].time - timedelta(microseconds=1))) == slots[i]
        if i < 399:
            assert next(schedule.slots_from(slots[i].time + timedelta(seconds=1))) == slots[i + 1]


def test_daily_naive_start_is_machine_local(local_zone):
    schedule = daily("1h", timezone="America/New_York", start="2026-06-01T12:00")
    assert schedule.start == utc(2026, 6, 1, 10)
    assert schedule.first() == Slot(0, utc(2026, 6, 1, 10))  # 06:00 in New York


def test_daily_accepts_time_objects_and_seconds():
    schedule = daily(
        timedelta(minutes=90), (time(6, 30), "08:00:00"), "UTC", start=utc(2026, 1, 1), count=2
    )
    assert [s.time for s in schedule.slots()] == [utc(2026, 1, 1, 6, 30), utc(2026, 1, 1, 8)]


def test_daily_round_trips_through_json():
    schedule = daily(
        "7m", ("05:03", "21:59:30"), "Australia/Lord_Howe", start=utc(2026, 10, 1), count=50
    )
    assert schedule_from_spec(schedule.to_json()) == schedule
    assert schedule.to_dict() == {
        "kind": "daily",
        "interval": 420.0,
        "start_time": "05:03:00",
        "end_time": "21:59:30",
        "timezone": "Australia/Lord_Howe",
        "start": "2026-10-01T00:00:00+00:00",
        "until": None,
        "count": 50,
    }


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (
            ("1h", ("20:00", "06:00")),
            {},
            "end_time 06:00:00 is not after start_time 20:00:00; allowed: a window within one "
            "day, start_time < end_time (windows across midnight are not supported)",
        ),
        (
            ("1h", ("06:00", "06:00")),
            {},
            "end_time 06:00:00 is not after start_time 06:00:00; allowed: a window within one "
            "day, start_time < end_time (windows across midnight are not supported)",
        ),
        (
            ("2h", ("06:00", "07:00")),
            {},
            "interval 7200 s is longer than the daily window 06:00:00-07:00:00 (3600 s); "
            "allowed: an interval no longer than the window",
        ),
        (("0m",), {}, f"interval '0m' is not positive; {INTERVAL_ALLOWED}"),
        (
            ("1h", ("6am", "20:00")),
            {},
            "start_time '6am' is not a wall-clock time; allowed: 'HH:MM' or 'HH:MM:SS' (e.g. "
            "'06:00') or a datetime.time without tzinfo (the zone is timezone's)",
        ),
        (
            ("1h", (time(6, tzinfo=UTC), "20:00")),
            {},
            "start_time datetime.time(6, 0, tzinfo=datetime.timezone.utc) is not a wall-clock "
            "time; allowed: 'HH:MM' or 'HH:MM:SS' (e.g. '06:00') or a datetime.time without "
            "tzinfo (the zone is timezone's)",
        ),
        (
            ("1h", "06:00"),
            {},
            "between '06:00' is not a pair of times; allowed: (start_time, end_time), e.g. "
            "('06:00', '20:00')",
        ),
        (
            ("1h", ("06:00", "12:00", "20:00")),
            {},
            "between ('06:00', '12:00', '20:00') is not a pair of times; allowed: (start_time, "
            "end_time), e.g. ('06:00', '20:00')",
        ),
        (
            ("1h",),
            {"timezone": "Mars/Olympus"},
            "timezone 'Mars/Olympus' is not a known IANA time zone; allowed: 'local' or a name "
            "such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
        ),
        (
            ("1h",),
            {"timezone": "../etc/passwd"},
            "timezone '../etc/passwd' is not a known IANA time zone; allowed: 'local' or a "
            "name such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
        ),
        (
            ("1h",),
            {"until": utc(2026, 5, 31)},
            "until 2026-05-31T00:00:00+00:00 is before start 2026-06-01T00:00:00+00:00; "
            "allowed: an until at or after start",
        ),
        (
            ("1h",),
            {"until": utc(2026, 6, 1, 5)},
            "daily schedule has no slot from start 2026-06-01T00:00:00+00:00 until "
            "2026-06-01T05:00:00+00:00: the window 06:00:00-20:00:00 UTC is never open then; "
            "allowed: a span that contains a slot",
        ),
        (
            ("1h",),
            {"count": -1},
            "count -1 is not an integer >= 1; allowed: a number of slots >= 1, or None for "
            "no limit",
        ),
    ],
)
def test_daily_rejects(args, kwargs, message):
    with fails_with(message):
        daily(*args, **{"timezone": "UTC", "start": utc(2026, 6, 1), **kwargs})


# union ---------------------------------------------------------------------------------


def test_union_merges_and_collapses_equal_instants():
    hourly = every("1h", count=4, start=utc(2026, 1, 1))
    extra = at(utc(2026, 1, 1, 1), utc(2026, 1, 1, 1, 30), utc(2026, 1, 1, 10))
    schedule = union(hourly, extra)
    assert list(schedule.slots()) == [
        Slot(0, utc(2026, 1, 1, 0)),
        Slot(1, utc(2026, 1, 1, 1)),
        Slot(2, utc(2026, 1, 1, 1, 30)),
        Slot(3, utc(2026, 1, 1, 2)),
        Slot(4, utc(2026, 1, 1, 3)),
        Slot(5, utc(2026, 1, 1, 10)),
    ]
    assert schedule.count() == 6
    assert schedule.first() == Slot(0, utc(2026, 1, 1))
    assert schedule.last() == Slot(5, utc(2026, 1, 1, 10))
    assert list(schedule.slots(4)) == [Slot(4, utc(2026, 1, 1, 3)), Slot(5, utc(2026, 1, 1, 10))]
    assert next(schedule.slots_from(utc(2026, 1, 1, 1, 1))) == Slot(2, utc(2026, 1, 1, 1, 30))


def test_union_of_identical_schedules_is_the_schedule():
    hourly = every("1h", count=5, start=utc(2026, 1, 1))
    assert list(union(hourly, hourly, hourly).slots()) == list(hourly.slots())


def test_union_with_an_unbounded_schedule_is_unbounded():
    schedule = union(at(utc(2026, 1, 1, 0, 30)), every("1h", start=utc(2026, 1, 1)))
    assert not schedule.is_bounded
    assert schedule.count() is None
    assert schedule.last() is None
    assert [s.time.minute for s in islice(schedule.slots(), 4)] == [0, 30, 0, 0]


def test_union_accepts_specs_and_nests():
    inner = union(
        {"kind": "at", "times": ["2026-01-01T02:00Z"]},
        '{"kind": "at", "times": ["2026-01-01T01:00Z"]}',
    )
    schedule = union(inner, at(utc(2026, 1, 1, 3)))
    assert [s.time.hour for s in schedule.slots()] == [1, 2, 3]
    assert schedule_from_spec(schedule.to_json()) == schedule
    assert isinstance(schedule.schedules[0], Union)


def test_union_rejects_nothing_to_merge():
    with fails_with("schedules is empty; allowed: one or more schedules"):
        union()


def test_union_rejects_what_is_not_a_schedule():
    with fails_with(
        "schedules[1] 5 is not a schedule; allowed: a Schedule, a dict with a 'kind' or its "
        "JSON string"
    ):
        union(at(utc(2026, 1, 1)), 5)  # type: ignore[arg-type]


# schedule_from_spec --------------------------------------------------------------------


def test_from_spec_returns_a_schedule_as_is():
    schedule = every("1h")
    assert schedule_from_spec(schedule) is schedule


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"kind": "every", "interval": "10m", "count": 5, "start": "2026-05-01T06:00Z"},
            every(600, count=5, start=START),
        ),
        (
            {
                "kind": "every",
                "interval": 600,
                "until": "2026-05-01T08:00:00+02:00",
                "start": "2026-05-01T06:00Z",
            },
            every("10m", until=START, start=START),
        ),
        ({"kind": "at", "times": ["2026-05-01T06:00Z"]}, at(START)),
        (
            {
                "kind": "daily",
                "interval": "1h30m",
                "start_time": "06:00",
                "end_time": "20:00",
                "timezone": "UTC",
                "start": "2026-05-01T00:00Z",
            },
            daily(5400, timezone="UTC", start=utc(2026, 5, 1)),
        ),
        (
            {"kind": "union", "schedules": [{"kind": "at", "times": ["2026-05-01T06:00Z"]}]},
            union(at(START)),
        ),
    ],
)
def test_from_spec_dicts_and_json(spec, expected):
    assert schedule_from_spec(spec) == expected
    assert schedule_from_spec(json.dumps(spec)) == expected


def test_from_spec_without_start_means_now():
    before = datetime.now(UTC)
    schedule = schedule_from_spec({"kind": "every", "interval": "10m", "count": 5})
    assert isinstance(schedule, Every)
    assert before <= schedule.start <= datetime.now(UTC)


def test_a_spec_may_name_fields_by_python_name_only_through_count():
    assert Every(interval=5, count=2, start=START).max_count == 2
    with fails_with("max_count is not a field of this schedule; check its spelling"):
        schedule_from_spec({"kind": "every", "interval": 5, "max_count": 2})


ALLOWED_KINDS = "allowed: every, at, daily, union"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "weekly"}, f"schedule kind 'weekly' is not known; {ALLOWED_KINDS}"),
        (
            '{"kind": "hourly", "interval": 5}',
            f"schedule kind 'hourly' is not known; {ALLOWED_KINDS}",
        ),
        ({"interval": "10m"}, f"schedule spec has no 'kind'; {ALLOWED_KINDS}"),
        (
            5,
            "schedule spec 5 is not a schedule; allowed: a Schedule, a dict with a 'kind' "
            "(every, at, daily, union) or its JSON string",
        ),
        (
            "[1, 2]",
            "schedule spec [1, 2] is not a schedule; allowed: a Schedule, a dict with a 'kind' "
            "(every, at, daily, union) or its JSON string",
        ),
        (
            '{"kind": "every"',
            "schedule spec '{\"kind\": \"every\"' is not valid JSON (Expecting ',' delimiter "
            "at position 16); allowed: a JSON object such as "
            '\'{"kind": "every", "interval": "10m"}\'',
        ),
        ({"kind": "every"}, "interval is required"),
        (
            {"kind": "every", "intervall": "10m"},
            "interval is required; intervall is not a field of this schedule; check its spelling",
        ),
        (
            {"kind": "every", "interval": "10m", "count": "5"},
            "count '5' is not an integer >= 1; allowed: a number of slots >= 1, or None for "
            "no limit",
        ),
        (
            {"kind": "every", "interval": "10x"},
            f"interval '10x' is not understood; allowed: {DURATION_SYNTAX}",
        ),
        (
            {"kind": "at", "times": 5},
            "times 5 is not a list of times; allowed: datetimes or ISO 8601 strings",
        ),
        (
            {
                "kind": "daily",
                "interval": "1h",
                "start_time": "06:00",
                "end_time": "20:00",
                "timezone": "Mars/Olympus",
            },
            "timezone 'Mars/Olympus' is not a known IANA time zone; allowed: 'local' or a name "
            "such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
        ),
        (
            {
                "kind": "daily",
                "interval": "1h",
                "start_time": "06:00",
                "end_time": "20:00",
                "timezone": "Europe/Berln",
            },
            "timezone 'Europe/Berln' is not a known IANA time zone; allowed: 'local' or a name "
            "such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
        ),
        ({"kind": "union", "schedules": []}, "schedules is empty; allowed: one or more schedules"),
        (
            {"kind": "union", "schedules": 5},
            "schedules 5 is not a list of schedules; allowed: schedules or specs",
        ),
        (
            {
                "kind": "union",
                "schedules": [
                    {"kind": "at", "times": ["2026-01-01"]},
                    {"kind": "every", "interval": 0},
                ],
            },
            f"schedules[1]: interval 0 is not positive; {INTERVAL_ALLOWED}",
        ),
        (
            {"kind": "union", "schedules": [{"kind": "every"}]},
            "schedules[0]: interval is required",
        ),
        (
            {"kind": "union", "schedules": [{"kind": "yearly"}]},
            f"schedules[0]: schedule kind 'yearly' is not known; {ALLOWED_KINDS}",
        ),
        (
            {
                "kind": "union",
                "schedules": [
                    {"kind": "union", "schedules": [{"kind": "every", "interval": 1, "count": 0}]}
                ],
            },
            "schedules[0].schedules[0]: count 0 is not an integer >= 1; allowed: a number of "
            "slots >= 1, or None for no limit",
        ),
    ],
)
def test_from_spec_rejects(spec, message):
    with fails_with(message):
        schedule_from_spec(spec)


def test_kinds_are_the_discriminator_values():
    assert KINDS == ("every", "at", "daily", "union")
    assert [cls.model_fields["kind"].default for cls in (Every, At, Daily, Union)] == list(KINDS)


# properties ----------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST
    "America/Santiago",  # changes at midnight
    "Africa/Casablanca",  # negative DST around Ramadan
    "Pacific/Chatham",
    "Asia/Kolkata",
]
TRANSITIONS = [
    datetime(2026, 3, 8),
    datetime(2026, 3, 29),
    datetime(2026, 4, 5),
    datetime(2026, 9, 6),
    datetime(2026, 10, 4),
    datetime(2026, 10, 25),
    datetime(2026, 11, 1),
    datetime(2027, 2, 7),
    datetime(2028, 2, 29),
]
aware_times = st.one_of(
    st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.builds(
        lambda when, shift, zone: (when + shift).replace(tzinfo=ZoneInfo(zone)),
        st.sampled_from(TRANSITIONS),
        st.timedeltas(timedelta(days=-3), timedelta(days=3)),
        st.sampled_from(ZONES),
    ),
)
durations = st.one_of(
    st.integers(1, 10**6).map(float),
    st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False),
    st.sampled_from(["1h30m", "500ms", "2d-3h", "10m", "1w", "45"]),
)


@st.composite
def every_schedules(draw: st.DrawFn) -> Every:
    interval = parse_duration(draw(durations))
    start = draw(aware_times)
    count = draw(st.none() | st.integers(1, 300))
    until = draw(
        st.none() | st.floats(0, 300).map(lambda n: start + timedelta(seconds=n * interval))
    )
    return every(interval, count=count, until=until, start=start)


@st.composite
def daily_schedules(draw: st.DrawFn) -> Daily:
    opening = draw(st.integers(0, 86399 - 60))
    window = draw(st.integers(60, 86399 - opening))
    interval = draw(
        st.one_of(st.integers(window // 50 + 1, window).map(float), st.floats(window / 50, window))
    )
    start = draw(aware_times)
    until = draw(
        st.none() | st.timedeltas(timedelta(days=2), timedelta(days=20)).map(lambda d: start + d)
    )
    return daily(
        interval,
        between=(_clock(opening), _clock(opening + window)),
        timezone=draw(st.sampled_from(ZONES)),
        start=start,
        until=until,
        count=draw(st.none() | st.integers(1, 300)),
    )


def _clock(seconds: int) -> time:
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


at_schedules = st.lists(
    aware_times, min_size=1, max_size=40, unique_by=lambda t: t.astimezone(UTC)
).map(at)
leaf_schedules = st.one_of(every_schedules(), daily_schedules(), at_schedules)
union_schedules = st.lists(leaf_schedules, min_size=1, max_size=3).map(lambda s: union(*s))
PROPERTIES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def check_schedule(schedule: Schedule, data: st.DataObject) -> list[Slot]:
    """Check the invariants every schedule keeps; return its first 200 slots."""
    prefix = list(islice(schedule.slots(), 200))
    assert prefix, "a valid schedule has a slot"
    assert [s.index for s in prefix] == list(range(len(prefix)))
    assert all(s.time.tzinfo is UTC for s in prefix)
    assert all(a.time < b.time for a, b in pairwise(prefix))
    assert schedule.first() == prefix[0]
    if schedule.is_bounded and len(prefix) < 200:
        assert schedule.count() == len(prefix)
        assert schedule.last() == prefix[-1]
    if not schedule.is_bounded:
        assert (schedule.count(), schedule.last()) == (None, None)
    assert schedule_from_spec(schedule.to_json()) == schedule
    assert schedule_from_spec(json.loads(schedule.to_json())) == schedule

    start_index = data.draw(st.integers(0, len(prefix)), label="start_index")
    assert (
        list(islice(schedule.slots(start_index), len(prefix) - start_index))
        == prefix[start_index:]
    )

    anchor = data.draw(st.sampled_from(prefix), label="anchor").time
    shift = data.draw(st.sampled_from([0, 1, -1, 3_000_000, -86_400_000_000]), label="shift")
    when = anchor + timedelta(microseconds=shift)
    expected = [s for s in prefix if s.time >= when]
    assert list(islice(schedule.slots_from(when), len(expected))) == expected
    if len(prefix) < 200 and when > prefix[-1].time:
        assert list(schedule.slots_from(when)) == []
    return prefix


def expected_daily(schedule: Daily, days: list[date]) -> list[datetime]:
    """An independent oracle for the slots of ``days``: PEP 495 folds, no zone walking."""
    zone, step = schedule.zone, Fraction(schedule.interval) * 10**6
    times = []
    for day in days:
        opening = datetime.combine(day, schedule.start_time)
        closing = datetime.combine(day, schedule.end_time)
        k = 0
        while (wall := opening + timedelta(microseconds=round(k * step))) <= closing:
            k += 1
            before, after = (zone.utcoffset(wall.replace(fold=f)) for f in (0, 1))
            if before < after:
                continue  # a spring-forward gap: fold=0 is before, fold=1 after the change
            when = (wall - before).replace(tzinfo=UTC)
            if schedule.start <= when and (schedule.until is None or when <= schedule.until):
                times.append(when)
    return times


@PROPERTIES
@given(schedule=every_schedules(), data=st.data())
def test_every_properties(schedule, data):
    prefix = check_schedule(schedule, data)
    assert prefix[0].time == schedule.start
    step = Fraction(schedule.interval) * 10**6
    assert all(
        s.time == schedule.start + timedelta(microseconds=round(s.index * step)) for s in prefix
    )


@PROPERTIES
@given(schedule=daily_schedules(), data=st.data())
def test_daily_properties(schedule, data):
    prefix = check_schedule(schedule, data)
    walls = [s.time.astimezone(schedule.zone) for s in prefix]
    assert all(schedule.start_time <= w.time() <= schedule.end_time for w in walls)
    assert all(w.fold == 0 for w in walls)
    # Compare whole days with the oracle: every day but the last seen may be cut short.
    days = sorted({w.date() for w in walls})
    first_day = schedule.start.astimezone(schedule.zone).date()
    full_days = [first_day + timedelta(days=n) for n in range((days[-1] - first_day).days)]
    oracle = expected_daily(schedule, full_days)
    if schedule.max_count is not None:
        oracle = oracle[: schedule.max_count]
    assert [s.time for s in prefix if s.time.astimezone(schedule.zone).date() < days[-1]] == oracle


@PROPERTIES
@given(schedule=at_schedules, data=st.data())
def test_at_properties(schedule, data):
    prefix = check_schedule(schedule, data)
    assert [s.time for s in prefix] == list(schedule.times)


@PROPERTIES
@given(schedule=union_schedules, data=st.data())
def test_union_properties(schedule, data):
    prefix = check_schedule(schedule, data)
    horizon = prefix[-1].time
    merged = sorted({s.time for child in schedule.schedules for s in _until(child, horizon)})
    assert [s.time for s in prefix] == merged


def _until(schedule: Schedule, horizon: datetime) -> Iterator[Slot]:
    for slot in schedule.slots():
        if slot.time > horizon:
            return
        yield slot


def test_a_daily_spec_without_timezone_is_local():
    spec = {"kind": "daily", "interval": "1h", "start_time": "06:00", "end_time": "20:00"}
    assert (
        schedule_from_spec(spec).timezone
        == schedule_from_spec(spec | {"timezone": "local"}).timezone
    )
