"""The state of a timelapse that survives crashes and power cuts: one JSON file each.

:class:`TimelapseState` is plain data with an explicit state machine for its slots;
:class:`TimelapseStore` keeps one file per timelapse in a directory::

    store = TimelapseStore()                      # $BLUESKY_TIMELAPSE_DIR/timelapses
    state = TimelapseState(timelapse_id="bench-7", schedule=schedule.to_dict())
    store.create(state)
    state.mark_running(0, scheduled, lateness=0.4, started=now)
    store.save(state)                             # after every change

On disk, in the store directory (0700), every file mode 0600::

    <timelapse_id>.json                  the current state
    snapshots/<timelapse_id>.json.<n>    the last ``keep`` states saved (n counts up)
    <timelapse_id>.json.corrupt-<UTC>    a damaged file, set aside, never deleted
    <timelapse_id>.json.v<old version>   the file as it was before its first migration
"""

from __future__ import annotations

import builtins
import json
import math
import os
import re
from bisect import bisect_left
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from operator import attrgetter
from pathlib import Path
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    JsonValue,
    NonNegativeInt,
    ValidationError,
    field_validator,
    model_validator,
)

from ..locations import default_data_dir
from .atomic import atomic_write, logger, make_private_directory, move_aside

SCHEMA_VERSION: Final = 1
"""Version of the state file layout this release writes (and the newest it reads)."""

SlotStatus = Literal[
    "pending", "running", "succeeded", "failed", "missed", "interrupted", "skipped"
]
"""Where a slot stands; see :data:`SLOT_TRANSITIONS`."""

SLOT_STATUSES: tuple[SlotStatus, ...] = get_args(SlotStatus)
"""Every slot status, in the order of :data:`SlotStatus`."""

