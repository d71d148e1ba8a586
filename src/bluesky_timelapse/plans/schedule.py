"""When the slots of a timelapse are due: schedules as validated, immutable data.

A schedule is a frozen pydantic model that yields its slots lazily, so an unbounded
schedule costs nothing until it is iterated. Every slot has a stable 0-based index
and a timezone-aware UTC time, strictly increasing. Schedules serialise to JSON
(:meth:`Schedule.to_json`) and come back with :func:`schedule_from_spec`, exactly.

Build them with the constructor functions:

- :func:`every`: a fixed interval, bounded by ``count`` and/or ``until``, or not at all;
- :func:`at`: explicit times;
- :func:`daily`: a wall-clock grid inside a window each day, safe across DST changes;
- :func:`union`: several schedules merged, with slots at the same instant collapsed.

Durations are seconds, :class:`~datetime.timedelta` or strings such as ``"1h30m"``
(:func:`parse_duration`). Naive datetimes are the machine's local time
(``tzlocal``); every stored datetime is UTC. Slots past the year 9999 do not exist:
an unbounded schedule ends there (a daily one on the day before the last, and it has
no slot on the first day of the year 1).

Examples
--------
>>> from datetime import UTC, datetime
>>> schedule = every("10m", count=3, start=datetime(2026, 5, 1, 6, 0, tzinfo=UTC))
>>> [slot.time.strftime("%H:%M") for slot in schedule.slots()]
['06:00', '06:10', '06:20']
>>> schedule_from_spec(schedule.to_json()) == schedule
True
"""

from __future__ import annotations

import abc
import bisect
import heapq
import itertools
import json
import math
import numbers
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import dropwhile, islice
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple, TypeAlias, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzlocal
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

__all__ = [
    "KINDS",
    "At",
    "Daily",
    "Every",
    "Schedule",
    "Slot",
    "Union",
    "at",
    "daily",
    "every",
    "parse_duration",
    "schedule_from_spec",
    "union",
]

KINDS: tuple[str, ...] = ("every", "at", "daily", "union")
"""The values of ``kind`` that :func:`schedule_from_spec` understands."""

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
_DATETIME_SYNTAX = (
    "a datetime or an ISO 8601 string such as '2026-03-29T06:00' (naive = local time) "
    "or '2026-03-29T06:00+02:00'"
)
_S = TypeVar("_S", bound="Schedule")
# Daily windows on these days and between them only: keeps their UTC conversions in range.
_FIRST_DAY = date.min + timedelta(days=1)
_LAST_DAY = date.max - timedelta(days=1)


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


class Slot(NamedTuple):
    """One slot of a schedule."""

    index: int  # type: ignore[assignment]  # the field shadows tuple.index
    """The slot's position in the schedule (0-based), stable across restarts."""
    time: datetime
    """When the slot is due, timezone-aware UTC."""


