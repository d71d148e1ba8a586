"""The state of one timelapse, and the state machine its slots move through.

:class:`TimelapseState` is plain data (a pydantic model, JSON on disk) whose slot
methods are the only way a slot's status changes::

    state = TimelapseState(timelapse_id="bench-7", schedule=schedule.to_dict())
    state.mark_running(0, scheduled, lateness=0.4, started=now)
    state.mark_run_uid(0, uid)
    state.mark_succeeded(0, finished=later)

A state need not hold every slot: the leading slots that are settled (final, their
run closed) never change again, and :meth:`TimelapseState.forget_settled` replaces
their records by a summary (:class:`SettledSlots`), so that a year of slots costs no
memory and no time per slot. Pure logic: nothing here reads or writes a file (see :class:`TimelapseStore`).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from datetime import UTC, datetime
from itertools import pairwise
from operator import attrgetter
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    JsonValue,
    NonNegativeInt,
    field_validator,
    model_validator,
)

from ._migrations import SCHEMA_VERSION

SlotStatus = Literal["pending", "running", "succeeded", "failed", "missed", "interrupted"]
"""Where a slot stands; see :data:`SLOT_TRANSITIONS`."""

SLOT_STATUSES: tuple[SlotStatus, ...] = get_args(SlotStatus)
"""Every slot status, in the order of :data:`SlotStatus`."""

SLOT_TRANSITIONS: dict[SlotStatus, tuple[SlotStatus, ...]] = {
    "pending": ("running", "missed"),
    "running": ("succeeded", "failed", "interrupted"),
    "succeeded": (),
    "failed": (),
    "missed": (),
    "interrupted": (),
}
"""The statuses each status may become. A status with none is final."""

FINAL_SLOT_STATUSES: frozenset[SlotStatus] = frozenset(
    status for status, targets in SLOT_TRANSITIONS.items() if not targets
)
"""Statuses that never change again."""

TimelapseStatus = Literal["running", "completed", "stopped", "failed"]
"""``running`` means not finished: also while paused, suspended or after a crash."""

FINISHED_STATUSES: tuple[TimelapseStatus, ...] = ("completed", "stopped", "failed")
"""Statuses :meth:`TimelapseState.finish` accepts."""

_ID_PATTERN = re.compile(r"[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,99}")


def validate_timelapse_id(timelapse_id: str) -> str:
    """Return ``timelapse_id`` if it is safe as a file name, else raise ``ValueError``.

    Allowed: 1 to 100 characters among letters, digits, ``-``, ``_`` and ``.``, not
    starting with ``.``. Such an id never names a path outside the store directory.
    """
    if not isinstance(timelapse_id, str) or not _ID_PATTERN.fullmatch(timelapse_id):
        raise ValueError(
            f"timelapse id {timelapse_id!r} is not allowed; allowed: 1 to 100 characters "
            "among letters, digits, '-', '_' and '.', not starting with '.'"
        )
    return timelapse_id


def _reject_non_finite(value: Any) -> Any:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{item!r} is not allowed in JSON; allowed: finite numbers")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def _in_utc(value: datetime) -> datetime:
    """``value`` in UTC; a ``ValueError`` if that is before the year 1 or after 9999."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} is out of range in UTC; allowed: a time between the years "
            "1 and 9999 in UTC"
        ) from None


UTCDateTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
"""A timezone-aware datetime, converted to UTC; naive datetimes are refused."""

JsonDict = Annotated[dict[str, JsonValue], AfterValidator(_reject_non_finite)]
"""A JSON object: str keys, values of JSON types only, finite numbers."""

_MODEL_CONFIG = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)


