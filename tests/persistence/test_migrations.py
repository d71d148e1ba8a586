"""Schema versions of the state file: older ones migrated, newer ones refused."""

from __future__ import annotations

import json

import pytest

from bluesky_timelapse.persistence import (
    MIGRATIONS,
    SCHEMA_VERSION,
    CorruptStoreError,
    TimelapseStore,
    UnsupportedVersionError,
)
from timelapse_states import ID, T0, at, files_under, new_state, saved_states


def test_newer_version_is_refused_and_left_untouched(store: TimelapseStore) -> None:
    saved_states(store, 2)
    newer = new_state().model_dump_json().replace('"version":1', '"version":2').encode()
    store.path(ID).write_bytes(newer)
    before = files_under(store.directory)
    with pytest.raises(UnsupportedVersionError, match="Upgrade bluesky-timelapse") as raised:
        store.load(ID)
    assert isinstance(raised.value, ValueError)
    assert not isinstance(raised.value, CorruptStoreError)
    assert (raised.value.version, raised.value.path) == (2, store.path(ID))
    assert "schema version 2" in str(raised.value)
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
    assert state.version == 1
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
    assert json.loads(store.path(ID).read_bytes())["version"] == 1
    assert (store.directory / "bench-7.json.v0").read_bytes() == original
    assert store.load(ID) == state


def test_migrated_snapshot_can_rescue(store: TimelapseStore) -> None:
    store.snapshot_directory.mkdir()
    (store.snapshot_directory / "bench-7.json.1").write_text(json.dumps(VERSION_0))
    store.path(ID).write_bytes(b"garbage")
    assert store.load(ID).slots[0].status == "succeeded"
