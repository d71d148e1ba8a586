"""Several schedules merged (schedules/_union.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import islice

from hypothesis import given
from hypothesis import strategies as st

from bluesky_timelapse.schedules import (
    Schedule,
    Slot,
    Union,
    at,
    every,
    schedule_from_spec,
    union,
)
from schedule_checks import (
    PROPERTIES,
    check_schedule,
    fails_with,
    union_schedules,
    utc,
)


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