class SlotRecord(BaseModel):
    """What happened to one slot of a timelapse."""

    model_config = _MODEL_CONFIG

    index: NonNegativeInt
    """Position of the slot in the schedule, from 0."""
    scheduled: UTCDateTime
    """When the slot was due."""
    status: SlotStatus = "pending"
    """Where the slot stands."""
    run_uid: str | None = None
    """uid of the slot's bluesky run, once its start document exists."""
    started: UTCDateTime | None = None
    """When the slot began to run."""
    finished: UTCDateTime | None = None
    """When the slot's run ended (succeeded or failed)."""
    lateness: FiniteFloat | None = None
    """Seconds between ``scheduled`` and the start (or the decision that it was missed)."""
    error: str | None = None
    """Why the slot did not succeed (the error if failed, the reason if interrupted)."""
    stop_emitted: bool = True
    """False while the slot's run is open (its stop document not yet emitted); for an
    interrupted slot, a later session owes that stop document."""


class Suspension(BaseModel):
    """A time when the timelapse was held back (by a suspender, a pause...)."""

    model_config = _MODEL_CONFIG

    started: UTCDateTime
    """When the timelapse was held back."""
    ended: UTCDateTime | None = None
    """When it went on again; None while it lasts."""
    reason: str
    """Why, in words."""


class SettledSlots(BaseModel):
    """The leading slots a state does not hold: recorded, final, their runs closed.

    Slots ``0`` to ``below - 1`` never change again; their records stay in the store
    (:meth:`~bluesky_timelapse.persistence.TimelapseStore.iter_slots`), and this
    summary is what a state needs of them.
    """

    model_config = _MODEL_CONFIG

    below: NonNegativeInt = 0
    """Slots below this index are settled and left out of :attr:`TimelapseState.slots`."""
    counts: dict[SlotStatus, NonNegativeInt] = Field(default_factory=dict)
    """How many of them ended in each status."""
    last_error: str | None = None
    """The error of the latest failed one."""