class Schedule(BaseModel, abc.ABC):
    """A timelapse schedule: strictly increasing UTC slot times, yielded lazily.

    Concrete schedules are :class:`Every`, :class:`At`, :class:`Daily` and
    :class:`Union`; build them with :func:`every`, :func:`at`, :func:`daily` and
    :func:`union`, or from a spec with :func:`schedule_from_spec`. Schedules are
    frozen and compare equal when their fields are equal.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    @abc.abstractmethod
    def slots(self, start_index: int = 0) -> Iterator[Slot]:
        """Yield the slots in time order, from the slot with index ``start_index``.

        Raises
        ------
        ValueError
            If ``start_index`` is not an integer >= 0.
        """

    def slots_from(self, when: datetime | str) -> Iterator[Slot]:
        """Yield the slots due at or after ``when`` (naive = local time)."""
        threshold = _to_utc(when, "when")
        return dropwhile(lambda slot: slot.time < threshold, self.slots())

    @property
    @abc.abstractmethod
    def is_bounded(self) -> bool:
        """Whether the schedule has a last slot."""

    def first(self) -> Slot | None:
        """Return the first slot (None only for a schedule without slots)."""
        return next(self.slots(), None)

    def last(self) -> Slot | None:
        """Return the last slot, or None if the schedule is unbounded."""
        n = self.count()
        if not n:
            return None
        return next(self.slots(n - 1), None)

    def count(self) -> int | None:
        """Return the number of slots, or None if the schedule is unbounded."""
        if not self.is_bounded:
            return None
        return sum(1 for _ in self.slots())

    def to_dict(self) -> dict[str, Any]:
        """Return the schedule as JSON-safe data, ``kind`` included."""
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        """Return the schedule as a JSON object, ``kind`` included."""
        return self.model_dump_json(by_alias=True)


class _Periodic(Schedule):
    """Validation and bounds shared by :class:`Every` and :class:`Daily`.

    Subclasses declare the fields ``interval``, ``start``, ``until`` and
    ``max_count`` (``count`` in specs and JSON: the name ``count`` is the method).
    """

    if TYPE_CHECKING:  # declared by the subclasses, so that ``kind`` comes first
        interval: float
        start: datetime
        until: datetime | None
        max_count: int | None

    @field_validator("interval", mode="before", check_fields=False)
    @classmethod
    def _interval(cls, value: Any) -> float:
        return _parse_interval(value)

    @field_validator("start", "until", mode="before", check_fields=False)
    @classmethod
    def _datetimes(cls, value: Any, info: ValidationInfo) -> datetime | None:
        return None if value is None else _to_utc(value, str(info.field_name))

    @field_validator("max_count", mode="before", check_fields=False)
    @classmethod
    def _max_count(cls, value: Any) -> int | None:
        return _parse_count(value)

    @field_serializer("start", "until", when_used="json", check_fields=False)
    def _serialise_datetimes(self, value: datetime | None) -> str | None:
        return _isoformat(value)

    @property
    def is_bounded(self) -> bool:
        """Whether ``count`` or ``until`` is given."""
        return self.max_count is not None or self.until is not None

    def _grid(self) -> _Grid:
        return _grid(self.interval)


class Every(_Periodic):
    """Slots at ``start``, ``start + interval``, ... bounded by ``count`` and/or ``until``.

    Without ``count`` and ``until`` the schedule is unbounded. See :func:`every`.
    """

    kind: Literal["every"] = "every"
    """The schedule's kind, for specs."""
    interval: float
    """Seconds between slots, at least a microsecond."""
    start: datetime = Field(default_factory=lambda: datetime.now(UTC))
    """The first slot (UTC); the construction time if not given."""
    max_count: int | None = Field(default=None, alias="count")
    """At most this many slots (``count`` in specs); None for no limit."""
    until: datetime | None = None
    """No slot after this time (UTC); a slot exactly at ``until`` is included."""

    @model_validator(mode="after")
    def _check(self) -> Every:
        _check_until(self.start, self.until)
        if self.max_count is not None and self._time(self.max_count - 1) is None:
            raise ValueError(
                f"count {self.max_count} at interval {self.interval:g} s runs past the year "
                "9999; allowed: a count whose last slot is a representable datetime"
            )
        return self

    def slots(self, start_index: int = 0) -> Iterator[Slot]:
        """Yield the slots from index ``start_index``; the jump costs nothing."""
        return self._run(_check_start_index(start_index))

    def slots_from(self, when: datetime | str) -> Iterator[Slot]:
        """Yield the slots due at or after ``when``; the jump costs nothing."""
        return self._run(self._index_at_or_after(_to_utc(when, "when") - self.start))

    def count(self) -> int | None:
        """Return the number of slots, or None if unbounded."""
        bounds = [] if self.max_count is None else [self.max_count]
        if self.until is not None:
            after_until = _microseconds(self.until - self.start) + 1
            bounds.append(self._grid().first_at_least(after_until))
        return min(bounds) if bounds else None

    def _run(self, index: int) -> Iterator[Slot]:
        n = self.count()
        while n is None or index < n:
            when = self._time(index)
            if when is None:
                return
            yield Slot(index, when)
            index += 1

    def _time(self, index: int) -> datetime | None:
        try:
            return self.start + timedelta(microseconds=self._grid().offset(index))
        except OverflowError:
            return None

    def _index_at_or_after(self, elapsed: timedelta) -> int:
        return self._grid().first_at_least(_microseconds(elapsed))


