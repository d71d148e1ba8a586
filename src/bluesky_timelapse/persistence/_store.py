"""Where timelapse states survive crashes and power cuts: one SQLite database.

:class:`TimelapseStore` keeps the :class:`TimelapseState` of every timelapse in a
database in its directory, with per-timelapse snapshots, damaged data set aside and
the JSON files of earlier releases imported::

    store = TimelapseStore()                      # $BLUESKY_TIMELAPSE_DIR/timelapses
    state = TimelapseState(timelapse_id="bench-7", schedule=schedule.to_dict())
    store.create(state)
    state.mark_running(0, scheduled, lateness=0.4, started=now)
    store.save(state)                             # after every change

On disk, in the store directory (0700), every file mode 0600::

    timelapses.db (-wal, -shm)           every timelapse: a row each, a row per slot
    snapshots/<timelapse_id>.db.<n>      the last ``keep`` snapshots of a timelapse
    timelapses.db.corrupt-<UTC>          a database that could not be read, set aside
    <timelapse_id>.rows.corrupt-<UTC>    a timelapse's unreadable rows, set aside
    <timelapse_id>.json.imported-<UTC>   a JSON file of an earlier release, once imported
"""

from __future__ import annotations

import builtins
import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .._checks import check_seconds
from .._files import FILE_MODE, UnreadableFile, make_private_directory, move_aside
from ..data_dir import DataDirectory
from ._database import (
    connect,
    copy_timelapse,
    create_tables,
    delete_timelapse,
    iter_slot_rows,
    read_state,
    stored_status,
    timelapse_ids,
    transaction,
    write_state,
)
from ._json_files import json_state_files, numbered_files, read_json_state
from ._migrations import CorruptStoreError, UnsupportedVersionError
from ._state import SlotRecord, TimelapseState, validate_timelapse_id

logger = logging.getLogger("bluesky_timelapse.persistence")
"""Recoveries from damaged data and imports of JSON files are WARNINGs."""

DATABASE_FILE = "timelapses.db"
"""The store's database, in its directory."""

_UNREADABLE = (UnreadableFile, sqlite3.DatabaseError, UnicodeDecodeError)
"""What reading rows that do not make a valid state raises."""


def default_store_directory() -> Path:
    """``$BLUESKY_TIMELAPSE_DIR/timelapses``, else the user data directory's ``timelapses``."""
    return DataDirectory.default().timelapses