class TimelapseState(BaseModel):
    """Everything a later session needs to resume a timelapse.

    The slot methods are the only way a slot's status should change; each refuses an
    illegal transition with a ``ValueError`` naming the slot, its status and the
    allowed transitions (:data:`SLOT_TRANSITIONS`). A slot is never acquired twice.

    Datetimes must be timezone-aware; they are stored in UTC.
    """

    model_config = _MODEL_CONFIG

    version: Literal[2] = SCHEMA_VERSION
    """Schema version of the layout (:data:`SCHEMA_VERSION`)."""
    timelapse_id: str
    """Unique name of the timelapse; also its file name (see :func:`validate_timelapse_id`)."""
    created: UTCDateTime = Field(default_factory=lambda: datetime.now(UTC))
    """When the timelapse was created."""
    updated: UTCDateTime = Field(default_factory=lambda: datetime.now(UTC))
    """When the state was last saved (``created`` until then)."""
    status: TimelapseStatus = "running"
    """Whether the timelapse has finished, and how."""
    schedule: JsonDict = Field(default_factory=dict)
    """The schedule as a JSON-safe dict; opaque to the store."""
    detectors: list[str] = Field(default_factory=list)
    """Names of the devices each slot reads."""
    plan: str = "count"
    """Name of the plan each slot runs."""
    plan_kwargs: JsonDict = Field(default_factory=dict)
    """Keyword arguments of that plan."""
    md: JsonDict = Field(default_factory=dict)
    """Metadata added to every run's start document."""
    options: JsonDict = Field(default_factory=dict)
    """Grace, missed-slot policy, warmup, standby threshold...; opaque to the store."""
    slots: list[SlotRecord] = Field(default_factory=list)
    """Records of the slots reached so far from ``settled.below`` on, by increasing index;
    a slot not listed there is pending."""
    settled: SettledSlots = Field(default_factory=SettledSlots)
    """The leading settled slots left out of ``slots`` (none unless forgotten)."""
    suspensions: list[Suspension] = Field(default_factory=list)
    """Every suspension, oldest first; only the last may still be open."""

    @model_validator(mode="before")
    @classmethod
    def _updated_defaults_to_created(cls, data: Any) -> Any:
        if isinstance(data, dict) and "updated" not in data:
            created = data.get("created", datetime.now(UTC))
            return {**data, "created": created, "updated": created}
        return data

    @field_validator("timelapse_id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        return validate_timelapse_id(value)

    @field_validator("slots")
    @classmethod
    def _check_slot_order(cls, slots: list[SlotRecord]) -> list[SlotRecord]:
        for before, after in pairwise(slots):
            if after.index <= before.index:
                raise ValueError(
                    f"slot {after.index} is listed after slot {before.index}; slots must be "
                    "listed once each, by increasing index"
                )
        return slots

    @field_validator("suspensions")
    @classmethod
    def _check_suspensions(cls, suspensions: list[Suspension]) -> list[Suspension]:
        for position, suspension in enumerate(suspensions):
            if suspension.ended is None and position != len(suspensions) - 1:
                raise ValueError(
                    f"suspension {position} ({suspension.reason!r}) is open but not the last "
                    "one; only the last suspension may be open"
                )
            if suspension.ended is not None and suspension.ended < suspension.started:
                raise ValueError(
                    f"suspension {position} ends ({suspension.ended}) before it starts "
                    f"({suspension.started})"
                )
        return suspensions

    @model_validator(mode="after")
    def _check_settled(self) -> TimelapseState:
        if self.slots and self.slots[0].index < self.settled.below:
            raise ValueError(
                f"slot {self.slots[0].index} is listed but slots below {self.settled.below} "
                "are settled; allowed: records from settled.below on"
            )
        return self

    # -- looking up ----------------------------------------------------------------

    def slot(self, index: int) -> SlotRecord | None:
        """The record of slot ``index``, or None if it has none (it is pending)."""
        position = self._position(index)
        if position < len(self.slots) and self.slots[position].index == index:
            return self.slots[position]
        return None

    @property
    def next_index(self) -> int:
        """The first slot still to be dealt with, the lowest index not in a final status.

        That is the index of the first ``pending`` or ``running`` record, or of the
        first unrecorded slot (slots are unrecorded past the highest recorded index,
        and in any gap below it), whichever comes first. With slots 0 to n-1 all final
        it is n; with no record it is 0. A ``running`` slot counts as not dealt with:
        it must be resolved (e.g. marked interrupted) before the timelapse goes on.
        """
        expected = self.settled.below
        for record in self.slots:
            if record.index != expected or record.status not in FINAL_SLOT_STATUSES:
                return expected
            expected += 1
        return expected

    @property
    def open_suspension(self) -> Suspension | None:
        """The suspension that has not ended, if any."""
        if self.suspensions and self.suspensions[-1].ended is None:
            return self.suspensions[-1]
        return None

    def counts(self) -> dict[SlotStatus, int]:
        """Number of recorded slots in each status (every status present, zeros included).

        Unrecorded slots are not counted: the store does not know the schedule's length.
        """
        counts = dict.fromkeys(SLOT_STATUSES, 0)
        counts.update(self.settled.counts)
        for record in self.slots:
            counts[record.status] += 1
        return counts

    @property
    def last_error(self) -> str | None:
        """The error of the latest failed slot, if any."""
        for record in reversed(self.slots):
            if record.status == "failed":
                return record.error
        return self.settled.last_error

    def forget_settled(self) -> int:
        """Replace the records of the leading settled slots by :attr:`settled`; return how many.

        A slot is settled when it and every slot before it are recorded in a final
        status with their runs closed. Save the state first: the records forgotten are
        only in the store.
        """
        settled = self.settled
        taken = 0
        for record in self.slots:
            if (
                record.index != settled.below + taken
                or record.status not in FINAL_SLOT_STATUSES
                or not record.stop_emitted
            ):
                break
            settled.counts[record.status] = settled.counts.get(record.status, 0) + 1
            if record.status == "failed":
                settled.last_error = record.error
            taken += 1
        settled.below += taken
        del self.slots[:taken]
        return taken

    # -- slot transitions ---------------------------------------------------------

    def record(self, index: int, scheduled: datetime) -> SlotRecord:
        """Return the record of slot ``index``, creating a pending one if it has none.

        Raises
        ------
        ValueError
            If ``index`` is not a whole number >= 0, ``scheduled`` is naive, the slot
            is recorded with another scheduled time, or a new record is needed but the
            timelapse has finished.
        """
        scheduled = _utc(scheduled, "scheduled")
        position = self._position(index)
        if position < len(self.slots) and self.slots[position].index == index:
            record = self.slots[position]
            if record.scheduled != scheduled:
                raise ValueError(
                    f"slot {index} is recorded as scheduled at {record.scheduled.isoformat()}, "
                    f"not {scheduled.isoformat()}; a slot keeps its scheduled time (was the "
                    "schedule changed?)"
                )
            return record
        self._check_not_finished(f"record slot {index}")
        record = SlotRecord(index=index, scheduled=scheduled)
        self.slots.insert(position, record)
        return record

    def mark_running(
        self, index: int, scheduled: datetime, *, lateness: float, started: datetime
    ) -> SlotRecord:
        """Acquire slot ``index``: pending -> running. A slot is acquired only once."""
        lateness = _finite(lateness, "lateness")
        started = _utc(started, "started")
        record = self._transition(index, scheduled, "running")
        record.started, record.lateness = started, lateness
        record.status = "running"
        return record

    def mark_run_uid(self, index: int, run_uid: str) -> SlotRecord:
        """Record the uid of the running slot's run (once; the same uid again is harmless)."""
        if not isinstance(run_uid, str) or not run_uid:
            raise ValueError(f"run uid {run_uid!r} is not allowed; allowed: a non-empty string")
        record = self._existing(index, "mark_run_uid")
        if record.status != "running":
            raise ValueError(
                f"slot {index} is {record.status!r}; a run uid is recorded only while the "
                "slot is 'running'"
            )
        if record.run_uid not in (None, run_uid):
            raise ValueError(
                f"slot {index} already has run uid {record.run_uid!r}, not {run_uid!r}; a "
                "slot is exactly one run"
            )
        record.run_uid = run_uid
        record.stop_emitted = False
        return record

    def mark_run_closed(self, index: int) -> SlotRecord:
        """Record that the running slot's run got its stop document."""
        record = self._existing(index, "mark_run_closed")
        if record.status != "running" or record.run_uid is None:
            raise ValueError(
                f"slot {index} is {record.status!r} with run uid {record.run_uid!r}; a run is "
                "closed only while its slot is 'running' with a run uid"
            )
        record.stop_emitted = True
        return record

    def mark_succeeded(self, index: int, *, finished: datetime) -> SlotRecord:
        """Running -> succeeded."""
        finished = _utc(finished, "finished")
        record = self._transition(index, None, "succeeded")
        record.finished = finished
        record.status = "succeeded"
        return record

    def mark_failed(self, index: int, error: str, *, finished: datetime) -> SlotRecord:
        """Running -> failed, with the error in words."""
        error = _text(error, "error")
        finished = _utc(finished, "finished")
        record = self._transition(index, None, "failed")
        record.finished, record.error = finished, error
        record.status = "failed"
        return record

    def mark_missed(self, index: int, scheduled: datetime, *, lateness: float) -> SlotRecord:
        """Pending -> missed: the slot was found more than the grace period late."""
        lateness = _finite(lateness, "lateness")
        record = self._transition(index, scheduled, "missed")
        record.lateness = lateness
        record.status = "missed"
        return record

    def mark_interrupted(self, index: int, *, reason: str) -> SlotRecord:
        """Running -> interrupted: its session ended before the run did.

        If its run was opened and not closed, the stop document stays owed
        (``stop_emitted`` False) until :meth:`mark_stop_emitted`.
        """
        reason = _text(reason, "reason")
        record = self._transition(index, None, "interrupted")
        record.error = reason
        record.status = "interrupted"
        return record

    def mark_stop_emitted(self, index: int) -> SlotRecord:
        """Record that the stop document of slot ``index``'s run has been emitted."""
        record = self._existing(index, "mark_stop_emitted")
        if record.status not in FINAL_SLOT_STATUSES:
            raise ValueError(
                f"slot {index} is {record.status!r}; a stop document is recorded only for a "
                f"slot in a final status ({', '.join(sorted(FINAL_SLOT_STATUSES))})"
            )
        record.stop_emitted = True
        return record

    # -- suspensions and the end ---------------------------------------------------

    def begin_suspension(self, reason: str, started: datetime) -> Suspension:
        """Record that the timelapse is held back from ``started``."""
        reason = _text(reason, "reason")
        started = _utc(started, "started")
        self._check_not_finished("begin a suspension")
        current = self.open_suspension
        if current is not None:
            raise ValueError(
                f"a suspension ({current.reason!r}) is open since "
                f"{current.started.isoformat()}; end it before beginning another"
            )
        suspension = Suspension(started=started, reason=reason)
        self.suspensions.append(suspension)
        return suspension

    def end_suspension(self, ended: datetime) -> Suspension:
        """Record that the open suspension ended at ``ended``."""
        ended = _utc(ended, "ended")
        current = self.open_suspension
        if current is None:
            raise ValueError("no suspension is open; allowed only after begin_suspension()")
        if ended < current.started:
            raise ValueError(
                f"end {ended.isoformat()} is before the suspension's start "
                f"{current.started.isoformat()}; allowed: a time at or after it"
            )
        current.ended = ended
        return current

    def finish(self, status: TimelapseStatus, *, when: datetime | None = None) -> None:
        """Mark the timelapse finished: completed, stopped or failed.

        An open suspension ends at ``when`` (default now).

        Raises
        ------
        ValueError
            If ``status`` is not a finished status, the timelapse has already
            finished, or a slot is still running (settle it first).
        """
        if status not in FINISHED_STATUSES:
            raise ValueError(
                f"status {status!r} is not allowed; allowed: {', '.join(FINISHED_STATUSES)}"
            )
        self._check_not_finished(f"finish as {status!r}")
        for record in self.slots:
            if record.status == "running":
                raise ValueError(
                    f"slot {record.index} is still 'running'; mark it succeeded, failed or "
                    "interrupted before finishing the timelapse"
                )
        if self.open_suspension is not None:
            self.end_suspension(when if when is not None else datetime.now(UTC))
        self.status = status

    # -- helpers -------------------------------------------------------------------

    def _position(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"slot index {index!r} is not allowed; allowed: a whole number >= 0")
        if index < self.settled.below:
            raise ValueError(
                f"slot {index} is settled and this state does not hold it (it holds slots "
                f"from {self.settled.below} on); read it from the store with all slots"
            )
        return bisect_left(self.slots, index, key=attrgetter("index"))

    def _existing(self, index: int, action: str) -> SlotRecord:
        record = self.slot(index)
        if record is None:
            raise ValueError(
                f"slot {index} is 'pending' (not recorded); {action} needs a slot that has "
                "been 'running'"
            )
        return record

    def _transition(
        self, index: int, scheduled: datetime | None, target: SlotStatus
    ) -> SlotRecord:
        self._check_not_finished(f"mark slot {index} {target!r}")
        record = self.slot(index)
        status: SlotStatus = "pending" if record is None else record.status
        allowed = SLOT_TRANSITIONS[status]
        if target not in allowed:
            hint = " (a slot is never acquired twice)" if target == "running" else ""
            raise ValueError(
                f"slot {index} is {status!r} and cannot become {target!r}{hint}; allowed "
                f"from {status!r}: {', '.join(allowed) if allowed else 'nothing (final)'}"
            )
        if scheduled is not None:
            return self.record(index, scheduled)
        assert record is not None  # only 'pending' may lack a record, and it needs scheduled
        return record

    def _check_not_finished(self, action: str) -> None:
        if self.status != "running":
            raise ValueError(
                f"timelapse {self.timelapse_id!r} is {self.status!r}; cannot {action}: "
                "a finished timelapse changes no more"
            )


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(
            f"{name} {value!r} is not allowed; allowed: a timezone-aware datetime "
            "(a naive one is ambiguous)"
        )
    return value.astimezone(UTC)


def _finite(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} {value!r} is not allowed; allowed: a finite number of seconds")
    return float(value)


def _text(value: str, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} {value!r} is not allowed; allowed: a string")
    return value