class At(Schedule):
    """Slots at explicit times. See :func:`at`."""

    kind: Literal["at"] = "at"
    """The schedule's kind, for specs."""
    times: tuple[datetime, ...]
    """The slot times (UTC), sorted, distinct, at least one."""

    @field_validator("times", mode="before")
    @classmethod
    def _times(cls, value: Any) -> tuple[datetime, ...]:
        if isinstance(value, (str, date)):
            value = [value]
        if not isinstance(value, Iterable):
            raise ValueError(
                f"times {value!r} is not a list of times; allowed: datetimes or ISO 8601 strings"
            )
        given = list(value)
        if not given:
            raise ValueError("times is empty; allowed: one or more datetimes or ISO 8601 strings")
        converted = sorted(((_to_utc(t, "times"), t) for t in given), key=lambda pair: pair[0])
        for (first, original), (second, repeated) in itertools.pairwise(converted):
            if first == second:
                raise ValueError(
                    f"times contains {_isoformat(first)} twice (given as {original!r} and "
                    f"{repeated!r}); allowed: distinct instants"
                )
        return tuple(when for when, _ in converted)

    @field_serializer("times", when_used="json")
    def _serialise_times(self, value: tuple[datetime, ...]) -> list[str]:
        return [when.isoformat() for when in value]

    @property
    def is_bounded(self) -> bool:
        """Always True."""
        return True

    def slots(self, start_index: int = 0) -> Iterator[Slot]:
        """Yield the slots from index ``start_index``."""
        first = _check_start_index(start_index)
        return (Slot(i, self.times[i]) for i in range(first, len(self.times)))

    def slots_from(self, when: datetime | str) -> Iterator[Slot]:
        """Yield the slots due at or after ``when``."""
        return self.slots(bisect.bisect_left(self.times, _to_utc(when, "when")))

    def count(self) -> int:
        """Return the number of times."""
        return len(self.times)


