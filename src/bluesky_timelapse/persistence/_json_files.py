"""Timelapse states in the JSON files of earlier releases, read once to import them.

Releases up to 0.2 kept one JSON file per timelapse in the store directory, with
numbered snapshots::

    <timelapse_id>.json                  the current state
    snapshots/<timelapse_id>.json.<n>    earlier states, n counting up

:func:`read_json_state` reads such a timelapse as that store did: an older schema is
migrated, a damaged file is set aside (``<name>.corrupt-<UTC>``, never deleted) and
the newest valid snapshot is used instead.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import ValidationError

from .._files import UnreadableFile, move_aside, read_json_object
from ._database import summary
from ._migrations import MIGRATIONS, SCHEMA_VERSION, CorruptStoreError, UnsupportedVersionError
from ._state import TimelapseState

logger = logging.getLogger("bluesky_timelapse.persistence")


def json_state_files(directory: Path) -> list[Path]:
    """The ``<timelapse_id>.json`` files in ``directory``, by name."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    return sorted(Path(entry.path) for entry in entries if entry.name.endswith(".json"))


def json_snapshots(directory: Path, timelapse_id: str) -> list[Path]:
    """The JSON snapshots of ``timelapse_id`` under ``directory/snapshots``, oldest first."""
    return numbered_files(directory / "snapshots", f"{timelapse_id}.json.")


def numbered_files(directory: Path, prefix: str) -> list[Path]:
    """The files ``<prefix><n>`` in ``directory`` (n a whole number), by increasing n."""
    numbered = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    for entry in entries:
        number = entry.name[len(prefix) :]
        if entry.name.startswith(prefix) and number.isdigit() and number.isascii():
            numbered.append((int(number), Path(entry.path)))
    return [path for _, path in sorted(numbered)]


def read_json_state(directory: Path, timelapse_id: str) -> TimelapseState:
    """The state in ``directory/<timelapse_id>.json``, else in its newest valid snapshot.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    UnsupportedVersionError
        If a newer release wrote it (left untouched).
    CorruptStoreError
        If neither it nor any snapshot is readable (all set aside).
    """
    path = directory / f"{timelapse_id}.json"
    data = path.read_bytes()
    try:
        return parse_json_state(data, path, timelapse_id)
    except UnreadableFile as err:
        reason = str(err)
    moved = [move_aside(path)]
    for snapshot in reversed(json_snapshots(directory, timelapse_id)):
        try:
            state = parse_json_state(snapshot.read_bytes(), snapshot, timelapse_id)
        except UnreadableFile as err:
            moved.append(move_aside(snapshot))
            logger.warning(
                "snapshot %s is unreadable (%s); moved aside to %s", snapshot, err, moved[-1]
            )
            continue
        except (UnsupportedVersionError, OSError) as err:
            logger.warning("snapshot %s skipped: %s", snapshot, err)
            continue
        logger.warning(
            "timelapse state file %s is unreadable (%s); moved aside to %s; recovered from "
            "snapshot %s (saved %s)",
            path,
            reason,
            moved[0],
            snapshot,
            state.updated.isoformat(),
        )
        return state
    raise CorruptStoreError(timelapse_id, f"{path.name} is unreadable ({reason})", moved)


def parse_json_state(data: bytes, source: Path, timelapse_id: str) -> TimelapseState:
    """The state in ``data`` (read from ``source``), migrated to :data:`SCHEMA_VERSION`.

    Raises
    ------
    UnreadableFile
        If ``data`` is not a valid state of ``timelapse_id`` of any known version.
    UnsupportedVersionError
        If a newer release wrote it.
    """
    try:  # the common case, in one pass; anything else is diagnosed step by step below
        state = TimelapseState.model_validate_json(data)
    except (ValidationError, RecursionError):
        pass
    else:
        if state.timelapse_id == timelapse_id and "version" in state.model_fields_set:
            return state
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
        raise UnreadableFile(f"not a valid timelapse state: {summary(err)}") from None
    if state.timelapse_id != timelapse_id:
        raise UnreadableFile(f"it holds timelapse {state.timelapse_id!r}, not {timelapse_id!r}")
    return state
