"""When the slots of a timelapse are due: schedules as validated, immutable data.

A schedule is a frozen pydantic model that yields its slots lazily, so an unbounded
schedule costs nothing until it is iterated. Every slot has a stable 0-based index
and a timezone-aware UTC time, strictly increasing. Schedules serialise to JSON
(:meth:`Schedule.to_json`) and come back with :func:`schedule_from_spec`, exactly.

Build them with the constructor functions:

- :func:`every`: a fixed interval, bounded by ``count`` and/or ``until``, or not at all;
- :func:`at`: explicit times;
- :func:`daily`: a wall-clock grid inside a window each day, safe across DST changes;
  a window whose closing is before its opening runs past midnight into the next day;
- :func:`union`: several schedules merged, with slots at the same instant collapsed.

Durations are seconds, :class:`~datetime.timedelta` or strings such as ``"1h30m"``
(:func:`parse_duration`). Naive datetimes are the machine's local time
(``tzlocal``); every stored datetime is UTC. Slots past the year 9999 do not exist:
an unbounded schedule ends there (a daily one on the day before the last, and it has
no slot on the first day of the year 1).

Schedules are pure data: this package imports nothing of Bluesky or ophyd.

Examples
--------
>>> from datetime import UTC, datetime
>>> schedule = every("10m", count=3, start=datetime(2026, 5, 1, 6, 0, tzinfo=UTC))
>>> [slot.time.strftime("%H:%M") for slot in schedule.slots()]
['06:00', '06:10', '06:20']
>>> schedule_from_spec(schedule.to_json()) == schedule
True
"""

from ._at import At, at
from ._base import KINDS, Schedule, Slot
from ._daily import Daily, daily
from ._durations import DURATION_SYNTAX, parse_duration
from ._every import Every, every
from ._spec import schedule_from_spec
from ._union import Union, union

__all__ = [
    "DURATION_SYNTAX",
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
