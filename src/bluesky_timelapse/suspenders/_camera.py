"""A stale camera: a signal that has not updated for too long."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Unpack

from ophyd.signal import Signal

from ._base import PollingSuspender, SuspenderOptions, check_seconds


class SuspendStaleCamera(PollingSuspender):
    """Suspend while a camera signal has not updated for more than ``max_age`` seconds.

    The age counts from the signal's last value update (noted through its
    subscription) or, before the first one, from its ``timestamp``. The plan
    resumes at the next update.

    Watch a signal that updates without the plan's help: a free-running camera's
    frame or frame counter, a heartbeat. A camera that updates only when the plan
    triggers it is quiet between slots, and once that trips the suspender nothing
    would ever update it again: the plan would be held for good. If such a
    signal is all there is, make ``max_age`` longer than the longest gap between
    two frames, suspensions by other suspenders included.

    Parameters
    ----------
    signal
        An ophyd v1 signal that updates with every new frame, e.g. ``camera.image``.
    max_age
        Seconds without an update that count as stale, > 0.
    poll_interval
        Seconds between checks, > 0.
    clock
        Returns the current time in seconds since the epoch; default :func:`time.time`.
    **options
        ``sleep``, ``pre_plan``, ``post_plan``, ``tripped_message``, ``log``; see
        :class:`SuspenderOptions`.
    """

    def __init__(
        self,
        signal: Signal,
        *,
        max_age: float,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        **options: Unpack[SuspenderOptions],
    ) -> None:
        check_seconds("max_age", max_age)
        self.watched = signal
        self.max_age = float(max_age)
        self._clock = clock
        self._last_update = clock()
        self._last_gap = 0.0
        self._camera_subscription: int | None = None
        super().__init__(poll_interval=poll_interval, signal_name=f"{signal.name}_age", **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.watched.name!r}, max_age={self.max_age:g})"

    def measure(self) -> float:
        """Seconds since the watched signal last updated."""
        return self._clock() - self._last_update

    def _on_install(self) -> None:
        timestamp = getattr(self.watched, "timestamp", None)
        if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
            self._last_update = float(timestamp)
        else:
            self._last_update = self._clock()
        self._camera_subscription = self.watched.subscribe(
            self._note_update, event_type=self.watched.SUB_VALUE, run=False
        )

    def _on_remove(self) -> None:
        if self._camera_subscription is not None:
            self.watched.unsubscribe(self._camera_subscription)
            self._camera_subscription = None

    def _note_update(self, **kwargs: Any) -> None:
        now = self._clock()
        self._last_gap, self._last_update = now - self._last_update, now
        if self.signal.polling:
            self.signal.poll()  # resume at once, not at the next poll

    def _should_suspend(self, value: float) -> bool:
        return value > self.max_age

    def _should_resume(self, value: float) -> bool:
        return value <= self.max_age

    def _suspend_reason(self, value: float) -> str:
        return (
            f"{self.watched.name} has not updated for {value:.1f} s, longer than the "
            f"{self.max_age:g} s maximum"
        )

    def _resume_reason(self, value: float) -> str:
        return f"{self.watched.name} updated again after {self._last_gap:.1f} s"