class Daily(_Periodic):
    """Every ``interval`` of local wall-clock time inside a window each day.

    The grid of each local day is ``start_time + k * interval`` within
    ``[start_time, end_time]``; wall times that do not exist (spring forward) are
    skipped, ambiguous ones (fall back) are taken at their first occurrence. No slot
    precedes ``start`` or follows ``until``. See :func:`daily`.
    """

    kind: Literal["daily"] = "daily"
    """The schedule's kind, for specs."""
    interval: float
    """Seconds of wall-clock time between slots, no longer than the window."""
    start_time: time
    """Wall-clock opening of the daily window: the first slot of each day."""
    end_time: time
    """Wall-clock closing of the daily window, after ``start_time``; a slot if on the grid."""
    timezone: str = Field(default="local", validate_default=True)
    """IANA name of the wall clock's zone; ``"local"`` (the default) is resolved to
    this machine's zone at construction and stored by name."""
    start: datetime = Field(default_factory=lambda: datetime.now(UTC))
    """No slot before this time (UTC); the construction time if not given."""
    until: datetime | None = None
    """No slot after this time (UTC); a slot exactly at ``until`` is included."""
    max_count: int | None = Field(default=None, alias="count")
    """At most this many slots (``count`` in specs); None for no limit."""

    @field_validator("start_time", "end_time", mode="before")
    @classmethod
    def _wall_clock(cls, value: Any, info: ValidationInfo) -> time:
        return _time_of_day(value, str(info.field_name))

    @field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> str:
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

    @model_validator(mode="after")
    def _check(self) -> Daily:
        if self.end_time <= self.start_time:
            raise ValueError(
                f"end_time {self.end_time} is not after start_time {self.start_time}; "
                "allowed: a window within one day, start_time < end_time (windows across "
                "midnight are not supported)"
            )
        window = self._window()
        if self._grid().offset(1) > window:
            raise ValueError(
                f"interval {self.interval:g} s is longer than the daily window "
                f"{self.start_time}-{self.end_time} ({window / 10**6:g} s); allowed: an "
                "interval no longer than the window"
            )
        _check_until(self.start, self.until)
        if self.until is not None and self.first() is None:
            raise ValueError(
                f"daily schedule has no slot from start {_isoformat(self.start)} until "
                f"{_isoformat(self.until)}: the window {self.start_time}-{self.end_time} "
                f"{self.timezone} is never open then; allowed: a span that contains a slot"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The time zone of the wall clock."""
        return ZoneInfo(self.timezone)

    def slots(self, start_index: int = 0) -> Iterator[Slot]:
        """Yield the slots from index ``start_index``, counting whole days to get there."""
        target = _check_start_index(start_index)
        index = 0
        for day in self._days():
            if self.max_count is not None and index >= self.max_count:
                break
            n = self._day_count(day, at_most=target - index + 1)
            if index + n > target:
                return self._run(day, target, skip=target - index)
            index += n
        return iter(())

    def slots_from(self, when: datetime | str) -> Iterator[Slot]:
        """Yield the slots due at or after ``when``, counting whole days to get there."""
        threshold = _to_utc(when, "when")
        last_day = _local_date(threshold, self.zone)
        index = 0
        for day in self._days():
            if self.max_count is not None and index >= self.max_count:
                break
            if day >= last_day:
                skip = self._day_count(day, before=threshold) if day == last_day else 0
                return self._run(day, index + skip, skip=skip)
            index += self._day_count(day)
        return iter(())

    def count(self) -> int | None:
        """Return the number of slots, or None if unbounded."""
        if not self.is_bounded:
            return None
        total = 0
        for day in self._days():
            total += self._day_count(day)
            if self.max_count is not None and total >= self.max_count:
                return self.max_count
        return total

    def _window(self) -> int:
        """The window's length in microseconds of wall-clock time."""
        day = date(2000, 1, 1)
        wall = datetime.combine(day, self.end_time) - datetime.combine(day, self.start_time)
        return _microseconds(wall)

    def _days(self, first: date | None = None) -> Iterator[date]:
        """Yield the local dates whose window may hold slots, from ``first``."""
        zone = self.zone
        day = max(first or _local_date(self.start, zone), _FIRST_DAY)
        last = _LAST_DAY if self.until is None else _local_date(self.until, zone)
        while day <= min(last, _LAST_DAY):
            yield day
            day += timedelta(days=1)

    def _run(self, day: date, index: int, skip: int) -> Iterator[Slot]:
        """Yield slots from ``day``'s slot number ``skip``, which has ``index``."""
        for current in self._days(day):
            for when in self._day_times(current, skip):
                if self.max_count is not None and index >= self.max_count:
                    return
                yield Slot(index, when)
                index += 1
            skip = 0

    def _regular_base(self, day: date) -> datetime | None:
        """Return the UTC time of ``day``'s opening if the window has a single UTC offset."""
        zone = self.zone
        opening = datetime.combine(day, self.start_time)
        closing = datetime.combine(day, self.end_time)
        offsets = {
            zone.utcoffset(wall.replace(fold=f)) for wall in (opening, closing) for f in (0, 1)
        }
        if len(offsets) != 1:
            return None
        (offset,) = offsets
        assert offset is not None
        return (opening - offset).replace(tzinfo=UTC)

    def _k_range(self, base: datetime) -> tuple[int, int]:
        """Return the grid steps ``low..high`` of a regular day inside start and until."""
        grid = self._grid()
        low = grid.first_at_least(_microseconds(self.start - base))
        high = grid.first_at_least(self._window() + 1) - 1
        if self.until is not None:
            after_until = _microseconds(self.until - base) + 1
            high = min(high, grid.first_at_least(after_until) - 1)
        return low, high

    def _day_count(
        self, day: date, before: datetime | None = None, at_most: int | None = None
    ) -> int:
        """Return the number of ``day``'s slots (only those earlier than ``before``).

        With ``at_most``, counting stops there: a day with a UTC offset change in its
        window is counted slot by slot.
        """
        base = self._regular_base(day)
        if base is None:
            times = (t for t in self._day_times(day) if before is None or t < before)
            return sum(1 for _ in islice(times, at_most))
        low, high = self._k_range(base)
        if before is not None:
            below = self._grid().first_at_least(_microseconds(before - base))
            high = min(high, below - 1)
        count = max(0, high - low + 1)
        return count if at_most is None else min(count, at_most)

    def _day_times(self, day: date, skip: int = 0) -> Iterator[datetime]:
        """Yield ``day``'s slot times, less the first ``skip`` of them."""
        grid = self._grid()
        base = self._regular_base(day)
        if base is not None:
            low, high = self._k_range(base)
            for k in range(low + skip, high + 1):
                yield base + timedelta(microseconds=grid.offset(k))
            return
        zone = self.zone
        opening = datetime.combine(day, self.start_time)
        window = self._window()
        for k in range(grid.first_at_least(window + 1)):
            wall = opening + timedelta(microseconds=grid.offset(k))
            # fold=0: an ambiguous wall time is taken at its first occurrence only
            when = wall.replace(tzinfo=zone).astimezone(UTC)
            if when.astimezone(zone).replace(tzinfo=None) != wall:
                continue  # in the spring-forward gap: this wall time does not exist
            if when < self.start or (self.until is not None and when > self.until):
                continue
            if skip:
                skip -= 1
                continue
            yield when


class Union(Schedule):
    """Several schedules merged in time order; slots at one instant are one slot.

    Indices number the merged sequence. See :func:`union`.
    """

    kind: Literal["union"] = "union"
    """The schedule's kind, for specs."""
    schedules: tuple[AnySchedule, ...]
    """The merged schedules, at least one."""

    @field_validator("schedules", mode="before")
    @classmethod
    def _schedules(cls, value: Any) -> list[Any]:
        if isinstance(value, (Schedule, dict, str)):
            value = [value]
        if not isinstance(value, Iterable):
            raise ValueError(
                f"schedules {value!r} is not a list of schedules; allowed: schedules or specs"
            )
        given = list(value)
        if not given:
            raise ValueError("schedules is empty; allowed: one or more schedules")
        for i, item in enumerate(given):
            if not isinstance(item, (Schedule, dict, str)):
                raise ValueError(
                    f"schedules[{i}] {_shorten(item)} is not a schedule; allowed: a Schedule, "
                    "a dict with a 'kind' or its JSON string"
                )
        return [schedule_from_spec(item) if isinstance(item, str) else item for item in given]

    @property
    def is_bounded(self) -> bool:
        """Whether every merged schedule is bounded."""
        return all(schedule.is_bounded for schedule in self.schedules)

    def slots(self, start_index: int = 0) -> Iterator[Slot]:
        """Yield the merged slots from index ``start_index`` (iterates up to it)."""
        return islice(self._merged(), _check_start_index(start_index), None)

    def _merged(self) -> Iterator[Slot]:
        streams = (schedule.slots() for schedule in self.schedules)
        previous = None
        index = 0
        for slot in heapq.merge(*streams, key=lambda slot: slot.time):
            if slot.time != previous:
                yield Slot(index, slot.time)
                previous = slot.time
                index += 1


AnySchedule: TypeAlias = Annotated[Every | At | Daily | Union, Field(discriminator="kind")]
Union.model_rebuild()
_SPEC = TypeAdapter(AnySchedule)


def every(
    interval: str | float | timedelta,
    count: int | None = None,
    until: datetime | str | None = None,
    start: datetime | str | None = None,
) -> Every:
    """Return a schedule with a slot every ``interval``.

    Parameters
    ----------
    interval
        Time between slots: seconds, a timedelta or a string such as ``"10m"``
        (see :func:`parse_duration`); at least a microsecond.
    count
        The number of slots (>= 1). Without ``count`` and ``until``: unbounded.
    until
        No slot after this time; a slot exactly at ``until`` is included. Naive =
        local time. May be combined with ``count``: whichever ends first.
    start
        The first slot (naive = local time); None means now. It is stored, so the
        schedule is the same after a JSON round trip.

    Raises
    ------
    ValueError
        For a non-positive or unparseable interval, ``count < 1``, or ``until``
        before ``start``.
    """
    return _build(Every, interval=interval, count=count, until=until, start=start)


def at(*times: datetime | str | Iterable[datetime | str]) -> At:
    """Return a schedule with slots at explicit times.

    Parameters
    ----------
    *times
        Datetimes or ISO 8601 strings, or one iterable of them. Naive times are the
        machine's local time. They are stored in UTC, sorted.

    Raises
    ------
    ValueError
        If there are no times, one is not a date and time, or two are the same
        instant (the message names it).
    """
    if len(times) == 1 and not isinstance(times[0], (str, datetime, date)):
        return _build(At, times=times[0])
    return _build(At, times=times)


def daily(
    interval: str | float | timedelta,
    between: tuple[time | str, time | str] = ("06:00", "20:00"),
    timezone: str = "local",
    start: datetime | str | None = None,
    until: datetime | str | None = None,
    count: int | None = None,
) -> Daily:
    """Return a schedule with a slot every ``interval`` inside a daily window.

    Parameters
    ----------
    interval
        Wall-clock time between slots, as for :func:`every`; no longer than the window.
    between
        The window's opening and closing wall-clock times, ``"HH:MM[:SS]"`` or
        :class:`~datetime.time`, opening < closing. The opening is always a slot;
        the closing is one when it falls on the grid.
    timezone
        IANA name of the wall clock's zone; ``"local"`` is resolved now to the
        machine's zone (``"UTC"`` if it has no name) and stored.
    start
        No slot before this time (naive = local time); None means now, so the first
        slot is the next grid time of today's or a later window.
    until
        No slot after this time (naive = local time); included if on the grid.
    count
        The number of slots (>= 1). Without ``count`` and ``until``: unbounded.

    Raises
    ------
    ValueError
        For an unparseable or non-positive interval, one longer than the window, a
        closing not after the opening, an unknown time zone, ``until`` before
        ``start``, no slot between them, or ``count < 1``.
    """
    if isinstance(between, (str, time)) or not isinstance(between, Sequence) or len(between) != 2:
        raise ValueError(
            f"between {between!r} is not a pair of times; allowed: (start_time, end_time), "
            "e.g. ('06:00', '20:00')"
        )
    return _build(
        Daily,
        interval=interval,
        start_time=between[0],
        end_time=between[1],
        timezone=timezone,
        start=start,
        until=until,
        count=count,
    )


def union(*schedules: Schedule | dict[str, Any] | str) -> Union:
    """Return the schedules merged in time order, slots at one instant collapsed.

    Parameters
    ----------
    *schedules
        Schedules, or specs of them (see :func:`schedule_from_spec`); at least one.

    Raises
    ------
    ValueError
        If no schedule is given or a spec is invalid.
    """
    return _build(Union, schedules=schedules)


def schedule_from_spec(spec: Schedule | dict[str, Any] | str) -> Schedule:
    """Return the schedule a spec describes.

    Parameters
    ----------
    spec
        A :class:`Schedule` (returned as is); a dict with a ``kind`` from
        :data:`KINDS` and that schedule's fields, durations as strings or seconds
        and times as ISO 8601 strings, e.g. ``{"kind": "every", "interval": "10m",
        "count": 5}``; or such a dict as a JSON string (:meth:`Schedule.to_json`).

    Raises
    ------
    ValueError
        For invalid JSON, an unknown or missing ``kind``, or invalid fields; the
        message names the field and what is allowed.
    """
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"schedule spec {_shorten(spec)} is not valid JSON ({err.msg} at position "
                f"{err.pos}); allowed: a JSON object such as "
                '\'{"kind": "every", "interval": "10m"}\''
            ) from None
    if not isinstance(spec, dict):
        raise ValueError(
            f"schedule spec {_shorten(spec)} is not a schedule; allowed: a Schedule, a dict "
            f"with a 'kind' ({', '.join(KINDS)}) or its JSON string"
        )
    try:
        schedule: Schedule = _SPEC.validate_python(spec)
    except ValidationError as err:
        raise ValueError(_describe(err)) from None
    return schedule


