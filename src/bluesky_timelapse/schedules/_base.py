"""What every schedule is: :class:`Slot`, :class:`Schedule`, and reading specs.

A schedule yields its slots lazily, each with a stable 0-based index and a
timezone-aware UTC time, strictly increasing; it serialises to JSON with its
``kind``. The helpers here read a spec's JSON text and turn pydantic's errors into
one sentence per problem, for every kind.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterator
from datetime import datetime
from itertools import dropwhile
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ._times import _to_utc

__all__ = ["KINDS", "Schedule", "Slot"]

KINDS: tuple[str, ...] = ("every", "at", "daily", "union")
"""The values of ``kind`` that :func:`schedule_from_spec` understands."""

_S = TypeVar("_S", bound="Schedule")


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


def _check_start_index(start_index: int) -> int:
    if isinstance(start_index, bool) or not isinstance(start_index, int) or start_index < 0:
        raise ValueError(f"start_index {start_index!r} is not an integer >= 0")
    return start_index


def _spec_data(spec: Any) -> dict[str, Any]:
    """Return a spec that is not a :class:`Schedule` as a dict: JSON text is decoded."""
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
    return spec


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


def _shorten(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
