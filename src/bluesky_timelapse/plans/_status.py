"""Progress of timelapses, read from their store: what ``status`` and ``list`` show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..persistence import TimelapseState, TimelapseStore
from ..schedules import schedule_from_spec


@dataclass(frozen=True)
class TimelapseSummary:
    """Where a timelapse stands.

    Attributes
    ----------
    timelapse_id, status, created
        As stored; ``status`` is ``"running"`` until the timelapse completes or is
        stopped (also while its process is down: resume it).
    total
        Slots in the schedule, None if unbounded.
    counts
        Slot status -> number of slots reached so far.
    next_slot
        When the next slot is due, None if none is left or the timelapse ended.
    last_error
        The error of the latest failed slot, if any.
    suspended
        The reason of the ongoing suspension, if the timelapse is suspended.
    suspensions
        How many suspensions it has had.
    """

    timelapse_id: str
    status: str
    created: datetime
    total: int | None
    counts: dict[str, int]
    next_slot: datetime | None
    last_error: str | None
    suspended: str | None
    suspensions: int

    @classmethod
    def of(cls, state: TimelapseState) -> TimelapseSummary:
        """Summarise a stored state."""
        schedule = schedule_from_spec(state.schedule)
        upcoming = next(schedule.slots(start_index=state.next_index), None)
        ongoing = [s.reason for s in state.suspensions if s.ended is None]
        return cls(
            timelapse_id=state.timelapse_id,
            status=state.status,
            created=state.created,
            total=schedule.count(),
            counts={str(status): n for status, n in state.counts().items()},
            next_slot=upcoming.time if upcoming and state.status == "running" else None,
            last_error=state.last_error,
            suspended=ongoing[-1] if ongoing else None,
            suspensions=len(state.suspensions),
        )


def timelapse_status(timelapse_id: str, store: str | Path | None = None) -> TimelapseSummary:
    """Summarise one timelapse of the store (default: the user data directory)."""
    return TimelapseSummary.of(TimelapseStore(store).load(timelapse_id, settled=False))


def list_timelapses(store: str | Path | None = None) -> list[TimelapseSummary]:
    """Summarise every timelapse of the store, oldest first."""
    return [TimelapseSummary.of(state) for state in TimelapseStore(store).list(settled=False)]
