"""Slots at explicit times (schedules/_at.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import tzlocal
from hypothesis import given
from hypothesis import strategies as st

from bluesky_timelapse.schedules import (
    Slot,
    at,
)
from schedule_checks import (
    PROPERTIES,
    at_schedules,
    check_schedule,
    fails_with,
    utc,
)


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


@PROPERTIES
@given(schedule=at_schedules, data=st.data())
def test_at_properties(schedule, data):
    prefix = check_schedule(schedule, data)
    assert [s.time for s in prefix] == list(schedule.times)
