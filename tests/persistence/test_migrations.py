"""Schema versions: older JSON states migrated as they are imported, newer ones refused."""

from __future__ import annotations

import copy
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bluesky_timelapse.persistence import (
    DATABASE_FILE,
    DATABASE_VERSION,
    MIGRATIONS,
    SCHEMA_VERSION,
    CorruptStoreError,
    TimelapseState,
    TimelapseStore,
    UnsupportedVersionError,
)
from timelapse_states import ID, T0, at, files_under, new_state


def json_file(store: TimelapseStore) -> Path:
    """Where an earlier release kept the state of timelapse ``ID``."""
    return store.directory / f"{ID}.json"


def imported_copy(store: TimelapseStore) -> bytes:
    """The JSON file as it was, kept after its import."""
    (kept,) = store.directory.glob(f"{ID}.json.imported-*")
    return kept.read_bytes()


def test_newer_version_is_refused_and_left_untouched(store: TimelapseStore) -> None:
    newer = (
        new_state()
        .model_dump_json()
        .replace(f'"version":{SCHEMA_VERSION}', f'"version":{SCHEMA_VERSION + 1}')
        .encode()
    )
    json_file(store).write_bytes(newer)
    before = files_under(store.directory)
    with pytest.raises(UnsupportedVersionError, match="Upgrade bluesky-timelapse") as raised:
        store.load(ID)
    assert isinstance(raised.value, ValueError)
    assert not isinstance(raised.value, CorruptStoreError)
    assert (raised.value.version, raised.value.path) == (SCHEMA_VERSION + 1, json_file(store))
    assert f"schema version {SCHEMA_VERSION + 1}" in str(raised.value)
    assert files_under(store.directory) == before  # not set aside, nothing replaced
    assert not store.exists(ID) or store.list() == []


def test_a_database_of_a_newer_release_is_refused_and_left_untouched(tmp_path: Path) -> None:
    TimelapseStore(tmp_path).create(new_state())
    database = tmp_path / DATABASE_FILE
    with sqlite3.connect(database) as connection:
        connection.execute(f"PRAGMA user_version = {DATABASE_VERSION + 1}")
    connection.close()
    before = files_under(tmp_path)
    with pytest.raises(UnsupportedVersionError, match="Upgrade bluesky-timelapse") as raised:
        TimelapseStore(tmp_path)
    assert (raised.value.path, raised.value.version) == (database, DATABASE_VERSION + 1)
    assert f"reads versions up to {DATABASE_VERSION}" in str(raised.value)
    assert files_under(tmp_path) == before


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
    json_file(store).write_bytes(original)
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
    # imported into the database, the file kept as it was
    assert not json_file(store).exists() and imported_copy(store) == original
    state.mark_interrupted(2, reason="resumed after an upgrade")
    store.save(state)
    assert store.load(ID) == state
    assert TimelapseStore(store.directory).load(ID) == state
    assert imported_copy(store) == original


def test_migrated_snapshot_can_rescue(store: TimelapseStore) -> None:
    store.snapshot_directory.mkdir()
    (store.snapshot_directory / "bench-7.json.1").write_text(json.dumps(VERSION_0))
    json_file(store).write_bytes(b"garbage")
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
    json_file(store).write_bytes(original)
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
    # imported into the database, the file kept as it was
    assert imported_copy(store) == original
    state.end_suspension(at(30))
    store.save(state)
    assert store.load(ID) == state
    assert imported_copy(store) == original


def test_version_1_snapshot_with_a_skipped_slot_can_rescue(store: TimelapseStore) -> None:
    store.snapshot_directory.mkdir()
    (store.snapshot_directory / "bench-7.json.1").write_text(json.dumps(VERSION_1))
    json_file(store).write_bytes(b"garbage")
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
    json_file(store).write_text(json.dumps(VERSION_1 | {"slots": slots}))
    with pytest.raises(CorruptStoreError) as raised:
        store.load(ID)
    assert f"not a valid timelapse state: {problem}" in str(raised.value)


FIXTURE = Path(__file__).parent / "fixtures" / "json-store"
"""A store written by the JSON store of release 0.2: one timelapse, two snapshots."""


def test_a_json_store_of_release_0_2_is_imported_on_first_open(tmp_path: Path) -> None:
    directory = tmp_path / "timelapses"
    shutil.copytree(FIXTURE, directory)
    original = (directory / "json-rig.json").read_bytes()
    expected = TimelapseState.model_validate_json(original)

    store = TimelapseStore(directory)  # opening imports it

    assert not (directory / "json-rig.json").exists()
    (kept,) = directory.glob("json-rig.json.imported-*")
    assert kept.read_bytes() == original
    assert store.load("json-rig") == expected
    assert [s.status for s in store.load("json-rig").slots] == [
        "succeeded", "succeeded", "succeeded", "failed", "missed", "interrupted",
    ]  # fmt: skip
    assert store.snapshots("json-rig")  # a snapshot of the imported state
    # resuming after the import: the done slots are summarised, the owed stops are held
    partial = store.load("json-rig", settled=False)
    assert partial.settled.below == 2
    assert [record.index for record in partial.slots] == [2, 3, 4, 5]
    assert (partial.next_index, partial.counts()) == (6, expected.counts())
    assert partial.open_suspension is not None
    assert partial.last_error == "RuntimeError: sensor timeout"
    # a second open finds nothing more to import and changes nothing
    assert TimelapseStore(directory).load("json-rig") == expected
    assert len(list(directory.glob("json-rig.json.imported-*"))) == 1
