"""The SQLite tables timelapse states live in, and how a state maps to their rows.

One row per timelapse (its header: everything but slots and suspensions, as JSON),
one row per recorded slot, one row per suspension. The same tables serve the store's
database, its per-timelapse snapshots and the files damaged rows are set aside to;
every function here takes the connection and the schema name (``main`` or an attached
database) it works on, and leaves transactions to its caller.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from .._files import FILE_MODE, UnreadableFile
from ._migrations import SCHEMA_VERSION, UnsupportedVersionError
from ._state import FINAL_SLOT_STATUSES, SLOT_STATUSES, SlotRecord, Suspension, TimelapseState

DATABASE_VERSION: Final = 1
"""Layout of the tables (SQLite's ``user_version``) this release writes and reads."""

_MAGIC = b"SQLite format 3\0"
_HEADER_SIZE = 100

BUSY_TIMEOUT = 30.0
"""Seconds a writer waits for another process's transaction before giving up."""

_OPEN = "stop_emitted = 0 OR status IN ({})".format(
    ", ".join(f"'{status}'" for status in SLOT_STATUSES if status not in FINAL_SLOT_STATUSES)
)
"""A slot row that is not settled: its run not closed, or its status not final."""

_TABLES = (
    """CREATE TABLE IF NOT EXISTS {schema}.timelapses (
        timelapse_id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        status TEXT NOT NULL,
        header TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS {schema}.slots (
        timelapse_id TEXT NOT NULL,
        slot_index INTEGER NOT NULL,
        scheduled TEXT NOT NULL,
        status TEXT NOT NULL,
        run_uid TEXT,
        started TEXT,
        finished TEXT,
        lateness REAL,
        error TEXT,
        stop_emitted INTEGER NOT NULL,
        PRIMARY KEY (timelapse_id, slot_index)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS {schema}.suspensions (
        timelapse_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        started TEXT NOT NULL,
        ended TEXT,
        reason TEXT NOT NULL,
        PRIMARY KEY (timelapse_id, position)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS {schema}.slots_by_status ON slots (timelapse_id, status, slot_index)",
    "CREATE INDEX IF NOT EXISTS {schema}.slots_unsettled ON slots (timelapse_id, slot_index) "
    f"WHERE {_OPEN}",
)
_SLOT_COLUMNS = (
    "slot_index, scheduled, status, run_uid, started, finished, lateness, error, stop_emitted"
)
_SLOT_FIELDS = (
    "index", "scheduled", "status", "run_uid", "started", "finished", "lateness", "error",
    "stop_emitted",
)  # fmt: skip


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating it, mode 0600) the store database at ``path``, with its tables.

    Write-ahead log, ``synchronous=FULL``: a committed transaction survives SIGKILL and
    power loss, and readers in other processes never block the writer.

    Raises
    ------
    sqlite3.DatabaseError
        If the file is not a SQLite database.
    UnsupportedVersionError
        If a newer release laid the tables out.
    """
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
    try:
        header = os.read(descriptor, _HEADER_SIZE)
    finally:
        os.close(descriptor)
    if header and (len(header) < _HEADER_SIZE or not header.startswith(_MAGIC)):
        # SQLite would take a short file for an empty database and write over it
        raise sqlite3.DatabaseError("file is not a database (no SQLite header)")
    connection = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
    )
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > DATABASE_VERSION:
            raise UnsupportedVersionError(path, version, supported=DATABASE_VERSION)
        if version < DATABASE_VERSION:
            with transaction(connection):
                create_tables(connection)
                connection.execute(f"PRAGMA user_version = {DATABASE_VERSION}")
    except UnicodeDecodeError as err:  # text that was never written as such
        connection.close()
        raise sqlite3.DatabaseError(f"file is not a readable database ({err})") from None
    except BaseException:
        connection.close()
        raise
    return connection


class transaction:
    """``with transaction(connection):`` one ``BEGIN IMMEDIATE`` .. ``COMMIT``, or rollback.

    ``write=False`` begins a read transaction: its queries see one committed state,
    whatever other processes commit meanwhile, and never block them.
    """

    def __init__(self, connection: sqlite3.Connection, *, write: bool = True) -> None:
        self.connection = connection
        self.begin = "BEGIN IMMEDIATE" if write else "BEGIN DEFERRED"

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute(self.begin)
        return self.connection

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.connection.execute("COMMIT")
        elif self.connection.in_transaction:
            self.connection.execute("ROLLBACK")


def create_tables(connection: sqlite3.Connection, schema: str = "main") -> None:
    """Create the tables in ``schema`` if they are missing."""
    for statement in _TABLES:
        connection.execute(statement.format(schema=schema))


def timelapse_ids(connection: sqlite3.Connection, schema: str = "main") -> list[str]:
    """The timelapses of ``schema``, oldest ``created`` first."""
    rows = connection.execute(
        f"SELECT timelapse_id FROM {schema}.timelapses ORDER BY created, timelapse_id"
    )
    return [timelapse_id for (timelapse_id,) in rows]


def stored_status(
    connection: sqlite3.Connection, timelapse_id: str, schema: str = "main"
) -> str | None:
    """The stored status of ``timelapse_id``, None if it is not in ``schema``."""
    row = connection.execute(
        f"SELECT status FROM {schema}.timelapses WHERE timelapse_id = ?", (timelapse_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def write_state(connection: sqlite3.Connection, state: TimelapseState) -> None:
    """Write the header of ``state``, every slot it holds and its new suspensions.

    Slots it does not hold (:attr:`~TimelapseState.settled`) are left as stored; of
    the suspensions, only the last stored one (it may have ended since) and those after
    it are written: the others never change.
    """
    header = state.model_dump_json(exclude={"slots", "suspensions", "settled"})
    connection.execute(
        "INSERT INTO timelapses VALUES (?, ?, ?, ?) ON CONFLICT (timelapse_id) DO UPDATE "
        "SET status = excluded.status, header = excluded.header",
        (state.timelapse_id, state.created.isoformat(), state.status, header),
    )
    connection.executemany(
        f"INSERT OR REPLACE INTO slots (timelapse_id, {_SLOT_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(state.timelapse_id, *_slot_row(record)) for record in state.slots],
    )
    (last,) = connection.execute(
        "SELECT MAX(position) FROM suspensions WHERE timelapse_id = ?", (state.timelapse_id,)
    ).fetchone()
    first = 0 if last is None else last
    connection.executemany(
        "INSERT OR REPLACE INTO suspensions VALUES (?, ?, ?, ?, ?)",
        [
            (state.timelapse_id, position, *_suspension_row(suspension))
            for position, suspension in enumerate(state.suspensions[first:], start=first)
        ],
    )


def read_state(
    connection: sqlite3.Connection,
    timelapse_id: str,
    *,
    settled: bool,
    source: Path,
    schema: str = "main",
) -> TimelapseState | None:
    """The state of ``timelapse_id`` in ``schema``, None if it is not there.

    With ``settled`` False the leading settled slots are summarised in
    :attr:`~TimelapseState.settled` instead of read: the cost does not grow with them.
    ``source`` is the database file, for messages. Call it in a transaction, so that
    its queries see one committed state.

    Raises
    ------
    UnreadableFile
        If the rows do not make a valid state.
    UnsupportedVersionError
        If the header was written with a newer state schema.
    """
    row = connection.execute(
        f"SELECT header FROM {schema}.timelapses WHERE timelapse_id = ?", (timelapse_id,)
    ).fetchone()
    if row is None:
        return None
    try:
        header = json.loads(row[0])
    except (TypeError, ValueError, RecursionError) as err:
        raise UnreadableFile(f"its header is not JSON: {err}") from None
    if not isinstance(header, dict):
        raise UnreadableFile(f"its header is a {type(header).__name__}, not a JSON object")
    version = header.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > SCHEMA_VERSION:
        raise UnsupportedVersionError(source, version)
    summarised = None if settled else _settled(connection, timelapse_id, schema)
    below = 0 if summarised is None else summarised["below"]
    data: dict[str, Any] = {
        **header,
        "slots": list(iter_slot_rows(connection, timelapse_id, start=below, schema=schema)),
        "suspensions": [
            dict(zip(("started", "ended", "reason"), suspension, strict=True))
            for suspension in connection.execute(
                f"SELECT started, ended, reason FROM {schema}.suspensions "
                "WHERE timelapse_id = ? ORDER BY position",
                (timelapse_id,),
            )
        ],
    }
    if below:
        data["settled"] = summarised
    try:
        state = TimelapseState.model_validate(data)
    except (ValidationError, RecursionError) as err:
        raise UnreadableFile(f"its rows are not a valid timelapse state: {summary(err)}") from None
    if state.timelapse_id != timelapse_id:
        raise UnreadableFile(f"its header holds timelapse {state.timelapse_id!r}")
    return state


def iter_slot_rows(
    connection: sqlite3.Connection, timelapse_id: str, *, start: int = 0, schema: str = "main"
) -> Iterator[dict[str, Any]]:
    """The slot rows of ``timelapse_id`` from index ``start`` on, as SlotRecord fields."""
    rows = connection.execute(
        f"SELECT {_SLOT_COLUMNS} FROM {schema}.slots WHERE timelapse_id = ? AND slot_index >= ? "
        "ORDER BY slot_index",
        (timelapse_id, start),
    )
    for row in rows:
        fields = dict(zip(_SLOT_FIELDS, row, strict=True))
        fields["stop_emitted"] = bool(fields["stop_emitted"])
        yield fields


def copy_timelapse(
    connection: sqlite3.Connection, timelapse_id: str, source: str, target: str
) -> None:
    """Copy every row of ``timelapse_id`` from schema ``source`` to ``target`` (replacing)."""
    for table in ("timelapses", "slots", "suspensions"):
        connection.execute(
            f"INSERT OR REPLACE INTO {target}.{table} SELECT * FROM {source}.{table} "
            "WHERE timelapse_id = ?",
            (timelapse_id,),
        )


def delete_timelapse(
    connection: sqlite3.Connection, timelapse_id: str, schema: str = "main"
) -> None:
    """Remove every row of ``timelapse_id`` from ``schema``."""
    for table in ("timelapses", "slots", "suspensions"):
        connection.execute(f"DELETE FROM {schema}.{table} WHERE timelapse_id = ?", (timelapse_id,))


def summary(err: Exception) -> str:
    """A validation error in a line: its first three problems."""
    if not isinstance(err, ValidationError):
        return str(err)
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'top level'}: {error['msg']}"
        for error in err.errors()[:3]
    ]
    more = f" (and {err.error_count() - 3} more)" if err.error_count() > 3 else ""
    return "; ".join(problems) + more


def _settled(connection: sqlite3.Connection, timelapse_id: str, schema: str) -> dict[str, Any]:
    """The summary of the leading slots recorded, final and closed: one scan of an index."""
    (first_open,) = connection.execute(
        f"SELECT MIN(slot_index) FROM {schema}.slots WHERE timelapse_id = ? AND ({_OPEN})",
        (timelapse_id,),
    ).fetchone()
    if first_open is None:
        (last,) = connection.execute(
            f"SELECT MAX(slot_index) FROM {schema}.slots WHERE timelapse_id = ?", (timelapse_id,)
        ).fetchone()
        first_open = 0 if last is None else last + 1
    below = int(first_open)
    counts = _counts_below(connection, timelapse_id, below, schema)
    if sum(counts.values()) != below:  # a gap (unrecorded slots): settled up to it
        rows = connection.execute(
            f"SELECT slot_index FROM {schema}.slots WHERE timelapse_id = ? ORDER BY slot_index",
            (timelapse_id,),
        )
        below = next((n for n, (index,) in enumerate(rows) if index != n), below)
        counts = _counts_below(connection, timelapse_id, below, schema)
    error = connection.execute(
        f"SELECT error FROM {schema}.slots WHERE timelapse_id = ? AND status = 'failed' "
        "AND slot_index < ? ORDER BY slot_index DESC LIMIT 1",
        (timelapse_id, below),
    ).fetchone()
    return {"below": below, "counts": counts, "last_error": None if error is None else error[0]}


def _counts_below(
    connection: sqlite3.Connection, timelapse_id: str, below: int, schema: str
) -> dict[str, int]:
    rows = connection.execute(
        f"SELECT status, COUNT(*) FROM {schema}.slots WHERE timelapse_id = ? "
        "AND slot_index < ? GROUP BY status",
        (timelapse_id, below),
    )
    return dict(rows.fetchall())


def _slot_row(record: SlotRecord) -> tuple[Any, ...]:
    return (
        record.index,
        record.scheduled.isoformat(),
        record.status,
        record.run_uid,
        _iso(record.started),
        _iso(record.finished),
        record.lateness,
        record.error,
        int(record.stop_emitted),
    )


def _suspension_row(suspension: Suspension) -> tuple[Any, ...]:
    return (suspension.started.isoformat(), _iso(suspension.ended), suspension.reason)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()