def _build(model: type[_S], **fields: Any) -> _S:
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as err:
        raise ValueError(_describe(err)) from None


def _describe(err: ValidationError) -> str:
    """Turn pydantic's errors into one sentence per problem, each naming its field."""
    problems = []
    for error in err.errors():
        kind, ctx = error["type"], error.get("ctx", {})
        path = _path(error["loc"])
        field = path.pop().lstrip(".") if path and not path[-1].startswith("[") else None
        if kind == "value_error":
            problem = str(ctx["error"])  # our own messages name their field
        elif kind == "union_tag_invalid":
            problem = f"schedule kind {ctx['tag']!r} is not known; allowed: {', '.join(KINDS)}"
        elif kind == "union_tag_not_found":
            problem = f"schedule spec has no 'kind'; allowed: {', '.join(KINDS)}"
        elif kind == "missing":
            problem = f"{field} is required"
        elif kind == "extra_forbidden":
            problem = f"{field} is not a field of this schedule; check its spelling"
        else:
            problem = f"{field or 'schedule'} {_shorten(error['input'])}: {error['msg']}"
        problems.append(f"{''.join(path)}: {problem}" if path else problem)
    return "; ".join(problems)


def _path(loc: tuple[int | str, ...]) -> list[str]:
    """Return an error's location, less the ``kind`` tags pydantic inserts."""
    parts: list[str] = []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif not (part in KINDS and (i == 0 or isinstance(loc[i - 1], int))):
            parts.append(part if not parts else f".{part}")
    return parts


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


