"""A wall-clock grid inside a window each day (schedules/_daily.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
import tzlocal
from hypothesis import given
from hypothesis import strategies as st

from bluesky_timelapse.schedules import (
    Daily,
    Slot,
    daily,
    schedule_from_spec,
)
from schedule_checks import (
    BERLIN,
    INTERVAL_ALLOWED,
    NEW_YORK,
    PROPERTIES,
    check_schedule,
    daily_schedules,
    fails_with,
    local_times,
    utc,
)


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
            ("1h", ("06:00", "06:00")),
            {},
            "end_time 06:00:00 is start_time 06:00:00, an empty window; allowed: two "
            "different times (an end_time before start_time runs past midnight into the next "
            "day)",
        ),
        (
            ("5h", ("22:00", "02:00")),
            {},
            "interval 18000 s is longer than the daily window 22:00:00-02:00:00 (14400 s); "
            "allowed: an interval no longer than the window",
        ),
        (
            ("1h", ("22:00", "02:00")),
            {"start": utc(2026, 6, 1, 2, 1), "until": utc(2026, 6, 1, 21)},
            "daily schedule has no slot from start 2026-06-01T02:01:00+00:00 until "
            "2026-06-01T21:00:00+00:00: the window 22:00:00-02:00:00 UTC is never open then; "
            "allowed: a span that contains a slot",
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


def expected_daily(schedule: Daily, days: list[date]) -> list[datetime]:
    """An independent oracle for the slots of ``days``: PEP 495 folds, no zone walking."""
    zone, step = schedule.zone, Fraction(schedule.interval) * 10**6
    times = []
    for day in days:
        opening = datetime.combine(day, schedule.start_time)
        closing = datetime.combine(day + past_midnight(schedule), schedule.end_time)
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
@given(schedule=daily_schedules(), data=st.data())
def test_daily_properties(schedule, data):
    prefix = check_schedule(schedule, data)
    walls = [s.time.astimezone(schedule.zone) for s in prefix]
    if past_midnight(schedule):
        assert all(w.time() >= schedule.start_time or w.time() <= schedule.end_time for w in walls)
    else:
        assert all(schedule.start_time <= w.time() <= schedule.end_time for w in walls)
    assert all(w.fold == 0 for w in walls)
    # Compare whole days with the oracle: every day but the last seen may be cut short.
    opened = [opening_day(schedule, w) for w in walls]
    first_day = schedule.start.astimezone(schedule.zone).date() - past_midnight(schedule)
    full_days = [first_day + timedelta(days=n) for n in range((opened[-1] - first_day).days)]
    oracle = expected_daily(schedule, full_days)
    if schedule.max_count is not None:
        oracle = oracle[: schedule.max_count]
    assert [s.time for s, day in zip(prefix, opened, strict=True) if day < opened[-1]] == oracle


def past_midnight(schedule: Daily) -> timedelta:
    """A day if the window closes on the day after it opens, else nothing."""
    return timedelta(days=1 if schedule.end_time < schedule.start_time else 0)


def opening_day(schedule: Daily, wall: datetime) -> date:
    """The local day whose window holds the slot at ``wall``."""
    if wall.time() < schedule.start_time:
        return wall.date() - past_midnight(schedule)
    return wall.date()


def test_a_daily_spec_without_timezone_is_local():
    spec = {"kind": "daily", "interval": "1h", "start_time": "06:00", "end_time": "20:00"}
    assert (
        schedule_from_spec(spec).timezone
        == schedule_from_spec(spec | {"timezone": "local"}).timezone
    )


# windows past midnight -----------------------------------------------------------------


def test_a_window_past_midnight_runs_into_the_next_day():
    schedule = daily("1h", ("22:00", "02:00"), "UTC", start=utc(2026, 6, 1), count=11)
    assert local_times(schedule, ZoneInfo("UTC")) == [
        "06-01 00:00",  # the tail of the window that opened on 31 May
        "06-01 01:00",
        "06-01 02:00",
        "06-01 22:00",
        "06-01 23:00",
        "06-02 00:00",
        "06-02 01:00",
        "06-02 02:00",
        "06-02 22:00",
        "06-02 23:00",
        "06-03 00:00",
    ]
    assert schedule.last() == Slot(10, utc(2026, 6, 3))
    assert (schedule.start_time, schedule.end_time) == (time(22), time(2))


def test_a_window_past_midnight_keeps_its_grid_from_the_opening():
    schedule = daily("45m", ("22:00", "00:30"), "UTC", start=utc(2026, 6, 1, 12), count=5)
    assert local_times(schedule, ZoneInfo("UTC")) == [
        "06-01 22:00",
        "06-01 22:45",
        "06-01 23:30",
        "06-02 00:15",
        "06-02 22:00",
    ]


def test_a_window_past_midnight_from_a_start_inside_it():
    schedule = daily("1h", ("22:00", "02:00"), "Europe/Berlin", "2026-06-02T00:30+02:00")
    assert local_times(schedule, BERLIN, 4) == [
        "06-02 01:00",
        "06-02 02:00",
        "06-02 22:00",
        "06-02 23:00",
    ]


def test_a_window_past_midnight_until_the_early_morning():
    schedule = daily(
        "30m", ("23:00", "01:00"), "UTC", start=utc(2026, 6, 1, 12), until=utc(2026, 6, 2, 0, 45)
    )
    assert [s.time for s in schedule.slots()] == [
        utc(2026, 6, 1, 23),
        utc(2026, 6, 1, 23, 30),
        utc(2026, 6, 2, 0),
        utc(2026, 6, 2, 0, 30),
    ]
    assert schedule.count() == 4


def test_a_window_past_midnight_across_spring_forward():
    schedule = daily("1h", ("22:00", "04:00"), "Europe/Berlin", "2026-03-28T12:00+01:00")
    assert [s.time for s in islice(schedule.slots(), 7)] == [
        utc(2026, 3, 28, 21),  # 22:00 CET
        utc(2026, 3, 28, 22),
        utc(2026, 3, 28, 23),  # 00:00 CET on the 29th
        utc(2026, 3, 29, 0),  # 01:00 CET; 02:00 does not exist
        utc(2026, 3, 29, 1),  # 03:00 CEST
        utc(2026, 3, 29, 2),  # 04:00 CEST, the closing
        utc(2026, 3, 29, 20),  # 22:00 CEST
    ]


def test_a_window_past_midnight_across_fall_back():
    schedule = daily("1h", ("22:00", "04:00"), "Europe/Berlin", "2026-10-24T12:00+02:00")
    assert [s.time for s in islice(schedule.slots(), 8)] == [
        utc(2026, 10, 24, 20),  # 22:00 CEST
        utc(2026, 10, 24, 21),
        utc(2026, 10, 24, 22),  # 00:00 CEST on the 25th
        utc(2026, 10, 24, 23),
        utc(2026, 10, 25, 0),  # 02:00 CEST, the first 02:00 only
        utc(2026, 10, 25, 2),  # 03:00 CET
        utc(2026, 10, 25, 3),  # 04:00 CET, the closing
        utc(2026, 10, 25, 21),  # 22:00 CET
    ]
    assert all(s.time.astimezone(BERLIN).fold == 0 for s in islice(schedule.slots(), 8))


def test_a_22_to_02_window_across_the_dst_changes_all_year():
    start = datetime(2026, 1, 1, 12, tzinfo=NEW_YORK)
    schedule = daily(
        "1h",
        ("22:00", "02:00"),
        "America/New_York",
        start=start,
        until=datetime(2026, 12, 31, 12, tzinfo=NEW_YORK),
    )
    slots = list(schedule.slots())
    assert len(slots) == 364 * 5 - 1  # 02:00 on 2026-03-08 does not exist
    assert len({s.time for s in slots}) == len(slots)
    per_night: dict[date, list[int]] = {}
    for s in slots:
        wall = s.time.astimezone(NEW_YORK)
        night = wall.date() - timedelta(days=1 if wall.hour < 12 else 0)
        per_night.setdefault(night, []).append(wall.hour)
    assert per_night[date(2026, 3, 7)] == [22, 23, 0, 1]
    assert per_night[date(2026, 10, 31)] == [22, 23, 0, 1, 2]  # 01:00 EDT, once
    assert all(
        hours == [22, 23, 0, 1, 2] for d, hours in per_night.items() if d != date(2026, 3, 7)
    )


def test_a_window_past_midnight_jumps_match_iteration_across_dst_days():
    schedule = daily("20m", ("21:30", "04:10"), "Europe/Berlin", start="2026-03-20T23:00+01:00")
    slots = list(islice(schedule.slots(), 400))
    for i in (0, 1, 5, 11, 12, 20, 21, 100, 123, 399):
        assert next(schedule.slots(i)) == slots[i]
        assert next(schedule.slots_from(slots[i].time)) == slots[i]
        assert next(schedule.slots_from(slots[i].time - timedelta(microseconds=1))) == slots[i]
        if i < 399:
            assert next(schedule.slots_from(slots[i].time + timedelta(seconds=1))) == slots[i + 1]
    assert next(schedule.slots_from("2026-03-22T12:00+01:00")).time == utc(2026, 3, 22, 20, 30)
    assert next(schedule.slots_from("2026-03-22T22:00+01:00")).time == utc(2026, 3, 22, 21, 10)


def test_a_window_past_midnight_round_trips_through_json():
    schedule = daily(
        "30m", ("22:00", "02:00"), "Europe/Berlin", start="2026-03-28T12:00+01:00", count=30
    )
    assert schedule.to_dict() == {
        "kind": "daily",
        "interval": 1800.0,
        "start_time": "22:00:00",
        "end_time": "02:00:00",
        "timezone": "Europe/Berlin",
        "start": "2026-03-28T11:00:00+00:00",
        "until": None,
        "count": 30,
    }
    for restored in (
        schedule_from_spec(schedule.to_dict()),
        schedule_from_spec(schedule.to_json()),
    ):
        assert restored == schedule
        assert list(restored.slots()) == list(schedule.slots())
    spec = {
        "kind": "daily",
        "interval": "30m",
        "start_time": "22:00",
        "end_time": "02:00",
        "timezone": "Europe/Berlin",
        "start": "2026-03-28T12:00+01:00",
        "count": 30,
    }
    assert schedule_from_spec(spec) == schedule


def test_a_window_past_midnight_at_the_ends_of_time():
    first = daily("1h", ("22:00", "02:00"), "UTC", start="0001-01-01T00:00Z", count=3)
    assert [s.time for s in first.slots()] == [
        datetime(1, 1, 2, 22, tzinfo=UTC),
        datetime(1, 1, 2, 23, tzinfo=UTC),
        datetime(1, 1, 3, 0, tzinfo=UTC),
    ]
    last = daily("1h", ("22:00", "02:00"), "Pacific/Kiritimati", start="9999-12-29T00:00Z")
    times = [s.time for s in last.slots()]
    assert times[-1] == datetime(9999, 12, 30, 2, tzinfo=ZoneInfo("Pacific/Kiritimati"))
    assert all(t.astimezone(last.zone).date() < date.max for t in times)
