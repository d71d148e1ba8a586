"""What survives a crash: timelapse states and the RunEngine's metadata.

A :class:`TimelapseStore` keeps every timelapse in one crash-safe SQLite database, a
:class:`TimelapseState` each, whose slots move through an explicit state machine::

    store = TimelapseStore()
    state = store.load("bench-7", settled=False)   # without the slots that are done
    state.mark_running(state.next_index, scheduled, lateness=0.4, started=now)
    store.save(state)                              # O(1): the slots it holds

:class:`PersistentMetadata` is ``RE.md`` kept in a JSON file, so that ``scan_id``
survives restarts::

    RE = RunEngine(PersistentMetadata(path))

A crash leaves the old content or the new, and damaged data is set aside, never
overwritten or deleted.
"""

from .._files import atomic_write, fsync_directory, move_aside
from ._database import DATABASE_VERSION
from ._metadata import PersistentMetadata
from ._migrations import MIGRATIONS, SCHEMA_VERSION, CorruptStoreError, UnsupportedVersionError
from ._state import (
    FINAL_SLOT_STATUSES,
    SLOT_STATUSES,
    SLOT_TRANSITIONS,
    SettledSlots,
    SlotRecord,
    SlotStatus,
    Suspension,
    TimelapseState,
    TimelapseStatus,
    validate_timelapse_id,
)
from ._store import DATABASE_FILE, TimelapseStore, default_store_directory

__all__ = [
    "DATABASE_FILE",
    "DATABASE_VERSION",
    "FINAL_SLOT_STATUSES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SLOT_STATUSES",
    "SLOT_TRANSITIONS",
    "CorruptStoreError",
    "PersistentMetadata",
    "SettledSlots",
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