def _parse_count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"count {value!r} is not an integer >= 1; allowed: a number of slots >= 1, or "
            "None for no limit"
        )
    return int(value)


def _to_utc(value: Any, name: str) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are local time."""
    when: datetime | None = None
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            when = None
    if when is None:
        raise ValueError(f"{name} {value!r} is not a date and time; allowed: {_DATETIME_SYNTAX}")
    if when.tzinfo is None or when.utcoffset() is None:
        when = when.replace(tzinfo=tzlocal.get_localzone())
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{name} {value!r} is out of range: in UTC it falls before the year 1 or after "
            f"the year 9999; allowed: {_DATETIME_SYNTAX}, between those years in UTC"
        ) from None


def _local_date(when: datetime, zone: ZoneInfo) -> date:
    """Return ``when``'s date in ``zone``; past an end of the datetime range, that end."""
    try:
        return when.astimezone(zone).date()
    except OverflowError:
        return date.min if when.year == 1 else date.max


def _time_of_day(value: Any, name: str) -> time:
    clock: time | None = None
    if isinstance(value, time):
        clock = value
    elif isinstance(value, str):
        try:
            clock = time.fromisoformat(value.strip())
        except ValueError:
            clock = None
    if clock is None or clock.tzinfo is not None:
        raise ValueError(
            f"{name} {value!r} is not a wall-clock time; allowed: 'HH:MM' or 'HH:MM:SS' "
            "(e.g. '06:00') or a datetime.time without tzinfo (the zone is timezone's)"
        )
    return clock


