"""Importing the JSON files of earlier releases: damaged ones set aside, snapshots used."""

from __future__ import annotations

import logging

import pytest

from bluesky_timelapse import _files
from bluesky_timelapse.persistence import SCHEMA_VERSION, CorruptStoreError, TimelapseStore
from timelapse_states import ID, new_state, run_slot


def json_store(store: TimelapseStore, count: int) -> list[str]:
    """Write what release 0.2 left after ``count`` saves: the file and its snapshots."""
    state = new_state()
    contents = [state.model_dump_json()]
    for index in range(count - 1):
        run_slot(state, index)
        contents.append(state.model_dump_json())
    store.snapshot_directory.mkdir(exist_ok=True)
    for number, content in enumerate(contents, start=1):
        (store.snapshot_directory / f"{ID}.json.{number}").write_text(content)
    (store.directory / f"{ID}.json").write_text(contents[-1])
    return contents


# -- damaged files of an earlier release -----------------------------------------------------------------

VALID = new_state().model_dump_json()
VERSION = f'"version":{SCHEMA_VERSION}'
DAMAGE = {
    "truncated JSON": (VALID[: len(VALID) // 2].encode(), "not JSON"),
    "empty file": (b"", "the file is empty"),
    "blank file": (b" \n\n", "the file is empty"),
    "garbage bytes": (bytes(range(256)) * 4, "not JSON"),
    "zeros after a power cut": (b"\0" * 4096, "not JSON"),
    "JSON but not an object": (b"[1, 2, 3]", "not a JSON object but a list"),
    "NaN": (VALID.replace(VERSION, VERSION + ',"x":NaN').encode(), "NaN is not JSON"),
    "invalid state": (
        VALID.replace('"status":"running"', '"status":"paused"').encode(),
        "not a valid timelapse state: status",
    ),
    "invalid slot": (
        VALID.replace('"slots":[]', '"slots":[{"index":-1}]').encode(),
        "not a valid timelapse state: slots.0.index",
    ),
    "another timelapse": (
        VALID.replace('"bench-7"', '"bench-8"').encode(),
        "it holds timelapse 'bench-8', not 'bench-7'",
    ),
    "no version": (VALID.replace(VERSION + ",", "").encode(), "no valid schema version"),
    "version not a number": (
        VALID.replace(VERSION, f'"version":"{SCHEMA_VERSION}"').encode(),
        f"no valid schema version (version='{SCHEMA_VERSION}')",
    ),
    "negative version": (
        VALID.replace(VERSION, '"version":-1').encode(),
        "no valid schema version (version=-1)",
    ),
    "version 0 that is not a version 0 state": (
        VALID.replace(VERSION, '"version":0').encode(),
        "not a valid version 0 state, cannot migrate it: KeyError('schedule_times')",
    ),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damaged_file_is_set_aside_and_newest_snapshot_imported(
    store: TimelapseStore, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    content, reason = DAMAGE[damage]
    contents = json_store(store, 4)
    json_file = store.directory / f"{ID}.json"
    json_file.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="bluesky_timelapse.persistence"):
        state = store.load(ID)
    assert state.model_dump_json(exclude={"updated"}) == new_state().model_validate_json(
        contents[-1]
    ).model_dump_json(exclude={"updated"})  # the last state saved: nothing lost
    [aside] = store.directory.glob("bench-7.json.corrupt-*")
    assert aside.read_bytes() == content  # every byte of the damaged file is kept
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert str(json_file) in warnings and reason in warnings and str(aside) in warnings
    assert f"{ID}.json.4" in warnings  # the snapshot used
    assert TimelapseStore(store.directory).load(ID) == state  # imported for good


def test_damaged_snapshots_are_set_aside_too(
    store: TimelapseStore, caplog: pytest.LogCaptureFixture
) -> None:
    contents = json_store(store, 3)
    newest = store.snapshot_directory / f"{ID}.json.3"
    (store.directory / f"{ID}.json").write_bytes(b"")
    newest.write_bytes(b'{"version": 1')
    with caplog.at_level(logging.WARNING, logger="bluesky_timelapse.persistence"):
        state = store.load(ID)
    assert len(state.slots) == len(new_state().model_validate_json(contents[-2]).slots)
    assert [p.read_bytes() for p in store.directory.glob("bench-7.json.corrupt-*")] == [b""]
    [snapshot_aside] = store.snapshot_directory.glob("bench-7.json.3.corrupt-*")
    assert snapshot_aside.read_bytes() == b'{"version": 1'
    assert f"snapshot {newest} is unreadable" in caplog.text


def test_nothing_readable_raises_and_keeps_everything(store: TimelapseStore) -> None:
    json_store(store, 2)
    damaged = {store.directory / f"{ID}.json": b"\xff\xfe"}
    damaged |= {path: b"null" for path in store.snapshot_directory.glob(f"{ID}.json.*")}
    for path, content in damaged.items():
        path.write_bytes(content)
    with pytest.raises(CorruptStoreError) as raised:
        store.load(ID)
    error = raised.value
    assert error.timelapse_id == ID
    assert sorted(path.read_bytes() for path in error.moved_aside) == sorted(damaged.values())
    for path in error.moved_aside:
        assert str(path) in str(error)
    assert "no valid snapshot is left" in str(error)
    assert not store.exists(ID)


def test_repeated_damage_never_clobbers_an_aside_file(
    store: TimelapseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_files, "utc_timestamp", lambda: "20261122T080000Z")
    for content in (b"first", b"second"):
        (store.directory / f"{ID}.json").write_bytes(content)
        with pytest.raises(CorruptStoreError):
            store.load(ID)
    asides = sorted(store.directory.glob("bench-7.json.corrupt-*"))
    assert [p.name for p in asides] == [
        "bench-7.json.corrupt-20261122T080000Z",
        "bench-7.json.corrupt-20261122T080000Z-1",
    ]
    assert [p.read_bytes() for p in asides] == [b"first", b"second"]
