"""A slot every fixed interval (schedules/_every.py)."""

from __future__ import annotations

import json
import math
import time as clock
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import islice

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bluesky_timelapse.schedules import (
    DURATION_SYNTAX,
    Slot,
    every,
    schedule_from_spec,
)
from schedule_checks import (
    INTERVAL_ALLOWED,
    NEW_YORK,
    PROPERTIES,
    START,
    check_schedule,
    every_schedules,
    fails_with,
    utc,
)


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


@PROPERTIES
@given(schedule=every_schedules(), data=st.data())
def test_every_properties(schedule, data):
    prefix = check_schedule(schedule, data)
    assert prefix[0].time == schedule.start
    step = Fraction(schedule.interval) * 10**6
    assert all(
        s.time == schedule.start + timedelta(microseconds=round(s.index * step)) for s in prefix
    )