class TimelapseStore:
    """The states of timelapses, in one crash-safe SQLite database.

    :meth:`save` writes, in one transaction, the state's header, the slots it holds
    and its new suspensions: a slot transition costs the same at the millionth slot as
    at the first. A committed save survives SIGKILL and power loss (write-ahead log,
    ``synchronous=FULL``); a torn tail of the log is the uncommitted transaction and is
    dropped by SQLite, never what was committed before it. Any number of processes read
    while one writes.

    A snapshot of a timelapse (its rows in a small database of their own) is taken
    when it is created, when its status changes and at most every ``snapshot_every``
    seconds while it runs; the newest ``keep`` are kept. Rows that do not make a valid
    state are set aside and the newest valid snapshot takes their place; a database
    that is not one at all is set aside and rebuilt from the snapshots. Nothing is
    deleted.

    The JSON files of earlier releases (``<timelapse_id>.json``) are imported on first
    sight and renamed ``<timelapse_id>.json.imported-<UTC>``.

    Parameters
    ----------
    directory
        Where the files live; created (mode 0700) if missing. Default
        :func:`default_store_directory`.
    keep
        How many snapshots of each timelapse to keep, >= 1 (default 5).
    snapshot_every
        Seconds between snapshots of a running timelapse (default a day); a snapshot
        copies the timelapse's rows, so it is kept rare.
    """

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        keep: int = 5,
        snapshot_every: float = 86_400.0,
    ) -> None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep={keep!r} is not allowed; allowed: a whole number >= 1")
        self.keep = keep
        self.snapshot_every = check_seconds("snapshot_every", snapshot_every)
        self.directory = make_private_directory(
            default_store_directory() if directory is None else Path(directory)
        )
        self.database = self.directory / DATABASE_FILE
        self.snapshot_directory = self.directory / "snapshots"
        self._lock = threading.RLock()
        self._snapshot_taken: dict[str, float] = {}
        self._connection = self._open()
        self._closer = weakref.finalize(self, self._connection.close)
        for path in json_state_files(self.directory):
            self._import_quietly(path)

    def __repr__(self) -> str:
        return f"TimelapseStore({str(self.directory)!r}, keep={self.keep})"

    def close(self) -> None:
        """Close the database (also done when the store is garbage-collected)."""
        with self._lock:
            self._closer()

    def __enter__(self) -> TimelapseStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------

    def exists(self, timelapse_id: str) -> bool:
        """Whether the store holds ``timelapse_id``."""
        validate_timelapse_id(timelapse_id)
        with self._lock:
            if stored_status(self._connection, timelapse_id) is not None:
                return True
        return self._json_file(timelapse_id).exists()

    def load(self, timelapse_id: str, *, settled: bool = True) -> TimelapseState:
        """Read the state of ``timelapse_id``.

        Parameters
        ----------
        timelapse_id
            The timelapse.
        settled
            Also read the settled slots (every slot: what a person looks at). False
            leaves the leading settled slots summarised in ``state.settled``: what
            resuming and ``status`` need, at a cost that does not grow with them.

        Raises
        ------
        FileNotFoundError
            If the store does not hold the timelapse.
        CorruptStoreError
            If neither its rows nor any snapshot make a valid state (all set aside).
        UnsupportedVersionError
            If a newer release wrote it (left untouched).
        """
        validate_timelapse_id(timelapse_id)
        with self._lock:
            try:
                state = self._read(timelapse_id, settled=settled)
            except _UNREADABLE as err:
                return self._recover(timelapse_id, str(err), settled=settled)
            if state is not None:
                return state
        json_file = self._json_file(timelapse_id)
        if json_file.exists():
            self._import(json_file)
            return self.load(timelapse_id, settled=settled)
        left = self.snapshots(timelapse_id)
        hint = f"; snapshots of it remain in {self.snapshot_directory}" if left else ""
        raise FileNotFoundError(f"no timelapse {timelapse_id!r} in {self.directory}{hint}")

    def _read(self, timelapse_id: str, *, settled: bool) -> TimelapseState | None:
        with self._lock, transaction(self._connection, write=False) as connection:
            return read_state(connection, timelapse_id, settled=settled, source=self.database)

    def list(self, *, settled: bool = True) -> builtins.list[TimelapseState]:
        """Every loadable timelapse, oldest ``created`` first (``settled`` as in :meth:`load`).

        A timelapse that cannot be loaded is logged and left out, never stopping the
        listing.
        """
        for path in json_state_files(self.directory):
            self._import_quietly(path)
        with self._lock:
            ids = timelapse_ids(self._connection)
        states = []
        for timelapse_id in ids:
            try:
                states.append(self.load(timelapse_id, settled=settled))
            except (ValueError, OSError) as err:
                logger.warning("timelapse %r left out of the listing: %s", timelapse_id, err)
        return states

    def iter_slots(self, timelapse_id: str, *, start: int = 0) -> Iterator[SlotRecord]:
        """The stored slot records of ``timelapse_id`` from index ``start`` on, in order.

        One at a time, in bounded memory, whatever the length of the timelapse.

        Raises
        ------
        FileNotFoundError
            If the store does not hold the timelapse.
        """
        if not self.exists(timelapse_id):
            raise FileNotFoundError(f"no timelapse {timelapse_id!r} in {self.directory}")
        reader = sqlite3.connect(self.database, timeout=30.0)  # its own snapshot of the data
        try:
            for fields in iter_slot_rows(reader, timelapse_id, start=start):
                yield SlotRecord.model_validate(fields)
        finally:
            reader.close()

    def snapshots(self, timelapse_id: str) -> builtins.list[Path]:
        """The snapshot files of ``timelapse_id``, oldest first."""
        prefix = f"{validate_timelapse_id(timelapse_id)}.db."
        return numbered_files(self.snapshot_directory, prefix)

    # -- writing -------------------------------------------------------------------

    def create(self, state: TimelapseState) -> None:
        """Store a new timelapse.

        Raises
        ------
        FileExistsError
            If the id is taken: by a timelapse, or by snapshots left from an earlier
            timelapse of that id (remove or rename them first).
        """
        if self.exists(state.timelapse_id):
            raise FileExistsError(
                f"timelapse {state.timelapse_id!r} already exists in {self.directory}; load "
                "it or choose another id"
            )
        leftovers = self.snapshots(state.timelapse_id)
        if leftovers:
            raise FileExistsError(
                f"timelapse id {state.timelapse_id!r} has snapshots of an earlier timelapse "
                f"({leftovers[-1]} and {len(leftovers) - 1} more); remove them or choose "
                "another id"
            )
        self.save(state)

    def save(self, state: TimelapseState) -> None:
        """Write ``state`` durably, setting its ``updated`` to now.

        Writes its header, every slot it holds and its new suspensions, in one
        transaction: hold few slots (:meth:`TimelapseState.forget_settled`) and a save
        costs the same however long the timelapse.
        """
        state.updated = max(datetime.now(UTC), state.created)
        with self._lock, transaction(self._connection) as connection:
            before = stored_status(connection, state.timelapse_id)
            write_state(connection, state)
        if before != state.status or self._snapshot_due(state.timelapse_id):
            self._snapshot(state.timelapse_id)

    # -- snapshots -----------------------------------------------------------------

    def _snapshot_due(self, timelapse_id: str) -> bool:
        taken = self._snapshot_taken.get(timelapse_id)
        if taken is None:
            newest = self.snapshots(timelapse_id)[-1:]
            taken = newest[0].stat().st_mtime if newest else 0.0
            self._snapshot_taken[timelapse_id] = taken
        return time.time() - taken >= self.snapshot_every

    def _snapshot(self, timelapse_id: str) -> None:
        """Copy the timelapse's rows into ``snapshots/<id>.db.<n+1>``; keep the newest ``keep``."""
        make_private_directory(self.snapshot_directory)
        existing = self.snapshots(timelapse_id)
        number = int(existing[-1].name.rsplit(".", 1)[1]) + 1 if existing else 1
        target = self.snapshot_directory / f"{timelapse_id}.db.{number}"
        # Not fsynced: the database is; a snapshot a power cut spoils is skipped when
        # recovering, and the one before it is used.
        with self._lock:
            self._copy_rows(timelapse_id, target, durable=False)
        self._snapshot_taken[timelapse_id] = time.time()
        for old in existing[: max(0, len(existing) + 1 - self.keep)]:
            old.unlink(missing_ok=True)

    def _copy_rows(self, timelapse_id: str, target: Path, *, durable: bool) -> None:
        """Write the rows of ``timelapse_id`` to a new database file ``target``."""
        partial = target.with_name(f".{target.name}.tmp")
        partial.unlink(missing_ok=True)
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        connection = self._connection
        try:
            connection.execute("ATTACH DATABASE ? AS copy", (str(partial),))
            try:
                connection.execute(f"PRAGMA copy.synchronous = {'FULL' if durable else 'OFF'}")
                with transaction(connection):
                    create_tables(connection, "copy")
                    copy_timelapse(connection, timelapse_id, "main", "copy")
            finally:
                connection.execute("DETACH DATABASE copy")
        except BaseException:
            partial.unlink(missing_ok=True)  # no half copy left behind
            raise
        os.replace(partial, target)

    # -- recovery ------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        """Connect; a file that is not a database is set aside and rebuilt from snapshots."""
        try:
            return connect(self.database)
        except sqlite3.DatabaseError as err:
            return self._rebuild(str(err))

    def _rebuild(self, reason: str) -> sqlite3.Connection:
        """Set the database aside, and restore every timelapse from its newest valid snapshot."""
        aside = self._set_aside_database()
        connection = connect(self.database)
        restored: builtins.list[str] = []
        for path in sorted(self.snapshot_directory.glob("*.db.*")):
            timelapse_id = path.name.rsplit(".db.", 1)[0]
            if timelapse_id in restored:
                continue
            try:
                self._restore(connection, timelapse_id, [])
            except (CorruptStoreError, ValueError):
                continue
            restored.append(timelapse_id)
        logger.warning(
            "the timelapse store database %s is unreadable (%s); moved aside to %s and rebuilt "
            "from the newest valid snapshot of each timelapse: %s",
            self.database,
            reason,
            aside,
            ", ".join(restored) or "none",
        )
        return connection

    def _set_aside_database(self) -> Path:
        aside = move_aside(self.database)
        for suffix in ("-wal", "-shm"):
            companion = self.database.with_name(self.database.name + suffix)
            if companion.exists():
                companion.rename(aside.with_name(aside.name + suffix))
        return aside

    def _recover(self, timelapse_id: str, reason: str, *, settled: bool) -> TimelapseState:
        """Set the unreadable rows of ``timelapse_id`` aside and restore its newest snapshot.

        When that does not help (the database itself is damaged, e.g. its table
        definitions), the whole database is set aside and rebuilt from the snapshots.
        """
        rows = self.directory / f"{timelapse_id}.rows"
        try:
            self._copy_rows(timelapse_id, rows, durable=True)
            moved = [move_aside(rows)]
            with transaction(self._connection) as connection:
                delete_timelapse(connection, timelapse_id)
            restored = self._restore(self._connection, timelapse_id, moved, reason=reason)
            logger.warning(
                "timelapse %r has unreadable rows (%s); moved aside to %s; restored from its "
                "snapshot saved %s",
                timelapse_id,
                reason,
                moved[0],
                restored.updated.isoformat(),
            )
            state = self._read(timelapse_id, settled=settled)
        except _UNREADABLE as err:
            rows.unlink(missing_ok=True)
            self._closer()
            self._connection = self._rebuild(f"{reason}; then {err}")
            self._closer = weakref.finalize(self, self._connection.close)
            try:
                state = self._read(timelapse_id, settled=settled)
            except _UNREADABLE as again:
                raise CorruptStoreError(timelapse_id, f"{reason}; rebuilt: {again}", []) from None
        if state is None:
            raise CorruptStoreError(timelapse_id, reason, [])
        return state

    def _restore(
        self,
        connection: sqlite3.Connection,
        timelapse_id: str,
        moved: builtins.list[Path],
        *,
        reason: str = "its rows are unreadable",
    ) -> TimelapseState:
        """Copy the newest valid snapshot of ``timelapse_id`` into the database."""
        for snapshot in reversed(self.snapshots(timelapse_id)):
            try:
                return _restore_from(connection, timelapse_id, snapshot)
            except _UNREADABLE as err:
                moved.append(move_aside(snapshot))
                logger.warning("snapshot %s is unreadable (%s); moved aside", snapshot, err)
            except UnsupportedVersionError as err:
                logger.warning("snapshot %s skipped: %s", snapshot, err)
        raise CorruptStoreError(timelapse_id, reason, moved)

    # -- the JSON files of earlier releases ------------------------------------------

    def _json_file(self, timelapse_id: str) -> Path:
        return self.directory / f"{timelapse_id}.json"

    def _import(self, path: Path) -> None:
        """Copy the timelapse of a JSON file into the database, then rename the file.

        Raises what :func:`read_json_state` raises; the file is then left in place.
        """
        timelapse_id = validate_timelapse_id(path.name[: -len(".json")])
        state = read_json_state(self.directory, timelapse_id)
        with self._lock:
            with transaction(self._connection) as connection:
                new = stored_status(connection, timelapse_id) is None
                if new:  # else another process imported it first
                    write_state(connection, state)
            if new:
                self._snapshot(timelapse_id)
        try:
            kept = move_aside(path, tag="imported") if path.exists() else None
        except FileNotFoundError:  # another process renamed it just now
            kept = None
        if new:
            logger.warning(
                "timelapse %r imported from %s (%d slots) into %s; the file is kept as %s",
                timelapse_id,
                path,
                len(state.slots),
                self.database,
                kept,
            )

    def _import_quietly(self, path: Path) -> None:
        try:
            self._import(path)
        except (ValueError, OSError) as err:
            logger.warning("%s not imported into the timelapse store: %s", path, err)


def _restore_from(
    connection: sqlite3.Connection, timelapse_id: str, snapshot: Path
) -> TimelapseState:
    """Copy ``timelapse_id`` from the database file ``snapshot``, once it reads as valid."""
    connection.execute("ATTACH DATABASE ? AS snapshot", (str(snapshot),))
    try:
        state = read_state(
            connection, timelapse_id, settled=True, source=snapshot, schema="snapshot"
        )
        if state is None:
            raise UnreadableFile(f"it does not hold timelapse {timelapse_id!r}")
        with transaction(connection):
            copy_timelapse(connection, timelapse_id, "snapshot", "main")
    finally:
        connection.execute("DETACH DATABASE snapshot")
    return state
