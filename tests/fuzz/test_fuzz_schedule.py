"""Fuzzing schedule specs and constructors (bluesky_timelapse.schedules).

What the module promises, and what is checked here for any input:

- :func:`schedule_from_spec` and the constructors build a schedule or raise a
  ``ValueError`` (never another exception type, never a hang);
- a schedule's slots have indices 0, 1, 2... and strictly increasing UTC times;
- ``slots(start_index=k)`` is ``slots()`` less its first ``k`` slots;
- ``count()`` and ``last()`` agree with the slots;
- a schedule comes back from ``to_dict()`` and ``to_json()`` equal, with the same slots.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from fractions import Fraction
from itertools import islice, pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bluesky_timelapse.schedules import (
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

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PREFIX = 25
"""Slots looked at per schedule: enough to cross days, few enough to stay fast."""

ZONE_NAMES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "America/Havana",  # DST changes at midnight
    "Pacific/Apia",  # skipped a whole day in 2011
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11
    "Asia/Kathmandu",  # UTC+05:45
]
ZONES = [ZoneInfo(name) for name in ZONE_NAMES]

# -- strategies ---------------------------------------------------------------------

aware_datetimes = st.datetimes(
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), *ZONES])
)
"""The whole datetime range, in zones east and west of UTC: year 1 and 9999 included."""

plausible_datetimes = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)

datetime_values = st.one_of(
    aware_datetimes,
    aware_datetimes.map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),  # naive: local time
    st.dates(),
    st.dates().map(date.isoformat),
    st.text(max_size=30),
)

duration_strings = st.lists(
    st.tuples(
        st.sampled_from(["", "+", "-", " "]),
        st.one_of(
            st.integers(0, 10**6).map(str),
            st.floats(0, 1e6, allow_nan=False).map(repr),
            st.sampled_from(["1e400", "9" * 400, ".", "1.", ".5", "nan", "inf"]),
        ),
        st.sampled_from(["w", "d", "h", "m", "s", "ms", "", "x", " "]),
    ),
    min_size=1,
    max_size=4,
).map(lambda terms: "".join(sign + number + unit for sign, number, unit in terms))

duration_values = st.one_of(
    st.integers(-(10**6), 10**6),
    st.integers(),  # includes numbers too large for a float
    st.floats(),
    st.fractions(),
    st.just(Fraction(10**400, 3)),
    st.timedeltas(),
    duration_strings,
    st.text(max_size=20),
)

count_values = st.one_of(
    st.none(), st.integers(-5, 60), st.integers(), st.booleans(), st.floats(), st.text(max_size=5)
)

time_of_day_values = st.one_of(
    st.times(),
    st.times(timezones=st.just(UTC)),
    st.times().map(time.isoformat),
    st.text(max_size=12),
    st.integers(),
)

zone_values = st.one_of(
    st.sampled_from([*ZONE_NAMES, "local", "Nowhere/Else", "", "../etc/passwd", "UTC\0"]),
    st.text(max_size=20),
    st.integers(),
    st.none(),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)

junk = st.one_of(json_values, datetime_values, duration_values, count_values)

FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "interval": duration_values,
    "count": count_values,
    "start": datetime_values,
    "until": datetime_values,
    "times": st.one_of(st.lists(datetime_values, max_size=5), datetime_values, junk),
    "start_time": time_of_day_values,
    "end_time": time_of_day_values,
    "timezone": zone_values,
}


@st.composite
def near_valid_specs(draw: st.DrawFn, depth: int = 2) -> dict[str, Any]:
    """A dict with a ``kind`` (mostly a known one) and some fields, mostly of its kind."""
    kind = draw(st.one_of(st.sampled_from(KINDS), junk))
    spec: dict[str, Any] = {} if draw(st.integers(0, 9)) == 0 else {"kind": kind}
    names = draw(st.lists(st.sampled_from(sorted(FIELDS)), unique=True, max_size=6))
    for name in names:
        spec[name] = draw(FIELDS[name])
    if kind == "union" or draw(st.integers(0, 9)) == 0:
        members = st.one_of(near_valid_specs(depth - 1), junk) if depth > 0 else junk
        spec["schedules"] = draw(st.one_of(st.lists(members, max_size=3), members))
    if draw(st.integers(0, 9)) == 0:
        spec[draw(st.text(max_size=8))] = draw(junk)
    return spec


specs = st.one_of(
    near_valid_specs(),
    near_valid_specs().map(lambda spec: json.dumps(spec, default=str)),
    json_values,
    st.text(max_size=50),
)

# Valid schedules: constructor arguments drawn so that they are (almost always) accepted.

intervals = st.one_of(
    st.floats(1e-6, 1e7, allow_nan=False),
    st.integers(1, 10**6),
    st.sampled_from(["1s", "10m", "1h30m", "1.5h", "500ms", "1d", "2d-3h", "1w"]),
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=30)),
)


@st.composite
def every_schedules(draw: st.DrawFn) -> Every:
    start = draw(plausible_datetimes | aware_datetimes)
    count = draw(st.none() | st.integers(1, 100))
    until = draw(st.none() | st.timedeltas(timedelta(0), timedelta(days=365)))
    until_at = None
    if until is not None:
        try:
            until_at = start + until
        except OverflowError:
            until_at = None
    try:
        return every(draw(intervals), count=count, until=until_at, start=start)
    except ValueError:
        # a count running past the year 9999: the same schedule, unbounded
        return every(draw(intervals), start=datetime(2026, 1, 1, tzinfo=UTC))


@st.composite
def daily_schedules(draw: st.DrawFn) -> Daily:
    opening = draw(st.times())
    window = draw(st.integers(60, 86399))  # past midnight when the closing wraps round
    closing = (datetime.combine(date(2000, 1, 1), opening) + timedelta(seconds=window)).time()
    interval = draw(st.floats(1.0, float(window), allow_nan=False))
    # Around DST changes: the first days of March, April, October and November.
    start = draw(
        st.builds(
            datetime,
            st.integers(2000, 2040),
            st.sampled_from([3, 4, 10, 11]),
            st.integers(1, 28),
            st.integers(0, 23),
            tzinfo=st.just(UTC),
        )
    )
    count = draw(st.integers(1, 40))
    return daily(
        interval,
        between=(opening, closing),
        timezone=draw(st.sampled_from(ZONE_NAMES)),
        start=start,
        count=count,
    )


@st.composite
def at_schedules(draw: st.DrawFn) -> At:
    times = draw(st.lists(aware_datetimes, min_size=1, max_size=8))
    try:
        return at(times)
    except ValueError:  # two times at the same instant, or one out of range in UTC
        assume(False)
        raise


leaf_schedules = st.one_of(every_schedules(), daily_schedules(), at_schedules())
valid_schedules = st.one_of(
    leaf_schedules,
    st.lists(leaf_schedules, min_size=1, max_size=3).map(lambda members: union(*members)),
)

# -- checks ---------------------------------------------------------------------------


def cheap_count(schedule: Schedule) -> bool:
    """Whether ``count()`` is quick: it walks every slot (or day) of some schedules."""
    if isinstance(schedule, Every | At):
        return True
    if isinstance(schedule, Daily):
        return schedule.max_count is not None and schedule.max_count <= 1000
    assert isinstance(schedule, Union)
    return all(
        isinstance(member, At | Daily) and cheap_count(member) for member in schedule.schedules
    )


def check_invariants(schedule: Schedule) -> list[Slot]:
    """Check what every schedule promises on its first slots; return them."""
    prefix = list(islice(schedule.slots(), PREFIX))
    assert [slot.index for slot in prefix] == list(range(len(prefix)))
    assert all(slot.time.tzinfo is UTC for slot in prefix)
    assert all(a.time < b.time for a, b in pairwise(prefix)), "slots not strictly increasing"
    assert schedule.first() == (prefix[0] if prefix else None)

    n = len(prefix)
    for k in sorted({0, 1, 2, n // 2, max(n - 1, 0), n, n + 1}):
        # slots(start_index=k) is slots() less its first k slots
        wanted = PREFIX if n < PREFIX else max(n - k, 0)
        assert list(islice(schedule.slots(start_index=k), wanted)) == prefix[k:]

    if schedule.is_bounded and cheap_count(schedule):
        total = schedule.count()
        assert total is not None
        if total <= PREFIX:
            assert total == len(prefix)
            assert schedule.last() == (prefix[-1] if prefix else None)
        else:
            assert len(prefix) == PREFIX
    if not schedule.is_bounded:
        assert schedule.count() is None
        assert schedule.last() is None

    for restored in (
        schedule_from_spec(schedule.to_dict()),
        schedule_from_spec(schedule.to_json()),
        schedule_from_spec(json.loads(json.dumps(schedule.to_dict()))),
    ):
        assert restored == schedule
        assert list(islice(restored.slots(), PREFIX)) == prefix
    return prefix


def build_or_value_error(build: Callable[[], Schedule]) -> Schedule | None:
    """Build a schedule; a ``ValueError`` must say something, anything else is a bug."""
    try:
        schedule = build()
    except ValueError as err:
        assert str(err).strip(), "a ValueError without a message"
        return None
    assert isinstance(schedule, Schedule)
    return schedule


# -- properties --------------------------------------------------------------------------


@pytest.mark.timeout(120)
@FUZZ
@given(spec=specs)
@example(spec={"kind": "every", "interval": 10**400})  # float() overflow
@example(spec={"kind": "every", "interval": Fraction(10**400, 3)})
@example(spec={"kind": "every", "interval": 10, "start": "0001-01-01T00:00+01:00"})
@example(spec={"kind": "at", "times": ["9999-12-31T23:00-05:00"]})
@example(
    spec={
        "kind": "daily",
        "interval": 10,
        "start_time": "06:00",
        "end_time": "07:00",
        "timezone": "America/New_York",
        "start": "0001-01-01T00:00+00:00",
        "count": 3,
    },
)
@example(
    spec={
        "kind": "daily",
        "interval": 3600,
        "start_time": "01:00",
        "end_time": "23:00",
        "timezone": "Pacific/Kiritimati",
        "start": "9999-12-30T12:00+00:00",
    },
)
@example(
    spec={
        "kind": "daily",
        "interval": 3600,
        "start_time": "01:00",
        "end_time": "23:00",
        "timezone": "Pacific/Kiritimati",
        "start": "0001-01-01T00:00+00:00",
        "until": "0001-01-03T00:00+00:00",
    },
)
@example(
    spec={
        "kind": "daily",
        "interval": 3600,
        "start_time": "23:00",
        "end_time": "22:00",
        "timezone": "Pacific/Pago_Pago",
        "start": "9999-12-29T00:00+00:00",
    },
)
@example(
    spec={
        "kind": "daily",
        "interval": 3600,
        "start_time": "23:00",
        "end_time": "22:00",
        "timezone": "Pacific/Kiritimati",
        "start": "0001-01-01T00:00+00:00",
        "until": "0001-01-04T00:00+00:00",
    },
)
def test_any_spec_builds_or_raises_value_error(spec: Any) -> None:
    schedule = build_or_value_error(lambda: schedule_from_spec(spec))
    if schedule is not None:
        check_invariants(schedule)


@pytest.mark.timeout(120)
@FUZZ
@given(
    interval=duration_values,
    count=count_values,
    until=st.none() | datetime_values,
    start=st.none() | datetime_values,
)
def test_every_builds_or_raises_value_error(
    interval: Any, count: Any, until: Any, start: Any
) -> None:
    schedule = build_or_value_error(lambda: every(interval, count=count, until=until, start=start))
    if schedule is not None:
        check_invariants(schedule)


@pytest.mark.timeout(120)
@FUZZ
@given(times=st.lists(datetime_values, max_size=6) | datetime_values | junk)
def test_at_builds_or_raises_value_error(times: Any) -> None:
    schedule = build_or_value_error(
        lambda: at(*times) if isinstance(times, list) and times else at(times)
    )
    if schedule is not None:
        check_invariants(schedule)


@pytest.mark.timeout(120)
@FUZZ
@given(
    interval=duration_values,
    between=st.tuples(time_of_day_values, time_of_day_values) | junk,
    zone=zone_values,
    start=st.none() | datetime_values,
    until=st.none() | datetime_values,
    count=count_values,
)
@example(  # was a TypeError: object of type 'int' has no len()
    interval=10, between=0, zone="UTC", start=None, until=None, count=None
)
def test_daily_builds_or_raises_value_error(
    interval: Any,
    between: Any,
    zone: Any,
    start: Any,
    until: Any,
    count: Any,
) -> None:
    # A far ``until`` with no ``count`` is a few million days to count: bound it.
    if count is None or isinstance(count, bool) or not isinstance(count, int) or count > 1000:
        count = 50
    schedule = build_or_value_error(
        lambda: daily(
            interval, between=between, timezone=zone, start=start, until=until, count=count
        )
    )
    if schedule is not None:
        check_invariants(schedule)


@pytest.mark.timeout(120)
@FUZZ
@given(members=st.lists(st.one_of(near_valid_specs(depth=1), valid_schedules), max_size=3))
def test_union_builds_or_raises_value_error(members: list[Any]) -> None:
    build_or_value_error(lambda: union(*members))


@FUZZ
@given(value=duration_values)
def test_parse_duration_returns_a_finite_float_or_raises_value_error(value: Any) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError as err:
        assert "allowed:" in str(err)
        return
    assert isinstance(seconds, float)
    assert seconds == seconds and abs(seconds) != float("inf")


@pytest.mark.timeout(120)
@FUZZ
@given(schedule=valid_schedules, data=st.data())
def test_valid_schedules_keep_their_promises(schedule: Schedule, data: st.DataObject) -> None:
    prefix = check_invariants(schedule)
    assert prefix, "a valid schedule has a first slot"
    when = data.draw(st.sampled_from(prefix), label="anchor").time
    expected = [slot for slot in prefix if slot.time >= when]
    assert list(islice(schedule.slots_from(when), len(expected))) == expected


DST_DAYS = [
    ("Europe/Berlin", date(2026, 3, 29)),
    ("Europe/Berlin", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),
]


@pytest.mark.timeout(30)  # not a hypothesis test: a timeout must end it, not start a shrink
@pytest.mark.parametrize("bounded", [False, True])
@pytest.mark.parametrize("between", [("00:00", "23:00"), ("12:00", "11:00")])
@pytest.mark.parametrize("name, when", DST_DAYS)
def test_a_dst_day_with_a_tiny_interval_yields_its_first_slots_at_once(
    name: str, when: date, between: tuple[str, str], bounded: bool
) -> None:
    """Regression: slots() counted a whole DST day slot by slot (hours at 1 us)."""
    opening = time.fromisoformat(between[0])
    # A window past midnight that holds the change opens the day before.
    day = when - timedelta(days=1) if between[1] < between[0] else when
    start = datetime.combine(day, opening, tzinfo=ZoneInfo(name))
    until = start + timedelta(days=1) if bounded else None
    # Construction with ``until`` looks for a first slot: it took as long.
    schedule = daily(1e-6, between=between, timezone=name, start=start, until=until)
    first = list(islice(schedule.slots(), 8))
    assert [slot.time - first[0].time for slot in first] == [
        timedelta(microseconds=k) for k in range(8)
    ]
    for k in (0, 1, 5):
        assert list(islice(schedule.slots(start_index=k), 3)) == first[k : k + 3]
