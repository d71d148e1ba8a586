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

CHECKPOINT_INTERVAL = 1.0
"""Seconds between checkpoints during a wait: a deferred pause (one Ctrl-C) takes
effect within this time, and the wall clock is re-read at least this often, so a
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
        A ``checkpoint`` and a ``wait_for`` message at least every
        :data:`CHECKPOINT_INTERVAL` seconds. The ``wait_for`` awaitable is made anew
        each time the RunEngine plays it, so a replay after a suspension or pause
        waits only for the time that remains.

    Raises
    ------
    ValueError
        If ``when`` is a naive datetime (its time zone would be a guess).
    """
    deadline = _timestamp(when)
    while (now := time.time()) < deadline:
        yield from bps.checkpoint()
        yield from bps.wait_for([_sleeper(min(deadline, now + CHECKPOINT_INTERVAL))])


def seconds_until(when: datetime | float) -> float:
    """Seconds from now until ``when`` (negative if it is past)."""
    return _timestamp(when) - time.time()


def _sleeper(deadline: float) -> Callable[[], Awaitable[None]]:
    async def sleep_until_deadline() -> None:
        while (remaining := deadline - time.time()) > 0:
            await asyncio.sleep(remaining)

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
