"""Suspenders for long timelapses: low disk space, a stale camera, outside a daily window,
a Tiled backlog.

A bluesky suspender watches an ophyd signal and holds the plan while the signal
says so. The suspenders here watch a :class:`PollingSignal`, which measures
something (free space, the age of the latest frame, the local time) now and then
every ``poll_interval`` seconds on a daemon thread, and they close two gaps that
bluesky's own suspenders leave open in long plans:

- **Already bad when installed.** bluesky's :class:`~bluesky.suspenders.SuspenderBase`
  learns the current value through ophyd's ``subscribe(..., run=True)``, which
  replays the last update the signal *emitted*. A signal that has emitted none
  since it was created (e.g. ``Signal(value=1)``) replays nothing, so the suspender
  does not trip and the plan runs. Ours measure while being installed, before
  subscribing, so the plan is held before its first message.
- **Turned bad while the RunEngine was paused.** bluesky asks the RunEngine to
  suspend only at the moment of the trip and only if it is running then; a trip
  while it is paused is never asked again, so ``RE.resume()`` carries on
  regardless. Ours measure again when ``RE.resume()`` is called and suspend
  before the plan goes on; any other trip the RunEngine could not hear (e.g.
  while another suspender was suspending it) is asked again at the next poll.

Every suspension is announced to a :class:`SuspensionLog` (by default the
module's :data:`suspension_log`), with the reason, at the moment the RunEngine
starts waiting and at the moment it stops.

Examples
--------
>>> RE.install_suspender(SuspendLowDiskSpace("/data", min_free="5GB"))  # doctest: +SKIP
>>> RE.install_suspender(SuspendStaleCamera(camera.image, max_age=900))  # doctest: +SKIP
>>> RE.install_suspender(SuspendOutsideWindow(("06:00", "20:00")))  # doctest: +SKIP
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import itertools
import logging
import math
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as time_of_day
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bluesky.suspenders import SuspenderBase
from ophyd.signal import Signal, SignalRO

if TYPE_CHECKING:
    from bluesky import RunEngine

__all__ = [
    "DailyWindow",
    "DiskUsage",
    "PollingSignal",
    "PollingSuspender",
    "SpaceThreshold",
    "SuspendLowDiskSpace",
    "SuspendOutsideWindow",
    "SuspendStaleCamera",
    "SuspendWhenTiledBacklog",
    "SuspensionCallback",
    "SuspensionEvent",
    "SuspensionLog",
    "format_size",
    "suspension_log",
]

logger = logging.getLogger(__name__)

SuspensionEvent = Literal["suspended", "resumed"]
"""What happened to the RunEngine, which started or stopped waiting for a suspender."""

SuspensionCallback = Callable[[SuspensionEvent, str, datetime], None]
"""``callback(event, reason, when)``; ``when`` is timezone-aware UTC."""


class SuspensionLog:
    """Tells its subscribers when a RunEngine suspends and resumes, and why.

    Callbacks are called as ``callback(event, reason, when)`` with ``event``
    ``"suspended"`` or ``"resumed"``, a human sentence ``reason``, and ``when`` the
    timezone-aware UTC time. The suspenders here call them on the RunEngine's
    event-loop thread, while the RunEngine waits: keep them short and never
    call the RunEngine from them. A callback that raises is logged and skipped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callbacks: dict[int, SuspensionCallback] = {}
        self._tokens = itertools.count()

    def subscribe(self, callback: SuspensionCallback) -> int:
        """Call ``callback`` on every suspension and resumption; return a token."""
        if not callable(callback):
            raise ValueError(f"callback {callback!r} is not callable; allowed: a callable")
        with self._lock:
            token = next(self._tokens)
            self._callbacks[token] = callback
        return token

    def unsubscribe(self, token: int) -> None:
        """Stop calling the callback of ``token``; an unknown token is ignored."""
        with self._lock:
            self._callbacks.pop(token, None)

    def emit(self, event: SuspensionEvent, reason: str, when: datetime | None = None) -> None:
        """Call every subscriber with ``(event, reason, when)`` (``when`` defaults to now)."""
        when = datetime.now(UTC) if when is None else when
        with self._lock:
            callbacks = list(self._callbacks.values())
        for callback in callbacks:
            try:
                callback(event, reason, when)
            except Exception:
                logger.exception("suspension log callback %r failed on %r", callback, event)


