"""The crash-safe store of timelapse states: the database, snapshots, damaged data."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import platformdirs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bluesky_timelapse.persistence import (
    DATABASE_FILE,
    CorruptStoreError,
    TimelapseState,
    TimelapseStore,
    UnsupportedVersionError,
    default_store_directory,
)
from timelapse_states import ID, at, files_under, new_state, run_slot


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def closed_slots(state: TimelapseState, count: int) -> TimelapseState:
    """Run slots ``0 .. count - 1`` of ``state`` to success, their runs closed."""
    for index in range(state.next_index, state.next_index + count):
        run_slot(state, index)
        state.mark_stop_emitted(index)
    return state


def sql(store: TimelapseStore, statement: str, *parameters: object) -> None:
    """Change the database behind the store's back, as another program could."""
    with sqlite3.connect(store.database) as connection:
        connection.execute(statement, parameters)
    connection.close()


# -- the store ---------------------------------------------------------------------


def test_default_directory_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BLUESKY_TIMELAPSE_DIR", str(tmp_path / "data"))
    assert default_store_directory() == tmp_path / "data" / "timelapses"
    store = TimelapseStore()
    assert store.directory == tmp_path / "data" / "timelapses"
    assert store.database == store.directory / DATABASE_FILE
    assert store.directory.is_dir() and mode_of(store.directory) == 0o700


def test_default_directory_is_the_user_data_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLUESKY_TIMELAPSE_DIR", raising=False)
    expected = platformdirs.user_data_path("bluesky-timelapse") / "timelapses"
    assert default_store_directory() == expected


@pytest.mark.parametrize("keep", [0, -1, True, 1.5, "5"])
def test_keep_is_validated(tmp_path: Path, keep: object) -> None:
    with pytest.raises(ValueError, match=r"keep=.* is not allowed; allowed: a whole number >= 1"):
        TimelapseStore(tmp_path, keep=keep)  # type: ignore[arg-type]


@pytest.mark.parametrize("every", [0, -1.0, float("nan"), "1"])
def test_snapshot_every_is_validated(tmp_path: Path, every: object) -> None:
    with pytest.raises(ValueError, match=r"snapshot_every .* allowed: a finite number of seconds"):
        TimelapseStore(tmp_path, snapshot_every=every)  # type: ignore[arg-type]
    assert not (tmp_path / DATABASE_FILE).exists()


def test_create_load_round_trip(store: TimelapseStore) -> None:
    state = new_state()
    run_slot(state, 0)
    state.begin_suspension("door open", at(3))
    store.create(state)
    assert store.exists(ID) and not store.exists("other")
    assert store.load(ID) == state
    assert TimelapseStore(store.directory).load(ID) == state  # another process's view


