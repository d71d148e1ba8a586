"""Slots at explicit times: :func:`at`."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any, Literal

from pydantic import field_serializer, field_validator

from ._base import Schedule, Slot, _build, _check_start_index
from ._times import _isoformat, _to_utc

__all__ = ["At", "at"]


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
