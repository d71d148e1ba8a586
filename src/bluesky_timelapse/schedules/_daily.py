"""A wall-clock grid inside a window each day: :func:`daily`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, ValidationInfo, field_validator, model_validator

from .._checks import check_time_of_day, check_time_zone
from ._base import Slot, _build, _check_start_index
from ._grid import _microseconds
from ._periodic import _Periodic
from ._times import _check_until, _isoformat, _local_date, _to_utc

__all__ = ["Daily", "daily"]

# Daily windows open and close on these days and between them only: keeps their UTC
# conversions in range.
_FIRST_DAY = date.min + timedelta(days=1)
_LAST_DAY = date.max - timedelta(days=1)


class Daily(_Periodic):
    """Every ``interval`` of local wall-clock time inside a window each day.

    The grid of each local day is ``start_time + k * interval`` within
    ``[start_time, end_time]``; an ``end_time`` before ``start_time`` is on the next
    day, so the window runs past midnight. Wall times that do not exist (spring
    forward) are skipped, ambiguous ones (fall back) are taken at their first
    occurrence. No slot precedes ``start`` or follows ``until``. See :func:`daily`.
    """

    kind: Literal["daily"] = "daily"
    """The schedule's kind, for specs."""
    interval: float
    """Seconds of wall-clock time between slots, no longer than the window."""
    start_time: time
    """Wall-clock opening of the daily window: the first slot of each day."""
    end_time: time
    """Wall-clock closing of the daily window, a slot if on the grid; before ``start_time``:
    on the next day."""
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
        return check_time_of_day(str(info.field_name), value)

    @field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> str:
        return check_time_zone(value)

    @model_validator(mode="after")
    def _check(self) -> Daily:
        if self.end_time == self.start_time:
            raise ValueError(
                f"end_time {self.end_time} is start_time {self.start_time}, an empty window; "
                "allowed: two different times (an end_time before start_time runs past "
                "midnight into the next day)"
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
        first_open = self._first_open(last_day)
        index = 0
        for day in self._days():
            if self.max_count is not None and index >= self.max_count:
                break
            if day >= first_open:
                skip = self._day_count(day, before=threshold) if day <= last_day else 0
                if day < last_day and skip == self._day_count(day):
                    index += skip  # the window that opened the day before closed earlier
                    continue
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

    def _past_midnight(self) -> int:
        """Return 1 if the window closes on the day after it opens, else 0."""
        return int(self.end_time < self.start_time)

    def _closing(self, day: date) -> datetime:
        """Return the wall-clock closing of the window that opens on ``day``."""
        return datetime.combine(day + timedelta(days=self._past_midnight()), self.end_time)

    def _window(self) -> int:
        """The window's length in microseconds of wall-clock time."""
        day = date(2000, 1, 1)
        return _microseconds(self._closing(day) - datetime.combine(day, self.start_time))

    def _first_open(self, day: date) -> date:
        """Return the first day whose window may still be open on local ``day``."""
        return day - timedelta(days=1) if self._past_midnight() and day > _FIRST_DAY else day

    def _days(self, first: date | None = None) -> Iterator[date]:
        """Yield the local dates whose window (opening that day) may hold slots."""
        zone = self.zone
        day = max(first or self._first_open(_local_date(self.start, zone)), _FIRST_DAY)
        last = _LAST_DAY - timedelta(days=self._past_midnight())
        if self.until is not None:
            last = min(last, _local_date(self.until, zone))
        while day <= last:
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
        closing = self._closing(day)
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
        :class:`~datetime.time`, different. A closing before the opening is on the
        next day: ``("22:00", "02:00")`` runs past midnight. The opening is always a
        slot; the closing is one when it falls on the grid.
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
        closing equal to the opening, an unknown time zone, ``until`` before
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