def test_files_are_private(store: TimelapseStore) -> None:
    state = new_state()
    store.create(state)
    store.save(closed_slots(state, 2))
    files = [p for p in store.directory.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {DATABASE_FILE, f"{DATABASE_FILE}-wal", f"{ID}.db.1"}
    assert {mode_of(p) for p in files} == {0o600}
    assert mode_of(store.snapshot_directory) == 0o700


def test_create_refuses_an_existing_id(store: TimelapseStore) -> None:
    store.create(new_state())
    before = files_under(store.directory)
    with pytest.raises(FileExistsError, match="timelapse 'bench-7' already exists"):
        store.create(new_state())
    assert files_under(store.directory) == before


def test_create_refuses_leftover_snapshots(store: TimelapseStore) -> None:
    store.create(new_state())
    for table in ("timelapses", "slots", "suspensions"):
        sql(store, f"DELETE FROM {table}")
    with pytest.raises(FileExistsError, match="'bench-7' has snapshots of an earlier timelapse"):
        store.create(new_state())


def test_save_sets_updated(store: TimelapseStore) -> None:
    state = TimelapseState(timelapse_id=ID, created=datetime.now(UTC) - timedelta(hours=1))
    before = datetime.now(UTC)
    store.save(state)
    assert before <= state.updated <= datetime.now(UTC)
    assert store.load(ID).updated == state.updated


def test_ids_never_escape_the_directory(store: TimelapseStore) -> None:
    for bad in ("../x", "a/b", ".hidden", "", "x" * 101):
        with pytest.raises(ValueError, match="is not allowed"):
            store.load(bad)
        with pytest.raises(ValueError, match="is not allowed"):
            store.exists(bad)


def test_load_missing(store: TimelapseStore) -> None:
    with pytest.raises(FileNotFoundError, match=r"no timelapse 'nope' in .*timelapses"):
        store.load("nope")


def test_list_sorted_by_created(store: TimelapseStore) -> None:
    for timelapse_id, minutes in (("b", 5), ("a", 10), ("c", 0)):
        store.create(TimelapseState(timelapse_id=timelapse_id, created=at(minutes)))
    (store.directory / "notes.txt").write_text("not a timelapse")
    assert [state.timelapse_id for state in store.list()] == ["c", "b", "a"]
    assert [state.timelapse_id for state in store.list(settled=False)] == ["c", "b", "a"]


# -- settled slots: what a long timelapse does not hold -------------------------------


def test_a_state_without_its_settled_slots_says_the_same(store: TimelapseStore) -> None:
    state = closed_slots(new_state(), 5)
    state.mark_running(5, at(50), lateness=2.0, started=at(50))
    state.mark_run_uid(5, "uid-5")
    state.mark_failed(5, "RuntimeError: no frame", finished=at(51))  # its stop still owed
    state.mark_missed(6, at(60), lateness=99.0)
    store.create(state)

    partial = store.load(ID, settled=False)

    assert partial.settled.below == 5
    assert [record.index for record in partial.slots] == [5, 6]
    assert partial.slots == state.slots[5:]
    assert (partial.next_index, partial.counts()) == (state.next_index, state.counts())
    assert partial.last_error == state.last_error == "RuntimeError: no frame"
    with pytest.raises(ValueError, match="slot 2 is settled and this state does not hold it"):
        partial.slot(2)


def test_forgetting_settled_slots_keeps_them_in_the_store(store: TimelapseStore) -> None:
    state = new_state()
    store.create(state)
    for _ in range(4):
        closed_slots(state, 3)
        store.save(state)
        assert state.forget_settled() == 3
        assert state.slots == []
    state.mark_running(12, at(120), lateness=0.0, started=at(120))
    store.save(state)
    full = store.load(ID)
    assert [record.index for record in full.slots] == list(range(13))
    assert full.settled.below == 0
    assert store.load(ID, settled=False).slots == state.slots
    assert [record.index for record in store.iter_slots(ID, start=10)] == [10, 11, 12]


def test_a_gap_in_the_slots_ends_the_settled_ones(store: TimelapseStore) -> None:
    state = closed_slots(new_state(), 3)
    state.mark_missed(5, at(50), lateness=700.0)  # 3 and 4 never recorded: pending
    store.create(state)
    partial = store.load(ID, settled=False)
    assert (partial.settled.below, partial.next_index) == (3, 3)
    assert [record.index for record in partial.slots] == [5]


# -- snapshots -----------------------------------------------------------------------


def test_snapshots_at_creation_status_change_and_when_due(tmp_path: Path) -> None:
    store = TimelapseStore(tmp_path, keep=3)
    state = new_state()
    store.create(state)
    assert [p.name for p in store.snapshots(ID)] == [f"{ID}.db.1"]
    store.save(closed_slots(state, 2))
    assert len(store.snapshots(ID)) == 1  # not due yet: a day apart by default
    state.finish("completed")
    store.save(state)
    assert [p.name for p in store.snapshots(ID)] == [f"{ID}.db.1", f"{ID}.db.2"]

    frequent = TimelapseStore(tmp_path, keep=3, snapshot_every=1e-9)
    other = new_state("other")
    for _ in range(5):
        frequent.save(closed_slots(other, 1))
    assert [p.name for p in frequent.snapshots("other")] == [f"other.db.{n}" for n in (3, 4, 5)]
    assert len(frequent.snapshots(ID)) == 2  # per timelapse
    with sqlite3.connect(frequent.snapshots("other")[-1]) as snapshot:
        assert snapshot.execute("SELECT COUNT(*) FROM slots").fetchone() == (5,)
        assert snapshot.execute("SELECT timelapse_id FROM timelapses").fetchall() == [("other",)]
    snapshot.close()


# -- damaged data --------------------------------------------------------------------


def test_unreadable_rows_are_set_aside_and_the_snapshot_restored(
    store: TimelapseStore, caplog: pytest.LogCaptureFixture
) -> None:
    state = new_state()
    store.create(state)  # snapshot 1: no slot
    store.save(closed_slots(state, 2))
    sql(store, 'UPDATE timelapses SET header = \'{"version": 2, "status": 7}\'')
    with caplog.at_level(logging.WARNING, logger="bluesky_timelapse.persistence"):
        restored = store.load(ID)
    assert restored.slots == [] and restored.timelapse_id == ID
    [aside] = store.directory.glob(f"{ID}.rows.corrupt-*")
    with sqlite3.connect(aside) as kept:  # every damaged row is kept
        assert kept.execute("SELECT header FROM timelapses").fetchone() == (
            '{"version": 2, "status": 7}',
        )
        assert kept.execute("SELECT COUNT(*) FROM slots").fetchone() == (2,)
    kept.close()
    assert f"timelapse '{ID}' has unreadable rows" in caplog.text and str(aside) in caplog.text
    assert TimelapseStore(store.directory).load(ID) == restored


def test_unreadable_rows_without_a_snapshot_raise_and_keep_everything(
    store: TimelapseStore,
) -> None:
    store.create(closed_slots(new_state(), 1))
    for snapshot in store.snapshots(ID):
        snapshot.write_bytes(b"not a database")
    sql(store, "UPDATE slots SET status = 'paused'")
    with pytest.raises(CorruptStoreError, match="no valid snapshot is left") as raised:
        store.load(ID)
    moved = raised.value.moved_aside
    assert [p.name.split(".corrupt-")[0] for p in moved] == [f"{ID}.rows", f"{ID}.db.1"]
    assert moved[1].read_bytes() == b"not a database"
    assert "slots.0.status" in str(raised.value)


def test_a_file_that_is_not_a_database_is_set_aside_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = TimelapseStore(tmp_path)
    state = new_state()
    store.create(state)
    store.create(new_state("other"))
    store.close()
    for companion in tmp_path.glob(f"{DATABASE_FILE}-*"):
        companion.unlink()  # checkpointed on close
    (tmp_path / DATABASE_FILE).write_bytes(b"\0" * 4096)  # zeros after a power cut
    with caplog.at_level(logging.WARNING, logger="bluesky_timelapse.persistence"):
        rebuilt = TimelapseStore(tmp_path)
    assert rebuilt.load(ID) == state
    assert [s.timelapse_id for s in rebuilt.list()] == [ID, "other"]
    [aside] = tmp_path.glob(f"{DATABASE_FILE}.corrupt-*")
    assert aside.read_bytes() == b"\0" * 4096
    assert "is unreadable" in caplog.text and f"{ID}, other" in caplog.text


_VALID_DATABASE = tempfile.mkdtemp()
_store = TimelapseStore(_VALID_DATABASE)
_store.create(closed_slots(new_state(), 2))
_store.close()
_VALID_BYTES = (Path(_VALID_DATABASE) / DATABASE_FILE).read_bytes()


def _damaged(valid: bytes) -> st.SearchStrategy[bytes]:
    cut = st.integers(0, len(valid)).map(lambda n: valid[:n])
    flip = st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 255)).map(
        lambda change: valid[: change[0]] + bytes([change[1]]) + valid[change[0] + 1 :]
    )
    return st.one_of(st.binary(max_size=2048), cut, flip)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=_damaged(_VALID_BYTES))
