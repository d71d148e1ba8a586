"""What every suspender here shares: the polling signal, the base class, the options.

A bluesky suspender watches an ophyd signal and holds the plan while the signal
says so. The suspenders here watch a :class:`PollingSignal`, which measures
something now and then on a daemon thread, and :class:`PollingSuspender` closes
the gaps bluesky's own suspenders leave open in long plans (see the package).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from bluesky.suspenders import SuspenderBase
from ophyd.signal import Signal, SignalRO

from .._checks import check_seconds
from ._log import SuspensionLog, suspension_log

if TYPE_CHECKING:
    from bluesky import RunEngine

logger = logging.getLogger("bluesky_timelapse.suspenders")


class SuspenderOptions(TypedDict, total=False):
    """The keyword arguments every suspender here takes besides its own; all optional.

    Subclasses of :class:`PollingSuspender` accept them as
    ``**options: Unpack[SuspenderOptions]`` and pass them on to it.
    """

    sleep: float
    """Seconds to wait after the condition clears before resuming, >= 0; default 0."""
    pre_plan: Any
    """A plan run just before suspending (see :meth:`bluesky.RunEngine.request_suspend`)."""
    post_plan: Any
    """A plan run just before resuming (see :meth:`bluesky.RunEngine.request_suspend`)."""
    tripped_message: str
    """Appended to the reason, after ``": "``; default ``""``."""
    log: SuspensionLog | None
    """Where suspensions are announced; default :data:`suspension_log`."""


_OPTION_NAMES = tuple(SuspenderOptions.__annotations__)


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
        check_seconds("poll_interval", poll_interval)
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
    **options
        ``sleep``, ``pre_plan``, ``post_plan``, ``tripped_message`` and ``log``;
        see :class:`SuspenderOptions`.

    Raises
    ------
    ValueError
        If ``poll_interval`` or ``sleep`` is invalid.
    TypeError
        If an option is none of those.
    """

    def __init__(
        self,
        *,
        poll_interval: float,
        signal_name: str,
        **options: Unpack[SuspenderOptions],
    ) -> None:
        unknown = sorted(options.keys() - set(_OPTION_NAMES))
        if unknown:
            raise TypeError(
                f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}; "
                f"allowed besides its own: {', '.join(_OPTION_NAMES)}"
            )
        sleep = options.get("sleep", 0)
        check_seconds("sleep", sleep, zero_allowed=True)
        signal = PollingSignal(self.measure, poll_interval=poll_interval, name=signal_name)
        super().__init__(
            signal,
            sleep=sleep,
            pre_plan=options.get("pre_plan"),
            post_plan=options.get("post_plan"),
            tripped_message=options.get("tripped_message", ""),
        )
        self.signal = signal
        log = options.get("log")
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


async def _next_loop_turns() -> None:
    for _ in range(2):
        await asyncio.sleep(0)
