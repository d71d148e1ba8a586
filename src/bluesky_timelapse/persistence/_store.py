"""Where timelapse states survive crashes and power cuts: one JSON file each.

:class:`TimelapseStore` keeps the :class:`TimelapseState` of each timelapse in a
directory, with snapshots, damaged files set aside and older schemas migrated::

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
import logging
import os
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path

from pydantic import ValidationError

from .._files import (
    UnreadableFile,
    atomic_write,
    make_private_directory,
    move_aside,
    read_json_object,
)
from ..data_dir import DataDirectory
from ._migrations import MIGRATIONS, SCHEMA_VERSION, UnsupportedVersionError
from ._state import TimelapseState, validate_timelapse_id

logger = logging.getLogger("bluesky_timelapse.persistence")
"""Recoveries from damaged files are WARNINGs."""


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


def default_store_directory() -> Path:
    """``$BLUESKY_TIMELAPSE_DIR/timelapses``, else the user data directory's ``timelapses``."""
    return DataDirectory.default().timelapses


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
        except UnreadableFile as err:
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
            except UnreadableFile as err:
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
    try:  # the common case, in one pass; anything else is diagnosed step by step below
        state = TimelapseState.model_validate_json(data)
    except (ValidationError, RecursionError):
        pass
    else:
        if state.timelapse_id == timelapse_id and "version" in state.model_fields_set:
            return state, SCHEMA_VERSION
    raw = read_json_object(data)
    version = raw.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise UnreadableFile(f"no valid schema version (version={version!r})")
    if version > SCHEMA_VERSION:
        raise UnsupportedVersionError(source, version)
    for step in range(version, SCHEMA_VERSION):
        if step not in MIGRATIONS:
            raise UnreadableFile(f"schema version {step} has no migration to {step + 1}")
        try:
            raw = MIGRATIONS[step](raw)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as err:
            raise UnreadableFile(
                f"not a valid version {step} state, cannot migrate it: {err!r}"
            ) from None
    try:
        state = TimelapseState.model_validate(raw)
    except (ValidationError, RecursionError) as err:
        raise UnreadableFile(f"not a valid timelapse state: {_summary(err)}") from None
    if state.timelapse_id != timelapse_id:
        raise UnreadableFile(f"it holds timelapse {state.timelapse_id!r}, not {timelapse_id!r}")
    return state, version


def _summary(err: Exception) -> str:
    if not isinstance(err, ValidationError):
        return str(err)
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or 'top level'}: {error['msg']}"
        for error in err.errors()[:3]
    ]
    more = f" (and {err.error_count() - 3} more)" if err.error_count() > 3 else ""
    return "; ".join(problems) + more