SLOT_TRANSITIONS: dict[SlotStatus, tuple[SlotStatus, ...]] = {
    "pending": ("running", "missed", "skipped"),
    "running": ("succeeded", "failed", "interrupted"),
    "succeeded": (),
    "failed": (),
    "missed": (),
    "interrupted": (),
    "skipped": (),
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
    """Why the slot did not succeed (the error if failed, the reason if skipped or interrupted)."""
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


class TimelapseState(BaseModel):
    """Everything a later session needs to resume a timelapse.

    The slot methods are the only way a slot's status should change; each refuses an
    illegal transition with a ``ValueError`` naming the slot, its status and the
    allowed transitions (:data:`SLOT_TRANSITIONS`). A slot is never acquired twice.

    Datetimes must be timezone-aware; they are stored in UTC.
    """

    model_config = _MODEL_CONFIG

    version: Literal[1] = SCHEMA_VERSION
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
    """Records of the slots reached so far, by increasing index; a slot not listed is pending."""
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
        it must be settled (e.g. marked interrupted) before the timelapse goes on.
        """
        expected = 0
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
        for record in self.slots:
            counts[record.status] += 1
        return counts

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

    def mark_skipped(self, index: int, scheduled: datetime, reason: str) -> SlotRecord:
        """Pending -> skipped, deliberately not run (missed-slot policy, window...)."""
        reason = _text(reason, "reason")
        record = self._transition(index, scheduled, "skipped")
        record.error = reason
        record.status = "skipped"
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


# -- migrations ------------------------------------------------------------------


def _migrate_0_to_1(old: dict[str, Any]) -> dict[str, Any]:
    """Version 0, the pre-release layout modelled on Plant-Imager's store, to version 1.

    Version 0 was::

        {"version": 0, "timelapse_id": str, "created_at": ISO 8601,
         "state": "running" | "paused" | "done" | "stopped" | "failed",
         "schedule": {...}, "schedule_times": [ISO 8601, ...],
         "detectors": [str, ...], "plan": str, "plan_kwargs": {...}, "md": {...},
         "warmup_sec": float, "standby_threshold_sec": float, "grace_period": float,
         "scans": [{"scan_id": int, "started_at": ISO 8601 | null,
                    "finished_at": ISO 8601 | null,
                    "status": "pending" | "running" | "done" | "failed" | "missed",
                    "error": str | null}, ...]}

    A scan's ``scan_id`` is its slot index and ``schedule_times[scan_id]`` its scheduled
    time; naive times were UTC. Version 0 recorded no run uids, lateness (computed
    here from the start), or suspensions.
    """
    slot_status = {
        "pending": "pending",
        "running": "running",
        "done": "succeeded",
        "failed": "failed",
        "missed": "missed",
    }
    state_status = {
        "running": "running",
        "paused": "running",
        "done": "completed",
        "stopped": "stopped",
        "failed": "failed",
    }
    times = [_v0_time(text) for text in old["schedule_times"]]
    created = _v0_time(old["created_at"])
    slots = []
    for scan in sorted(old["scans"], key=lambda scan: int(scan["scan_id"])):
        index = int(scan["scan_id"])
        started = _v0_time(scan["started_at"]) if scan.get("started_at") else None
        finished = _v0_time(scan["finished_at"]) if scan.get("finished_at") else None
        slots.append(
            {
                "index": index,
                "scheduled": times[index].isoformat(),
                "status": slot_status[scan["status"]],
                "started": started and started.isoformat(),
                "finished": finished and finished.isoformat(),
                "lateness": (started - times[index]).total_seconds() if started else None,
                "error": scan.get("error"),
            }
        )
    moments = [created] + [
        _v0_time(moment)
        for scan in old["scans"]
        for moment in (scan.get("started_at"), scan.get("finished_at"))
        if moment
    ]
    renamed = {
        "warmup_sec": "warmup",
        "standby_threshold_sec": "standby_threshold",
        "grace_period": "grace",
    }
    return {
        "version": 1,
        "timelapse_id": old["timelapse_id"],
        "created": created.isoformat(),
        "updated": max(moments).isoformat(),
        "status": state_status[old["state"]],
        "schedule": old.get("schedule", {}),
        "detectors": old.get("detectors", []),
        "plan": old.get("plan", "count"),
        "plan_kwargs": old.get("plan_kwargs", {}),
        "md": old.get("md", {}),
        "options": {new: old[name] for name, new in renamed.items() if name in old},
        "slots": slots,
        "suspensions": [],
    }


def _v0_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _migrate_0_to_1}
"""``MIGRATIONS[n]`` turns the JSON object of schema version n into that of n + 1."""


# -- the store -------------------------------------------------------------------


class CorruptStoreError(ValueError):
    """No readable state of a timelapse is left; the unreadable files were set aside.

    Attributes
    ----------
    timelapse_id
        The timelapse.
    moved_aside
        Where the unreadable files are now; nothing was deleted.
    """

    def __init__(self, timelapse_id: str, reason: str, moved_aside: list[Path]) -> None:
        self.timelapse_id = timelapse_id
        self.moved_aside = moved_aside
        names = ", ".join(str(path) for path in moved_aside) or "none"
        super().__init__(
            f"timelapse {timelapse_id!r} has no readable state: {reason}, and no valid "
            f"snapshot is left. Files moved aside (nothing was deleted): {names}"
        )


class UnsupportedVersionError(ValueError):
    """A state file was written by a newer release, with a schema this one cannot read.

    Such a file is not corrupt and is left where it is, untouched: set aside or
    replaced by an older snapshot, the newer release would lose what it recorded.

    Attributes
    ----------
    path
        The file.
    version
        Its schema version.
    """

    def __init__(self, path: Path, version: int) -> None:
        self.path = path
        self.version = version
        super().__init__(
            f"{path} has schema version {version}, written by a newer bluesky-timelapse; "
            f"this release reads versions up to {SCHEMA_VERSION}. Upgrade bluesky-timelapse "
            "to load it (the file was left untouched)"
        )


class _Unreadable(Exception):
    """A file that is not a valid state; ``args[0]`` says why."""


def default_store_directory() -> Path:
    """``$BLUESKY_TIMELAPSE_DIR/timelapses``, else the user data directory's ``timelapses``."""
    return default_data_dir() / "timelapses"


class TimelapseStore:
    """A directory of timelapse states, one crash-safe JSON file per timelapse.

    Every :meth:`save` replaces the file atomically (temporary file, fsync, rename,
    fsync of the directory) and also writes a numbered snapshot; the newest ``keep``
    snapshots are kept. A damaged file is set aside (never overwritten, never deleted)
    and the newest valid snapshot takes its place.

    One process at a time saves a given timelapse; any number may load it.

    Parameters
    ----------
    directory
        Where the files live; created (mode 0700) if missing. Default
        :func:`default_store_directory`.
    keep
        How many snapshots of each timelapse to keep, >= 1 (default 5). The newest is
        a copy of the current file.
    """

    def __init__(self, directory: Path | str | None = None, *, keep: int = 5) -> None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep={keep!r} is not allowed; allowed: a whole number >= 1")
        self.keep = keep
        self.directory = make_private_directory(
            default_store_directory() if directory is None else Path(directory)
        )
        self.snapshot_directory = self.directory / "snapshots"

    def __repr__(self) -> str:
        return f"TimelapseStore({str(self.directory)!r}, keep={self.keep})"

    def path(self, timelapse_id: str) -> Path:
        """The current state file of ``timelapse_id`` (it may not exist)."""
        return self.directory / f"{validate_timelapse_id(timelapse_id)}.json"

    def snapshots(self, timelapse_id: str) -> builtins.list[Path]:
        """The snapshot files of ``timelapse_id``, oldest first."""
        prefix = f"{validate_timelapse_id(timelapse_id)}.json."
        numbered = []
        try:
            entries = builtins.list(os.scandir(self.snapshot_directory))
        except FileNotFoundError:
            return []
        for entry in entries:
            number = entry.name[len(prefix) :]
            if entry.name.startswith(prefix) and number.isdigit() and number.isascii():
                numbered.append((int(number), Path(entry.path)))
        return [path for _, path in sorted(numbered)]

    def exists(self, timelapse_id: str) -> bool:
        """Whether ``timelapse_id`` has a current state file."""
        return self.path(timelapse_id).exists()

    def create(self, state: TimelapseState) -> Path:
        """Save a new timelapse and return its file.

        Raises
        ------
        FileExistsError
            If the id is taken: by a state file, or by snapshots left from an earlier
            timelapse of that id (remove or rename them first).
        """
        path = self.path(state.timelapse_id)
        if path.exists():
            raise FileExistsError(
                f"timelapse {state.timelapse_id!r} already exists ({path}); load it or "
                "choose another id"
            )
        leftovers = self.snapshots(state.timelapse_id)
        if leftovers:
            raise FileExistsError(
                f"timelapse id {state.timelapse_id!r} has snapshots of an earlier timelapse "
                f"({leftovers[-1]} and {len(leftovers) - 1} more); remove them or choose "
                "another id"
            )
        return self._write(state, exclusive=True)

    def save(self, state: TimelapseState) -> Path:
        """Write ``state`` atomically (setting its ``updated`` to now) and return its file."""
        return self._write(state, exclusive=False)

    def load(self, timelapse_id: str) -> TimelapseState:
        """Read the state of ``timelapse_id``, migrating an older schema.

        A damaged file is renamed ``<name>.corrupt-<UTC timestamp>`` with a WARNING,
        and the newest valid snapshot is loaded and written back as the current file.

        Raises
        ------
        FileNotFoundError
            If the timelapse has no state file.
        CorruptStoreError
            If neither the file nor any snapshot is readable (all set aside).
        UnsupportedVersionError
            If the file was written by a newer release (left untouched).
        """
        path = self.path(timelapse_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            left = self.snapshots(timelapse_id)
            hint = f"; its snapshots remain in {self.snapshot_directory}" if left else ""
            raise FileNotFoundError(
                f"no timelapse {timelapse_id!r} in {self.directory} ({path.name} is missing){hint}"
            ) from None
        try:
            state, version = _parse(data, path, timelapse_id)
        except _Unreadable as err:
            return self._recover(timelapse_id, str(err))
        if version < SCHEMA_VERSION:
            self._keep_original(path, data, version)
        return state

    def list(self) -> builtins.list[TimelapseState]:
        """Every loadable timelapse, oldest ``created`` first.

        A damaged file is recovered as in :meth:`load`; a timelapse that cannot be
        loaded at all is logged and left out, never stopping the listing.
        """
        states = []
        for path in sorted(self.directory.glob("*.json")):
            timelapse_id = path.name[: -len(".json")]
            try:
                states.append(self.load(timelapse_id))
            except (ValueError, OSError) as err:
                logger.warning("timelapse %r left out of the listing: %s", timelapse_id, err)
        return sorted(states, key=attrgetter("created", "timelapse_id"))

    # -- internals -------------------------------------------------------------------

    def _write(self, state: TimelapseState, *, exclusive: bool) -> Path:
        path = self.path(state.timelapse_id)
        state.updated = max(datetime.now(UTC), state.created)
        data = state.model_dump_json().encode()
        atomic_write(path, data, exclusive=exclusive)
        # After the current file, so that a crash in between leaves the newest state current.
        self._snapshot(state.timelapse_id, data)
        return path

    def _snapshot(self, timelapse_id: str, data: bytes) -> None:
        make_private_directory(self.snapshot_directory)
        existing = self.snapshots(timelapse_id)
        number = int(existing[-1].name.rsplit(".", 1)[1]) + 1 if existing else 1
        # Not fsynced: the current file is; a snapshot a power cut spoils is skipped
        # as invalid when recovering, and the one before it is used.
        atomic_write(
            self.snapshot_directory / f"{timelapse_id}.json.{number}", data, durable=False
        )
        for old in existing[: max(0, len(existing) + 1 - self.keep)]:
            old.unlink(missing_ok=True)

    def _recover(self, timelapse_id: str, reason: str) -> TimelapseState:
        path = self.path(timelapse_id)
        moved = [move_aside(path)]
        for snapshot in reversed(self.snapshots(timelapse_id)):
            try:
                data = snapshot.read_bytes()
                state, _ = _parse(data, snapshot, timelapse_id)
            except _Unreadable as err:
                moved.append(move_aside(snapshot))
                logger.warning(
                    "snapshot %s is unreadable (%s); moved aside to %s", snapshot, err, moved[-1]
                )
                continue
            except (UnsupportedVersionError, OSError) as err:
                logger.warning("snapshot %s skipped: %s", snapshot, err)
                continue
            atomic_write(path, data)
            logger.warning(
                "timelapse state file %s is unreadable (%s); moved aside to %s; recovered "
                "from snapshot %s (saved %s) and wrote it back as %s",
                path,
                reason,
                moved[0],
                snapshot,
                state.updated.isoformat(),
                path.name,
            )
            return state
        logger.warning(
            "timelapse state file %s is unreadable (%s) and no valid snapshot is left; "
            "moved aside: %s",
            path,
            reason,
            ", ".join(str(aside) for aside in moved),
        )
        raise CorruptStoreError(timelapse_id, f"{path.name} is unreadable ({reason})", moved)

    def _keep_original(self, path: Path, data: bytes, version: int) -> None:
        """Keep the file as it was before its first migration (the next save replaces it)."""
        original = path.with_name(f"{path.name}.v{version}")
        try:
            atomic_write(original, data, exclusive=True)
        except FileExistsError:
            pass
        except OSError as err:
            logger.warning("could not keep %s before migrating it: %s", original, err)


def _parse(data: bytes, source: Path, timelapse_id: str) -> tuple[TimelapseState, int]:
    """The state in ``data`` and the schema version it was written with."""
    if not data.strip():
        raise _Unreadable("the file is empty")
    try:  # the common case, in one pass; anything else is diagnosed step by step below
        state = TimelapseState.model_validate_json(data)
    except (ValidationError, RecursionError):
        pass
    else:
        if state.timelapse_id == timelapse_id and "version" in state.model_fields_set:
            return state, SCHEMA_VERSION
    try:
        raw = json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as err:
        raise _Unreadable(f"not JSON: {err}") from None
    if not isinstance(raw, dict):
        raise _Unreadable(f"not a JSON object but a {type(raw).__name__}")
    version = raw.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise _Unreadable(f"no valid schema version (version={version!r})")
    if version > SCHEMA_VERSION:
        raise UnsupportedVersionError(source, version)
    for step in range(version, SCHEMA_VERSION):
        if step not in MIGRATIONS:
            raise _Unreadable(f"schema version {step} has no migration to {step + 1}")
        try:
            raw = MIGRATIONS[step](raw)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as err:
            raise _Unreadable(
                f"not a valid version {step} state, cannot migrate it: {err!r}"
            ) from None
    try:
        state = TimelapseState.model_validate(raw)
    except (ValidationError, RecursionError) as err:
        raise _Unreadable(f"not a valid timelapse state: {_summary(err)}") from None
    if state.timelapse_id != timelapse_id:
        raise _Unreadable(f"it holds timelapse {state.timelapse_id!r}, not {timelapse_id!r}")
    return state, version


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _summary(err: Exception) -> str:
    if not isinstance(err, ValidationError):
        return str(err)
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'top level'}: {error['msg']}"
        for error in err.errors()[:3]
    ]
    more = f" (and {err.error_count() - 3} more)" if err.error_count() > 3 else ""
    return "; ".join(problems) + more