suspension_log = SuspensionLog()
"""The log every suspender here reports to unless given another one."""


class PollingSignal(SignalRO):
    """A read-only signal whose value is a measurement repeated on a daemon thread.

    :meth:`start` measures once in the calling thread (so the value is current
    when it returns), then a daemon thread measures every ``poll_interval``
    seconds until :meth:`stop`. Each measurement is published as a value update,
    so subscribers (a suspender) see every one.

    Parameters
    ----------
    measure
        Called with no arguments; returns the new value. An exception on the
        polling thread is logged and the previous value kept.
    poll_interval
        Seconds between measurements, > 0.
    name
        Signal name; the thread is called ``{name}-poll``.
    **kwargs
        Passed to :class:`ophyd.signal.SignalRO`.
    """

    def __init__(
        self,
        measure: Callable[[], Any],
        *,
        poll_interval: float,
        name: str,
        **kwargs: Any,
    ) -> None:
        _check_positive("poll_interval", poll_interval)
        super().__init__(name=name, value=None, **kwargs)
        self._measure = measure
        self.poll_interval = float(poll_interval)
        self._publish_lock = threading.Lock()
        self._thread_lock = threading.Lock()
        self._stop_event: threading.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def polling(self) -> bool:
        """Whether the polling thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def poll(self) -> Any:
        """Measure now, publish the result to the subscribers, and return it."""
        with self._publish_lock:
            value = self._measure()
            Signal.put(self, value, force=True)  # SignalRO refuses put(); we are the source
        return value

    def start(self) -> None:
        """Measure now, then keep measuring on a daemon thread. Starting twice is harmless."""
        with self._thread_lock:
            if self._thread is not None:
                return
            self.poll()
            stop = threading.Event()
            thread = threading.Thread(
                target=self._run, args=(stop,), name=f"{self.name}-poll", daemon=True
            )
            self._stop_event, self._thread = stop, thread
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait up to ``timeout`` s for it. Stopping twice is harmless."""
        with self._thread_lock:
            stop, thread = self._stop_event, self._thread
            self._stop_event = self._thread = None
        if stop is None or thread is None:
            return
        stop.set()
        if thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self.poll_interval):
            try:
                self.poll()
            except Exception:
                logger.exception("%s: measurement failed; keeping the last value", self.name)


@dataclass
class _Trip:
    """One trip of a suspender, from the bad measurement to the good one."""

    reason: str
    log: SuspensionLog
    event: asyncio.Event = field(default_factory=asyncio.Event)
    resume_reason: str = ""
    requested: bool = False
    announced: bool = False
    finished: bool = False

    async def hold(self) -> None:
        """What the RunEngine awaits while suspended; announces both ends once."""
        if self.finished:
            return
        if not self.announced:
            self.announced = True
            self.log.emit("suspended", self.reason)
        await self.event.wait()
        if not self.finished:
            self.finished = True
            self.log.emit("resumed", self.resume_reason)


