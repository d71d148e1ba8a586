"""Schema versions of the timelapse state, the migrations between them, and the errors
of states that cannot be read.

A file of an older version is migrated on load, one version at a time, through
:data:`MIGRATIONS`; a file of a newer version is refused with
:class:`UnsupportedVersionError`. The migrations turn JSON objects into JSON
objects and know nothing of the model that validates the result.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

SCHEMA_VERSION: Final = 2
"""Version of the state file layout this release writes (and the newest it reads)."""


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

    def __init__(self, path: Path, version: int, *, supported: int = SCHEMA_VERSION) -> None:
        self.path = path
        self.version = version
        super().__init__(
            f"{path} has schema version {version}, written by a newer bluesky-timelapse; "
            f"this release reads versions up to {supported}. Upgrade bluesky-timelapse "
            "to load it (the file was left untouched)"
        )


class CorruptStoreError(ValueError):
    """No readable state of a timelapse is left; the unreadable data was set aside.

    Attributes
    ----------
    timelapse_id
        The timelapse.
    moved_aside
        Where the unreadable data is now; nothing was deleted.
    """

    def __init__(self, timelapse_id: str, reason: str, moved_aside: list[Path]) -> None:
        self.timelapse_id = timelapse_id
        self.moved_aside = moved_aside
        names = ", ".join(str(path) for path in moved_aside) or "none"
        super().__init__(
            f"timelapse {timelapse_id!r} has no readable state: {reason}, and no valid "
            f"snapshot is left. Moved aside (nothing was deleted): {names}"
        )


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


def _migrate_1_to_2(old: dict[str, Any]) -> dict[str, Any]:
    """Version 1 to 2: a slot ``skipped`` (a status version 2 lacks) becomes ``missed``.

    Version 1 had a final status ``skipped`` ("deliberately not run, with a reason"),
    reached from ``pending`` only, that nothing but a direct ``mark_skipped`` call
    produced: the missed-slot policy ``"skip"`` has always recorded slots ``missed``.
    ``missed`` is the closest status left: it too is final, reached from ``pending``
    only, and means the slot was not run and never will be, so the timelapse resumes
    at the same slot. The rest of the record stays as it was, the reason in ``error``
    included; the file as it was is kept beside the state (``<id>.json.v1``).
    Anything else that is not a valid version 1 state is passed on unchanged, for
    validation to name what is wrong with it.
    """
    slots = old.get("slots", [])
    if isinstance(slots, list):
        slots = [
            {**slot, "status": "missed"}
            if isinstance(slot, dict) and slot.get("status") == "skipped"
            else slot
            for slot in slots
        ]
    return {**old, "version": 2, "slots": slots}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: _migrate_0_to_1,
    1: _migrate_1_to_2,
}
"""``MIGRATIONS[n]`` turns the JSON object of schema version n into that of n + 1."""