def _check_until(start: datetime, until: datetime | None) -> None:
    if until is not None and until < start:
        raise ValueError(
            f"until {_isoformat(until)} is before start {_isoformat(start)}; allowed: an "
            "until at or after start"
        )


def _local_zone_name() -> str:
    try:
        name = tzlocal.get_localzone_name()
        if name:
            ZoneInfo(name)
            return name
    except (ValueError, OSError, LookupError):
        pass
    return "UTC"


def _check_start_index(start_index: int) -> int:
    if isinstance(start_index, bool) or not isinstance(start_index, int) or start_index < 0:
        raise ValueError(f"start_index {start_index!r} is not an integer >= 0")
    return start_index


class _Grid(NamedTuple):
    """Offsets ``round(k * interval)`` in whole microseconds, exact and drift-free.

    The interval is ``numerator / denominator`` microseconds, at least 1; offsets
    round half to even, as :func:`round` does.
    """

    numerator: int
    denominator: int

    def offset(self, k: int) -> int:
        """Return ``round(k * interval)`` in microseconds."""
        quotient, remainder = divmod(k * self.numerator, self.denominator)
        twice = 2 * remainder
        if twice > self.denominator or (twice == self.denominator and quotient % 2):
            quotient += 1
        return quotient

    def first_at_least(self, target: int) -> int:
        """Return the smallest ``k >= 0`` whose offset is at least ``target``."""
        if target <= 0:
            return 0
        k = max(0, target * self.denominator // self.numerator - 1)
        while self.offset(k) < target:  # at most a few steps: the interval is >= 1 us
            k += 1
        return k


@lru_cache(maxsize=64)
def _grid(interval: float) -> _Grid:
    numerator, denominator = interval.as_integer_ratio()
    return _Grid(numerator * 10**6, denominator)


def _microseconds(delta: timedelta) -> int:
    return (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds


def _isoformat(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _shorten(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
