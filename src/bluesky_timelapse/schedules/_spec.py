"""A schedule from its spec: :func:`schedule_from_spec`, the inverse of ``to_dict``."""

from __future__ import annotations

from typing import Any

from ._base import Schedule, _spec_data
from ._union import _from_spec_data

__all__ = ["schedule_from_spec"]


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
    return _from_spec_data(_spec_data(spec))
