"""Helpers for the schedule tests: sample values, message checks, property strategies."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bluesky_timelapse.schedules import (
    Daily,
    Every,
    Schedule,
    Slot,
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

START = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fails_with(message: str):
    """Expect a ValueError whose message is exactly ``message``."""
    return pytest.raises(ValueError, match=f"^{re.escape(message)}$")


def local_times(schedule: Schedule, zone: ZoneInfo, n: int | None = None) -> list[str]:
    return [s.time.astimezone(zone).strftime("%m-%d %H:%M") for s in islice(schedule.slots(), n)]


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
    opening = draw(st.integers(0, 86399))
    window = draw(st.integers(60, 86399))  # past midnight when opening + window >= 86400
    interval = draw(
        st.one_of(st.integers(window // 50 + 1, window).map(float), st.floats(window / 50, window))
    )
    start = draw(aware_times)
    until = draw(
        st.none() | st.timedeltas(timedelta(days=2), timedelta(days=20)).map(lambda d: start + d)
    )
    return daily(
        interval,
        between=(_clock(opening), _clock((opening + window) % 86400)),
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