class PollingSuspender(SuspenderBase, abc.ABC):
    """A bluesky suspender on a :class:`PollingSignal` that also holds already-bad cases.

    Subclasses implement :meth:`measure`, ``_should_suspend(value)``,
    ``_should_resume(value)`` (never both true; a value for which neither is
    true changes nothing, which gives hysteresis), :meth:`_suspend_reason` and
    :meth:`_resume_reason`.

    Installing (``RE.install_suspender``, or the ``install_suspender`` message of
    :func:`bluesky.preprocessors.suspend_wrapper`) measures once in the installing
    thread, then starts the polling thread; removing stops it. While the
    condition is bad:

    - ``RE(plan)`` waits before the plan's first message;
    - a running plan is suspended as bluesky does it (rewinding to the last
      checkpoint);
    - ``RE.resume()`` of a paused plan measures again and, if still bad, suspends
      before the plan goes on (through an entry in ``RE.context_managers``, which
      the RunEngine enters whenever it starts or resumes a plan).

    Parameters
    ----------
    poll_interval
        Seconds between measurements, > 0.
    signal_name
        Name of the :class:`PollingSignal`.
    sleep
        Seconds to wait after the condition clears before resuming, >= 0.
    pre_plan, post_plan
        Plans run just before suspending and just before resuming (see
        :meth:`bluesky.RunEngine.request_suspend`).
    tripped_message
        Appended to the reason, after ``": "``.
    log
        Where suspensions are announced; default :data:`suspension_log`.
    """

    def __init__(
        self,
        *,
        poll_interval: float,
        signal_name: str,
        sleep: float = 0,
        pre_plan: Any = None,
        post_plan: Any = None,
        tripped_message: str = "",
        log: SuspensionLog | None = None,
    ) -> None:
        if not (_is_number(sleep) and math.isfinite(sleep) and sleep >= 0):
            raise ValueError(f"sleep {sleep!r} is invalid; allowed: a number of seconds >= 0")
        signal = PollingSignal(self.measure, poll_interval=poll_interval, name=signal_name)
        super().__init__(
            signal,
            sleep=sleep,
            pre_plan=pre_plan,
            post_plan=post_plan,
            tripped_message=tripped_message,
        )
        self.signal = signal
        self.suspension_log = suspension_log if log is None else log
        self._trip: _Trip | None = None

    @abc.abstractmethod
    def measure(self) -> Any:
        """Return the current measurement (the value the signal publishes)."""

    @abc.abstractmethod
    def _suspend_reason(self, value: Any) -> str:
        """Say in a sentence, with numbers, why ``value`` suspends."""

    @abc.abstractmethod
    def _resume_reason(self, value: Any) -> str:
        """Say in a sentence, with numbers, why ``value`` resumes."""

    def _on_install(self) -> None:
        """Prepare the measurement (called before the first one)."""

    def _on_remove(self) -> None:
        """Undo :meth:`_on_install`."""

    @property
    def reason(self) -> str:
        """Why the suspender is tripped, or ``""``."""
        trip = self._trip
        return "" if trip is None else trip.reason

    def install(self, RE: RunEngine, *, event_type: str | None = None) -> None:
        """Watch the condition for ``RE``: measure now, subscribe, start polling."""
        with self._lock:
            if self.RE is not None and self.RE is not RE:
                raise RuntimeError(
                    f"{self!r} is installed on another RunEngine; remove it there first"
                )
            reinstall = self.RE is RE
            self.RE = RE
        if reinstall:
            self.signal.poll()
            return
        self._on_install()
        # Measure before subscribing: ophyd replays the measurement to us at once,
        # so a condition that is bad already trips now (bluesky would wait for the
        # signal's next update).
        self.signal.start()
        self.signal.subscribe(self, event_type=event_type, run=True)
        if self._on_run not in RE.context_managers:
            RE.context_managers.append(self._on_run)

    def remove(self) -> None:
        """Stop watching: unsubscribe, stop the thread, release a plan held by this."""
        self.signal.clear_sub(self)
        self.signal.stop()
        with self._lock:
            RE, self.RE = self.RE, None
            if self._trip is not None and RE is not None:
                self._release(RE, f"the suspender {self!r} was removed")
            self._trip = None
            self._tripped = False
        if RE is not None:
            if self._on_run in RE.context_managers:
                RE.context_managers.remove(self._on_run)
            self._on_remove()

    def __call__(self, value: Any, **kwargs: Any) -> None:
        """Evaluate a published measurement (the signal's value callback)."""
        with self._lock:
            RE = self.RE
            if RE is None:
                return
            if self._should_suspend(value):
                if self._trip is None:
                    reason = self._suspend_reason(value)
                    if self._tripped_message:
                        reason = f"{reason}: {self._tripped_message}"
                    self._trip = _Trip(reason, self.suspension_log)
                    self._tripped = True
                # Ask whenever the RunEngine runs and was not asked yet for this trip:
                # bluesky asks only at the trip, so a trip while paused went unheard.
                if not self._trip.requested and RE.state.is_running:
                    self._trip.requested = True
                    RE.request_suspend(
                        self._trip.hold,
                        pre_plan=self._pre_plan,
                        post_plan=self._post_plan,
                        justification=self._trip.reason,
                    )
            elif self._trip is not None and self._should_resume(value):
                self._release(RE, self._resume_reason(value))

    def get_futures(self) -> tuple[list[Callable[[], Any]], str]:
        """What ``RE(plan)`` waits for before the plan's first message, and why."""
        with self._lock:
            if self._trip is None or self.RE is None:
                return [], ""
            self._trip.requested = True
            return [self._trip.hold], self._trip.reason

    def _get_justification(self) -> str:
        return self.reason

    @contextlib.contextmanager
    def _on_run(self, RE: RunEngine) -> Iterator[None]:
        if RE.state == "paused":
            self._hold_resumed_plan(RE)
        yield

    def _hold_resumed_plan(self, RE: RunEngine) -> None:
        """Called by ``RE.resume()`` before the plan continues: suspend it if bad now.

        bluesky never asks a paused RunEngine to suspend, and asking it later (at
        the next poll) lets the plan run on for up to a poll interval.
        """
        try:
            self.signal.poll()
        except Exception:
            logger.exception("%s: measurement failed; keeping the last value", self.signal.name)
        with self._lock:
            trip = self._trip
            if trip is None or trip.requested or self.RE is not RE:
                return
            trip.requested = True
        RE.request_suspend(
            trip.hold,
            pre_plan=self._pre_plan,
            post_plan=self._post_plan,
            justification=trip.reason,
        )
        # request_suspend queues its work on the event loop; let it land on the plan
        # stack (above the replayed messages) before the RunEngine lets the plan go on.
        if threading.get_ident() != getattr(RE.loop, "_thread_id", None):
            asyncio.run_coroutine_threadsafe(_next_loop_turns(), RE.loop).result(timeout=10)

    def _release(self, RE: RunEngine, reason: str) -> None:
        trip, self._trip = self._trip, None
        self._tripped = False
        if trip is None:
            return
        trip.resume_reason = reason
        logger.info("%s; resuming in %s s", reason, self._sleep)
        loop = RE.loop
        loop.call_soon_threadsafe(loop.call_later, self._sleep, trip.event.set)


