"""A slot every fixed interval of real (UTC) time: :func:`every`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field, model_validator

from ._base import Slot, _build, _check_start_index
from ._grid import _microseconds
from ._periodic import _Periodic
from ._times import _check_until, _to_utc

__all__ = ["Every", "every"]


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