def test_arbitrary_bytes_as_the_database_never_crash_nor_lose_data(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = TimelapseStore(directory)
        store.create(closed_slots(new_state(), 1))  # its snapshot is the way back
        store.close()
        for companion in Path(directory).glob(f"{DATABASE_FILE}-*"):
            companion.unlink()
        (Path(directory) / DATABASE_FILE).write_bytes(content)
        try:
            state = TimelapseStore(directory).load(ID)
        except UnsupportedVersionError:
            pass  # a version number flipped higher: left as it is
        except CorruptStoreError:
            pass
        except FileNotFoundError:  # a valid database without this timelapse
            pass
        else:
            assert state.timelapse_id == ID
        kept = [p.read_bytes() for p in Path(directory).rglob("*") if p.is_file()]
        assert content in kept or _opened_in_place(content)
        assert not [name for name in os.listdir(directory) if name.endswith(".tmp")]


def _opened_in_place(content: bytes) -> bool:
    """Whether ``content`` is a database SQLite opens (and may then change, e.g. empty)."""
    return not content or (len(content) >= 100 and content.startswith(b"SQLite format 3\0"))


# -- any sequence of transitions ---------------------------------------------------------

OPERATIONS = ("run", "uid", "close", "succeed", "fail", "miss", "interrupt", "stop")


def _apply(state: TimelapseState, operation: str, index: int) -> None:
    when = at(10 * index)
    match operation:
        case "run":
            state.mark_running(index, when, lateness=0.5, started=when)
        case "uid":
            state.mark_run_uid(index, f"uid-{index}")
        case "close":
            state.mark_run_closed(index)
        case "succeed":
            state.mark_succeeded(index, finished=when)
        case "fail":
            state.mark_failed(index, f"failed {index}", finished=when)
        case "miss":
            state.mark_missed(index, when, lateness=99.0)
        case "interrupt":
            state.mark_interrupted(index, reason="ended")
        case "stop":
            state.mark_stop_emitted(index)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(st.sampled_from((*OPERATIONS, "resume")), st.integers(0, 5)), max_size=40
    )
)
def test_any_transition_sequence_saved_as_it_goes_is_what_a_full_state_says(
    steps: list[tuple[str, int]],
) -> None:
    with tempfile.TemporaryDirectory() as directory, TimelapseStore(directory) as store:
        model = new_state()  # never saved, never forgets
        live = new_state()
        store.create(live)
        for operation, index in steps:
            if operation == "resume":  # a new session: only what it needs
                live = store.load(ID, settled=False)
                continue
            try:
                _apply(model, operation, index)
            except ValueError:
                continue  # illegal: no change to record
            try:
                _apply(live, operation, index)
            except ValueError as err:  # a settled slot's stop again: already recorded
                assert operation == "stop" and "is settled" in str(err)
                continue
            store.save(live)
            live.forget_settled()
            full = store.load(ID)
            assert full.model_dump(exclude={"updated"}) == model.model_dump(exclude={"updated"})
            partial = store.load(ID, settled=False)
            assert (partial.next_index, partial.counts(), partial.last_error) == (
                model.next_index,
                model.counts(),
                model.last_error,
            )