# -- low disk space ---------------------------------------------------------------------

_DECIMAL_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_BINARY_UNITS = {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_DECIMAL_NAMES = ("kB", "MB", "GB", "TB", "PB")
_BINARY_NAMES = ("KiB", "MiB", "GiB", "TiB", "PiB")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*|%)\s*$", re.IGNORECASE)


def format_size(nbytes: float, *, binary: bool = False) -> str:
    """Format a number of bytes for people: ``"1.2 GB"``, or ``"1.1 GiB"`` if ``binary``.

    Examples
    --------
    >>> format_size(1_234_567_890)
    '1.2 GB'
    >>> format_size(512)
    '512 B'
    """
    step, units = (1024, _BINARY_NAMES) if binary else (1000, _DECIMAL_NAMES)
    if abs(nbytes) < step:
        return f"{int(nbytes)} B"
    value = float(nbytes)
    for unit in units:
        value /= step
        if abs(value) < step or unit == units[-1]:
            break
    return f"{value:.1f} {unit}"


@dataclass(frozen=True)
class SpaceThreshold:
    """An amount of free space: a number of bytes, or a percentage of the filesystem.

    Build it with :meth:`parse`. Exactly one of ``nbytes`` and ``percent`` is set.

    Attributes
    ----------
    nbytes
        Bytes, > 0.
    percent
        Percent of the filesystem's size, above 0 and below 100.
    binary
        Whether it was given in binary units (MiB, GiB...): sizes are shown in them.
    """

    nbytes: int | None = None
    percent: float | None = None
    binary: bool = False

    ALLOWED = (
        "a number of bytes > 0, a size such as '5GB' or '500MiB' (units B, kB, MB, GB, TB, "
        "KiB, MiB, GiB, TiB) or a percentage of the filesystem such as '10%' "
        "(above 0% and below 100%)"
    )

    @classmethod
    def parse(cls, value: int | float | str, *, name: str = "min_free") -> SpaceThreshold:
        """Read ``5000000000``, ``"5GB"``, ``"500MiB"`` or ``"10%"``.

        Parameters
        ----------
        value
            The amount of free space.
        name
            The parameter's name, for the error message.

        Raises
        ------
        ValueError
            If ``value`` is none of the allowed forms.
        """
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value) and value > 0:
                return cls(nbytes=math.ceil(value))
        elif isinstance(value, str) and (match := _SIZE.match(value)):
            number, unit = float(match[1]), match[2].lower()
            if unit == "%":
                if 0 < number < 100:
                    return cls(percent=number)
            elif unit in _DECIMAL_UNITS or unit in _BINARY_UNITS or not unit:
                factor = _DECIMAL_UNITS.get(unit) or _BINARY_UNITS.get(unit) or 1
                if number * factor >= 1:
                    return cls(nbytes=math.ceil(number * factor), binary=unit in _BINARY_UNITS)
        raise ValueError(f"{name} {value!r} is invalid; allowed: {cls.ALLOWED}")

    def bytes_of(self, total: int) -> int:
        """The threshold in bytes on a filesystem of ``total`` bytes."""
        if self.percent is not None:
            return math.ceil(total * self.percent / 100)
        assert self.nbytes is not None
        return self.nbytes

    def scaled(self, factor: float) -> SpaceThreshold:
        """This threshold times ``factor`` (a percentage stays at most 100%)."""
        if self.percent is not None:
            return SpaceThreshold(percent=min(self.percent * factor, 100.0))
        assert self.nbytes is not None
        return SpaceThreshold(nbytes=math.ceil(self.nbytes * factor), binary=self.binary)

    def describe(self, total: int) -> str:
        """``"5.0 GB"``, or ``"10% (4.0 GB)"`` for a percentage of ``total`` bytes."""
        size = format_size(self.bytes_of(total), binary=self.binary)
        return size if self.percent is None else f"{self.percent:g}% ({size})"

    def __str__(self) -> str:
        if self.percent is not None:
            return f"{self.percent:g}%"
        assert self.nbytes is not None
        return format_size(self.nbytes, binary=self.binary)


