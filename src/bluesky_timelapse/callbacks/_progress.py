"""A progress display for running timelapses: slot k of N, the next slot, suspensions.

:class:`TimelapseProgress` is a bluesky callback. It reads what it shows from the
start and stop documents of the timelapse's runs (``timelapse_id``,
``slot_index`` and ``timelapse_schedule`` in each start document), so it works
wherever the documents flow, and from a :class:`~bluesky_timelapse.suspenders.SuspensionLog`
for the reason of an ongoing suspension. It draws a tqdm bar: text in a terminal,
a widget in a Jupyter notebook (``tqdm.auto``).

Examples
--------
>>> progress = TimelapseProgress()  # doctest: +SKIP
>>> RE.subscribe(progress)  # doctest: +SKIP
>>> RE(timelapse([camera], every("10s", count=30)))  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tqdm.auto import tqdm

from ..schedules import Schedule, schedule_from_spec
from ..suspenders import SuspensionEvent, SuspensionLog, suspension_log

__all__ = ["TimelapseProgress"]

BarFactory = Callable[..., Any]
"""Makes a tqdm-like bar: ``factory(total=..., initial=..., desc=..., unit=...)``."""


class TimelapseProgress:
    """Show the progress of the timelapse whose runs the RunEngine emits.

    The bar counts slots reached (acquired, failed or missed) out of the
    schedule's slots (no total for an unbounded schedule); its postfix says the
    slot being acquired, or when the next slot is due, or that the RunEngine is
    suspended and why. A new timelapse (another ``timelapse_id``) closes the
    previous bar and starts another; a resumed timelapse starts at the slots it
    had already reached. Runs that are not timelapse slots are ignored.

    Parameters
    ----------
    suspensions
        Where suspensions are announced (by default the module-level log every
        suspender of this package reports to); None to show none.
    bar
        Makes the bar; by default ``tqdm.auto.tqdm``. Give ``functools.partial(tqdm,
        disable=True)`` to follow progress (:attr:`reached`, :attr:`postfix`) without
        drawing, or ``functools.partial(tqdm, file=...)`` to draw elsewhere.
    """

    def __init__(
        self,
        *,
        suspensions: SuspensionLog | None = suspension_log,
        bar: BarFactory = tqdm,
    ) -> None:
        self._make_bar = bar
        self._lock = threading.Lock()
        self._bar: Any = None
        self._reached = 0
        self._total: int | None = None
        self._timelapse_id: str | None = None
        self._schedule: Schedule | None = None
        self._slot_runs: dict[str, int] = {}
        self._next: str = ""
        self._suspended: str | None = None
        self._suspensions = suspensions
        self._token = suspensions.subscribe(self._on_suspension) if suspensions else None

    @property
    def timelapse_id(self) -> str | None:
        """The timelapse shown, None before the first slot."""
        return self._timelapse_id

    @property
    def reached(self) -> int:
        """Slots reached so far (the bar's position)."""
        return self._reached

    @property
    def total(self) -> int | None:
        """Slots in the schedule; None if unbounded or before the first slot."""
        return self._total

    @property
    def postfix(self) -> str:
        """What the bar says after the count: the slot, the next one, or the suspension."""
        if self._suspended is not None:
            return f"suspended: {self._suspended}"
        return self._next

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        """Take one document; only start and stop documents matter."""
        if name == "start" and "timelapse_id" in doc and "slot_index" in doc:
            self._on_start(doc)
        elif name == "stop" and doc.get("run_start") in self._slot_runs:
            self._on_stop(doc)

    def close(self) -> None:
        """Close the bar and stop listening to suspensions."""
        if self._suspensions is not None and self._token is not None:
            self._suspensions.unsubscribe(self._token)
            self._token = None
        with self._lock:
            if self._bar is not None:
                self._bar.close()

    def _on_start(self, doc: dict[str, Any]) -> None:
        index = int(doc["slot_index"])
        with self._lock:
            if doc["timelapse_id"] != self._timelapse_id:
                self._begin(doc)
            self._slot_runs[doc["uid"]] = index
            self._move_to(index)
            self._next = f"slot {index}: acquiring"
            self._refresh()

    def _on_stop(self, doc: dict[str, Any]) -> None:
        with self._lock:
            index = self._slot_runs.pop(doc["run_start"])
            self._move_to(index + 1)
            self._next = self._describe_next(index + 1)
            self._refresh()

    def _begin(self, doc: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
        spec = doc.get("timelapse_schedule")
        self._schedule = schedule_from_spec(spec) if isinstance(spec, dict) else None
        self._total = self._schedule.count() if self._schedule is not None else None
        self._reached = 0
        self._timelapse_id = doc["timelapse_id"]
        self._slot_runs.clear()
        self._bar = self._make_bar(
            total=self._total, initial=0, desc=self._timelapse_id, unit="slot", dynamic_ncols=True
        )

    def _move_to(self, reached: int) -> None:
        if reached > self._reached:
            self._bar.update(reached - self._reached)
            self._reached = reached

    def _describe_next(self, index: int) -> str:
        if self._schedule is None:
            return ""
        upcoming = next(self._schedule.slots(start_index=index), None)
        if upcoming is None:
            return "done"
        when = upcoming.time.astimezone()
        today = datetime.now(UTC).astimezone().date()
        shown = f"{when:%H:%M:%S}" if when.date() == today else f"{when:%Y-%m-%d %H:%M:%S}"
        return f"next slot {upcoming.index} at {shown}"

    def _on_suspension(self, event: SuspensionEvent, reason: str, when: datetime) -> None:
        with self._lock:
            self._suspended = reason if event == "suspended" else None
            self._refresh()

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(self.postfix, refresh=True)
