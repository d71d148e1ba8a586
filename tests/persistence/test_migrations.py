"""Schema versions of the state file: older ones migrated, newer ones refused."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from bluesky_timelapse.persistence import (
    MIGRATIONS,
    SCHEMA_VERSION,
    CorruptStoreError,
    TimelapseState,
    TimelapseStore,
    UnsupportedVersionError,
)
from timelapse_states import ID, T0, at, files_under, new_state, saved_states


def test_newer_version_is_refused_and_left_untouched(store: TimelapseStore) -> None:
    saved_states(store, 2)
    newer = (
        new_state()
        .model_dump_json()
        .replace(f'"version":{SCHEMA_VERSION}', f'"version":{SCHEMA_VERSION + 1}')
        .encode()
    )
    store.path(ID).write_bytes(newer)
    before = files_under(store.directory)
    with pytest.raises(UnsupportedVersionError, match="Upgrade bluesky-timelapse") as raised:
        store.load(ID)
    assert isinstance(raised.value, ValueError)
    assert not isinstance(raised.value, CorruptStoreError)
    assert (raised.value.version, raised.value.path) == (SCHEMA_VERSION + 1, store.path(ID))
    assert f"schema version {SCHEMA_VERSION + 1}" in str(raised.value)
    assert files_under(store.directory) == before  # not set aside, nothing replaced


# -- migrations --------------------------------------------------------------------

VERSION_0 = {
    "version": 0,
    "timelapse_id": ID,
    "created_at": "2026-11-22T08:00:00",
    "state": "paused",
    "schedule": {"kind": "every", "interval": 600, "count": 4},
    "schedule_times": [
        "2026-11-22T08:00:00",
        "2026-11-22T08:10:00+00:00",
        "2026-11-22T09:20:00+01:00",
        "2026-11-22T08:30:00Z",
    ],
    "detectors": ["cam"],
    "plan": "count",
    "plan_kwargs": {},
    "md": {"operator": "ada"},
    "warmup_sec": 30,
    "standby_threshold_sec": 3600,
    "grace_period": 120,
    "scans": [
        {
            "scan_id": 1,
            "started_at": "2026-11-22T08:10:02",
            "finished_at": "2026-11-22T08:10:09",
            "status": "failed",
            "error": "camera timed out",
        },
        {
            "scan_id": 0,
            "started_at": "2026-11-22T08:00:01.5",
            "finished_at": "2026-11-22T08:00:07",
            "status": "done",
            "error": None,
        },
        {"scan_id": 2, "started_at": "2026-11-22T08:20:00", "status": "running"},
    ],
}


def test_migrations_registry() -> None:
    assert sorted(MIGRATIONS) == list(range(SCHEMA_VERSION))


def test_migration_from_version_0(store: TimelapseStore) -> None:
    original = json.dumps(VERSION_0, indent=2).encode()
    store.path(ID).write_bytes(original)
    state = store.load(ID)
    assert state.version == 2
    assert (state.created, state.updated, state.status) == (T0, at(20), "running")
    assert state.schedule == VERSION_0["schedule"]
    assert state.md == {"operator": "ada"}
    assert state.options == {"warmup": 30, "standby_threshold": 3600, "grace": 120}
    assert state.suspensions == []
    first, second, third = state.slots
    assert (first.index, first.status, first.scheduled, first.lateness) == (
        0,
        "succeeded",
        at(0),
        1.5,
    )
    assert (first.started, first.finished, first.run_uid) == (at(0.025), at(7 / 60), None)
    assert (second.status, second.error, second.lateness) == ("failed", "camera timed out", 2.0)
    assert (third.status, third.scheduled, third.finished) == ("running", at(20), None)
    assert state.next_index == 2
    # the file itself is untouched until the next save, and its original is kept
    assert store.path(ID).read_bytes() == original
    assert (store.directory / "bench-7.json.v0").read_bytes() == original
    state.mark_interrupted(2, reason="resumed after an upgrade")
    store.save(state)
    assert json.loads(store.path(ID).read_bytes())["version"] == 2
    assert (store.directory / "bench-7.json.v0").read_bytes() == original
    assert store.load(ID) == state


def test_migrated_snapshot_can_rescue(store: TimelapseStore) -> None:
    store.snapshot_directory.mkdir()
    (store.snapshot_directory / "bench-7.json.1").write_text(json.dumps(VERSION_0))
    store.path(ID).write_bytes(b"garbage")
    assert store.load(ID).slots[0].status == "succeeded"


def v1_slot(index: int, status: str, **fields: Any) -> dict[str, Any]:
    """A slot record as version 1 wrote it."""
    scheduled = at(10 * index).isoformat().replace("+00:00", "Z")
    empty = {"run_uid": None, "started": None, "finished": None, "lateness": None}
    record = {"index": index, "scheduled": scheduled, "status": status, **empty}
    return record | {"error": None, "stop_emitted": True} | fields


VERSION_1 = {
    "version": 1,
    "timelapse_id": ID,
    "created": "2026-11-22T08:00:00Z",
    "updated": "2026-11-22T08:21:00Z",
    "status": "running",
    "schedule": {"kind": "every", "interval": 600, "count": 100},
    "detectors": ["cam"],
    "plan": "count",
    "plan_kwargs": {"num": 1},
    "md": {"operator": "ada"},
    "options": {"grace": 60, "missed": "skip"},
    "slots": [
        v1_slot(
            0,
            "succeeded",
            run_uid="uid-0",
            started="2026-11-22T08:00:00.500Z",
            finished="2026-11-22T08:01:00Z",
            lateness=0.5,
        ),
        v1_slot(1, "skipped", error="outside window"),
        v1_slot(2, "missed", lateness=75.0),
    ],
    "suspensions": [{"started": "2026-11-22T08:05:00Z", "ended": None, "reason": "door open"}],
}


def test_migration_from_version_1_makes_a_skipped_slot_missed(store: TimelapseStore) -> None:
    original = json.dumps(VERSION_1, indent=2).encode()
    store.path(ID).write_bytes(original)
    state = store.load(ID)
    assert state.version == 2
    skipped = state.slot(1)
    assert skipped is not None
    assert (skipped.status, skipped.error, skipped.scheduled) == (
        "missed",
        "outside window",
        at(10),
    )
    assert (skipped.lateness, skipped.started, skipped.run_uid) == (None, None, None)
    # everything else is as it was
    unchanged = copy.deepcopy(VERSION_1) | {"version": 2}
    unchanged["slots"][1]["status"] = "missed"
    assert state == TimelapseState.model_validate(unchanged)
    assert state.next_index == 3
    assert state.counts() == {
        "pending": 0,
        "running": 0,
        "succeeded": 1,
        "failed": 0,
        "missed": 2,
        "interrupted": 0,
    }
    # the file itself is untouched until the next save, and its original is kept
    assert store.path(ID).read_bytes() == original
    assert (store.directory / "bench-7.json.v1").read_bytes() == original
    state.end_suspension(at(30))
    store.save(state)
    assert json.loads(store.path(ID).read_bytes())["version"] == 2
    assert (store.directory / "bench-7.json.v1").read_bytes() == original
    assert store.load(ID) == state


def test_version_1_snapshot_with_a_skipped_slot_can_rescue(store: TimelapseStore) -> None:
    store.snapshot_directory.mkdir()
    (store.snapshot_directory / "bench-7.json.1").write_text(json.dumps(VERSION_1))
    store.path(ID).write_bytes(b"garbage")
    assert [slot.status for slot in store.load(ID).slots] == ["succeeded", "missed", "missed"]


@pytest.mark.parametrize(
    "slots, problem",
    [
        ("three", "slots: Input should be a valid list"),
        ([7, v1_slot(1, "skipped")], "slots.0: Input should be a valid dictionary"),
        ([v1_slot(0, "skipped"), v1_slot(1, "paused")], "slots.1.status: Input should be"),
    ],
)
def test_an_invalid_version_1_state_is_named_by_validation(
    store: TimelapseStore, slots: object, problem: str
) -> None:
    store.path(ID).write_text(json.dumps(VERSION_1 | {"slots": slots}))
    with pytest.raises(CorruptStoreError) as raised:
        store.load(ID)
    assert f"not a valid timelapse state: {problem}" in str(raised.value)