class DiskUsage(Protocol):
    """What :func:`shutil.disk_usage` returns, as far as we need it."""

    @property
    def total(self) -> int:
        """Size of the filesystem in bytes."""

    @property
    def free(self) -> int:
        """Bytes free for the calling user."""


class SuspendLowDiskSpace(PollingSuspender):
    """Suspend while the filesystem holding ``path`` has too little free space.

    Suspends when free space drops below ``min_free``; resumes once it is at or
    above ``resume_free`` again. A path that does not exist yet is measured at its
    nearest existing parent; a filesystem that cannot be read (e.g. an unmounted
    disk) suspends too.

    Parameters
    ----------
    path
        A path on the filesystem to watch (where the frames go).
    min_free
        Suspend below this: bytes (``5_000_000_000``), a size (``"5GB"``,
        ``"500MiB"``), or a percentage of the filesystem (``"10%"``).
    resume_free
        Resume at or above this, in the same forms; >= ``min_free``. Default: 10%
        above ``min_free`` (``"5GB"`` -> 5.5 GB, ``"10%"`` -> 11%), so a plan does
        not flap on and off at the threshold.
    poll_interval
        Seconds between measurements, > 0.
    usage
        Measures a path; default :func:`shutil.disk_usage`. Anything returning an
        object with ``total`` and ``free`` bytes.
    sleep, pre_plan, post_plan, tripped_message, log
        See :class:`PollingSuspender`.

    Raises
    ------
    ValueError
        If a threshold is invalid, or ``resume_free`` is below ``min_free``.
    OSError
        If the filesystem cannot be measured now.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        min_free: int | float | str,
        resume_free: int | float | str | None = None,
        poll_interval: float = 10.0,
        usage: Callable[[str], DiskUsage] = shutil.disk_usage,
        sleep: float = 0,
        pre_plan: Any = None,
        post_plan: Any = None,
        tripped_message: str = "",
        log: SuspensionLog | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.min_free = SpaceThreshold.parse(min_free, name="min_free")
        self.resume_free = (
            self.min_free.scaled(1.1)
            if resume_free is None
            else SpaceThreshold.parse(resume_free, name="resume_free")
        )
        self._usage = usage
        total = usage(_nearest_existing(self.path)).total
        if self.resume_free.bytes_of(total) < self.min_free.bytes_of(total):
            raise ValueError(
                f"resume_free {resume_free!r} ({self.resume_free.describe(total)}) is below "
                f"min_free {min_free!r} ({self.min_free.describe(total)}); allowed: an amount "
                ">= min_free"
            )
        super().__init__(
            poll_interval=poll_interval,
            signal_name="free_space",
            sleep=sleep,
            pre_plan=pre_plan,
            post_plan=post_plan,
            tripped_message=tripped_message,
            log=log,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.path!r}, min_free={str(self.min_free)!r}, "
            f"resume_free={str(self.resume_free)!r})"
        )

    def measure(self) -> DiskUsage | OSError:
        """The filesystem's usage, or the error that prevents measuring it."""
        try:
            return self._usage(_nearest_existing(self.path))
        except OSError as err:
            return err

    def _should_suspend(self, value: DiskUsage | OSError) -> bool:
        if isinstance(value, OSError):
            return True
        return value.free < self.min_free.bytes_of(value.total)

    def _should_resume(self, value: DiskUsage | OSError) -> bool:
        if isinstance(value, OSError):
            return False
        return value.free >= self.resume_free.bytes_of(value.total)

    def _suspend_reason(self, value: DiskUsage | OSError) -> str:
        if isinstance(value, OSError):
            return f"free space on {self.path} cannot be measured ({value.strerror or value})"
        free = format_size(value.free, binary=self.min_free.binary)
        return (
            f"free space on {self.path} is {free}, below the "
            f"{self.min_free.describe(value.total)} minimum"
        )

    def _resume_reason(self, value: DiskUsage) -> str:
        free = format_size(value.free, binary=self.min_free.binary)
        return (
            f"free space on {self.path} is {free}, back above "
            f"{self.resume_free.describe(value.total)}"
        )


