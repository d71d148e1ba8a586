"""Outside a daily window: the time of day on a time zone's wall clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as time_of_day
from typing import Unpack
from zoneinfo import ZoneInfo

from .._checks import check_time_of_day, check_time_zone
from ._base import PollingSuspender, SuspenderOptions


@dataclass(frozen=True)
class DailyWindow:
    """A time window that recurs every day on the wall clock of a time zone.

    ``start`` is inside the window, ``end`` is not; an ``end`` before ``start``
    spans midnight. Comparing wall-clock times in the zone keeps the window
    right across daylight-saving changes: on the day clocks skip past ``start``,
    the window opens at the first time after it.

    Attributes
    ----------
    start, end
        Wall-clock times (naive).
    zone
        The time zone of the wall clock.
    """

    start: time_of_day
    end: time_of_day
    zone: ZoneInfo

    @classmethod
    def parse(cls, between: Sequence[str | time_of_day], timezone: str = "local") -> DailyWindow:
        """Read ``("06:00", "20:00")`` and ``"Europe/Berlin"`` (or ``"local"``).

        Raises
        ------
        ValueError
            If ``between`` is not a pair of different times, or the zone is unknown.
        """
        if isinstance(between, str) or not isinstance(between, Sequence) or len(between) != 2:
            raise ValueError(
                f"between {between!r} is invalid; allowed: a pair of times (start, end) "
                "such as ('06:00', '20:00')"
            )
        start, end = (
            check_time_of_day(name, value)
            for name, value in zip(("start", "end"), between, strict=True)
        )
        if start == end:
            raise ValueError(
                f"between {tuple(between)!r} is an empty window; allowed: two different "
                "times (an end earlier than the start spans midnight)"
            )
        return cls(start, end, ZoneInfo(check_time_zone(timezone)))

    def local(self, when: datetime) -> datetime:
        """``when`` on this window's wall clock (a naive ``when`` is taken as that already)."""
        if when.tzinfo is None:
            return when.replace(tzinfo=self.zone)
        return when.astimezone(self.zone)

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` falls inside the window."""
        clock = self.local(when).time()
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def __str__(self) -> str:
        return f"from {_hhmm(self.start)} to {_hhmm(self.end)} ({self.zone.key})"


def _hhmm(value: time_of_day) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


class SuspendOutsideWindow(PollingSuspender):
    """Suspend outside a daily time window, e.g. to image only by daylight.

    The plan is held from ``end`` and resumes within ``poll_interval`` seconds of
    the next ``start``.

    Parameters
    ----------
    between
        ``(start, end)`` as ``"HH:MM"`` or ``"HH:MM:SS"`` (or :class:`datetime.time`);
        ``end`` before ``start`` spans midnight, e.g. ``("20:00", "06:00")`` for nights.
    timezone
        ``"local"`` (the machine's zone) or an IANA name such as ``"Europe/Berlin"``.
    poll_interval
        Seconds between checks of the clock, > 0.
    now
        Returns the current time as an aware :class:`~datetime.datetime` (a naive
        one is read in ``timezone``); default: the system clock.
    **options
        ``sleep``, ``pre_plan``, ``post_plan``, ``tripped_message``, ``log``; see
        :class:`SuspenderOptions`.

    Raises
    ------
    ValueError
        If the window or the time zone is invalid.
    """

    def __init__(
        self,
        between: Sequence[str | time_of_day] = ("06:00", "20:00"),
        *,
        timezone: str = "local",
        poll_interval: float = 10.0,
        now: Callable[[], datetime] | None = None,
        **options: Unpack[SuspenderOptions],
    ) -> None:
        self.window = DailyWindow.parse(between, timezone)
        self._now = now if now is not None else _utc_now
        super().__init__(poll_interval=poll_interval, signal_name="local_time", **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.window})"

    def measure(self) -> datetime:
        """The current time on the window's wall clock."""
        return self.window.local(self._now())

    def _should_suspend(self, value: datetime) -> bool:
        return not self.window.contains(value)

    def _should_resume(self, value: datetime) -> bool:
        return self.window.contains(value)

    def _suspend_reason(self, value: datetime) -> str:
        return (
            f"it is {value:%H:%M:%S} in {self.window.zone.key}, outside the daily window "
            f"{self.window}; waiting until {_hhmm(self.window.start)}"
        )

    def _resume_reason(self, value: datetime) -> str:
        return (
            f"it is {value:%H:%M:%S} in {self.window.zone.key}, inside the daily window "
            f"{self.window}"
        )


def _utc_now() -> datetime:
    return datetime.now(UTC)
