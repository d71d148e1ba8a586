"""What :class:`Every` and :class:`Daily` share: an interval, a start, and two bounds."""

from __future__ import annotations

import numbers
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationInfo, field_serializer, field_validator

from ._base import Schedule
from ._durations import _parse_interval
from ._grid import _Grid, _grid
from ._times import _isoformat, _to_utc


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


def _parse_count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(
            f"count {value!r} is not an integer >= 1; allowed: a number of slots >= 1, or "
            "None for no limit"
        )
    return int(value)