def _nearest_existing(path: str) -> str:
    candidate = Path(path).absolute()
    while not candidate.exists() and candidate != candidate.parent:
        candidate = candidate.parent
    return str(candidate)


# -- stale camera -----------------------------------------------------------------------


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
    sleep, pre_plan, post_plan, tripped_message, log
        See :class:`PollingSuspender`.
    """

    def __init__(
        self,
        signal: Signal,
        *,
        max_age: float,
        poll_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: float = 0,
        pre_plan: Any = None,
        post_plan: Any = None,
        tripped_message: str = "",
        log: SuspensionLog | None = None,
    ) -> None:
        _check_positive("max_age", max_age)
        self.watched = signal
        self.max_age = float(max_age)
        self._clock = clock
        self._last_update = clock()
        self._last_gap = 0.0
        self._camera_subscription: int | None = None
        super().__init__(
            poll_interval=poll_interval,
            signal_name=f"{signal.name}_age",
            sleep=sleep,
            pre_plan=pre_plan,
            post_plan=post_plan,
            tripped_message=tripped_message,
            log=log,
        )

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


# -- outside a daily window -------------------------------------------------------------

_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_TIME_ALLOWED = "'HH:MM' or 'HH:MM:SS' on the 24-hour clock, e.g. '06:00' or '20:30:00'"


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
        start, end = (_parse_time_of_day(value) for value in between)
        if start == end:
            raise ValueError(
                f"between {tuple(between)!r} is an empty window; allowed: two different "
                "times (an end earlier than the start spans midnight)"
            )
        return cls(start, end, _zone(timezone))

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


def _parse_time_of_day(value: str | time_of_day) -> time_of_day:
    if isinstance(value, time_of_day):
        return value.replace(tzinfo=None)
    match = _TIME.match(value) if isinstance(value, str) else None
    if match:
        hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
        if hour < 24 and minute < 60 and second < 60:
            return time_of_day(hour, minute, second)
    raise ValueError(f"window time {value!r} is invalid; allowed: {_TIME_ALLOWED}")


def _hhmm(value: time_of_day) -> str:
    return value.strftime("%H:%M:%S" if value.second else "%H:%M")


def _zone(name: str) -> ZoneInfo:
    if name == "local":
        import tzlocal

        return ZoneInfo(tzlocal.get_localzone_name() or "UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"timezone {name!r} is unknown; allowed: 'local' or an IANA time zone name "
            "such as 'Europe/Berlin'"
        ) from None


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
    sleep, pre_plan, post_plan, tripped_message, log
        See :class:`PollingSuspender`.

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
        sleep: float = 0,
        pre_plan: Any = None,
        post_plan: Any = None,
        tripped_message: str = "",
        log: SuspensionLog | None = None,
    ) -> None:
        self.window = DailyWindow.parse(between, timezone)
        self._now = now if now is not None else _utc_now
        super().__init__(
            poll_interval=poll_interval,
            signal_name="local_time",
            sleep=sleep,
            pre_plan=pre_plan,
            post_plan=post_plan,
            tripped_message=tripped_message,
            log=log,
        )

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


async def _next_loop_turns() -> None:
    for _ in range(2):
        await asyncio.sleep(0)


def _utc_now() -> datetime:
    return datetime.now(UTC)


# -- checks -----------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_positive(name: str, value: Any) -> None:
    if not (_is_number(value) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} {value!r} is invalid; allowed: a number of seconds > 0")


# -- Tiled backlog ------------------------------------------------------------------------


class SuspendWhenTiledBacklog(PollingSuspender):
    """Suspend while a :class:`~bluesky_timelapse.callbacks.TiledSink` is too far behind.

    For those who prefer pausing acquisition to spooling documents on local disk
    while Tiled is away. Resumes once the backlog is at or below ``resume_below``.

    Parameters
    ----------
    sink
        The sink to watch (anything with ``health()`` returning a
        :class:`~bluesky_timelapse.callbacks.SinkHealth`).
    max_documents
        Suspend when more documents than this wait to be sent, >= 1.
    resume_below
        Resume at or below this many; default half of ``max_documents``.
    poll_interval, sleep, pre_plan, post_plan, tripped_message, log
        See :class:`PollingSuspender`.
    """

    def __init__(
        self,
        sink: Any,
        *,
        max_documents: int,
        resume_below: int | None = None,
        poll_interval: float = 1.0,
        sleep: float = 0,
        pre_plan: Any = None,
        post_plan: Any = None,
        tripped_message: str = "",
        log: SuspensionLog | None = None,
    ) -> None:
        if (
            isinstance(max_documents, bool)
            or not isinstance(max_documents, int)
            or max_documents < 1
        ):
            raise ValueError(
                f"max_documents {max_documents!r} is invalid; allowed: an integer >= 1"
            )
        resume = max_documents // 2 if resume_below is None else resume_below
        if (
            isinstance(resume, bool)
            or not isinstance(resume, int)
            or not 0 <= resume <= max_documents
        ):
            raise ValueError(
                f"resume_below {resume_below!r} is invalid; allowed: an integer from 0 to "
                f"max_documents ({max_documents})"
            )
        self.sink = sink
        self.max_documents = max_documents
        self.resume_below = resume
        super().__init__(
            poll_interval=poll_interval,
            signal_name="tiled_backlog",
            sleep=sleep,
            pre_plan=pre_plan,
            post_plan=post_plan,
            tripped_message=tripped_message,
            log=log,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_documents={self.max_documents})"

    def measure(self) -> int:
        """Documents journaled and not yet in Tiled."""
        return int(self.sink.health().queue_depth)

    def _should_suspend(self, value: int) -> bool:
        return value > self.max_documents

    def _should_resume(self, value: int) -> bool:
        return value <= self.resume_below

    def _suspend_reason(self, value: int) -> str:
        error = self.sink.health().last_error
        return (
            f"{value} documents wait to be sent to Tiled, more than the {self.max_documents} "
            "allowed" + (f" (last error: {error})" if error else "")
        )

    def _resume_reason(self, value: int) -> str:
        return f"the Tiled backlog is down to {value} documents"
