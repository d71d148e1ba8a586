"""Plan stubs for schedules that must not drift.

bluesky's ``sleep`` message carries a duration: when a suspension or a pause
rewinds the plan to its last checkpoint, the RunEngine replays the message and the
whole duration is slept again, so every suspension pushes the rest of a schedule
later. :func:`wait_until` carries a deadline instead, and works out what is left
each time the RunEngine (re)plays it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import bluesky.plan_stubs as bps
from bluesky.utils import MsgGenerator

MAX_SLEEP_CHUNK = 30.0
"""Longest single sleep (s): the wall clock is re-read at least this often, so a
clock step (NTP, a resumed laptop) cannot push a wake-up far from its time."""


def wait_until(when: datetime | float) -> MsgGenerator[None]:
    """Wait until the absolute time ``when``; after a pause, only what is left.

    Parameters
    ----------
    when
        A timezone-aware datetime, or a Unix timestamp (seconds). A time in the
        past returns at once.

    Yields
    ------
    Msg
        One ``wait_for`` message whose awaitable is made anew each time the
        RunEngine plays it, so a replay after a suspension or pause waits only
        for the time that remains.

    Raises
    ------
    ValueError
        If ``when`` is a naive datetime (its time zone would be a guess).
    """
    deadline = _timestamp(when)
    yield from bps.wait_for([_sleeper(deadline)])


def seconds_until(when: datetime | float) -> float:
    """Seconds from now until ``when`` (negative if it is past)."""
    return _timestamp(when) - time.time()


def _sleeper(deadline: float) -> Callable[[], Awaitable[None]]:
    async def sleep_until_deadline() -> None:
        while (remaining := deadline - time.time()) > 0:
            await asyncio.sleep(min(remaining, MAX_SLEEP_CHUNK))

    return sleep_until_deadline


def _timestamp(when: datetime | float) -> float:
    if isinstance(when, datetime):
        if when.tzinfo is None:
            raise ValueError(
                f"time {when.isoformat()} has no time zone; allowed: a timezone-aware "
                "datetime or a Unix timestamp"
            )
        return when.timestamp()
    return float(when)
