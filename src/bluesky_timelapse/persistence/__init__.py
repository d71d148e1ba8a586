"""What survives a crash: timelapse state files and the RunEngine's metadata.

A :class:`TimelapseStore` keeps one crash-safe JSON file per timelapse, holding a
:class:`TimelapseState` whose slots move through an explicit state machine::

    store = TimelapseStore()
    state = store.load("bench-7")
    state.mark_running(state.next_index, scheduled, lateness=0.4, started=now)
    store.save(state)

:class:`PersistentMetadata` is ``RE.md`` kept in a JSON file, so that ``scan_id``
survives restarts::

    RE = RunEngine(PersistentMetadata(path))

Both write through :func:`atomic_write`: a crash leaves the old content or the new,
and a damaged file is set aside, never overwritten or deleted.
"""

from .._files import atomic_write, fsync_directory, move_aside
from ._metadata import PersistentMetadata
from ._migrations import MIGRATIONS, SCHEMA_VERSION, UnsupportedVersionError
from ._state import (
    FINAL_SLOT_STATUSES,
    SLOT_STATUSES,
    SLOT_TRANSITIONS,
    SlotRecord,
    SlotStatus,
    Suspension,
    TimelapseState,
    TimelapseStatus,
    validate_timelapse_id,
)
from ._store import CorruptStoreError, TimelapseStore, default_store_directory

__all__ = [
    "FINAL_SLOT_STATUSES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SLOT_STATUSES",
    "SLOT_TRANSITIONS",
    "CorruptStoreError",
    "PersistentMetadata",
    "SlotRecord",
    "SlotStatus",
    "Suspension",
    "TimelapseState",
    "TimelapseStatus",
    "TimelapseStore",
    "UnsupportedVersionError",
    "atomic_write",
    "default_store_directory",
    "fsync_directory",
    "move_aside",
    "validate_timelapse_id",
]
