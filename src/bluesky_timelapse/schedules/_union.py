"""Several schedules merged in time order: :func:`union`, whose members are any kind."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import Field, TypeAdapter, ValidationError, field_validator

from ._at import At
from ._base import Schedule, Slot, _build, _check_start_index, _describe, _shorten, _spec_data
from ._daily import Daily
from ._every import Every

__all__ = ["Union", "union"]


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
        return [
            _from_spec_data(_spec_data(item)) if isinstance(item, str) else item for item in given
        ]

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
"""A schedule of any kind, told apart by its ``kind``."""
Union.model_rebuild()
_SPEC = TypeAdapter(AnySchedule)


def _from_spec_data(spec: dict[str, Any]) -> Schedule:
    """Return the schedule of any kind that a spec dict describes."""
    try:
        schedule: Schedule = _SPEC.validate_python(spec)
    except ValidationError as err:
        raise ValueError(_describe(err)) from None
    return schedule


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
