"""``RE.md`` that survives restarts: a mapping kept in one crash-safe JSON file.

A replacement for ``bluesky.utils.PersistentDict`` (which needs zict and corrupts
when two processes share it)::

    RE = RunEngine(PersistentMetadata(DataDirectory.default().metadata))

so that ``scan_id`` goes on counting across sessions.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock

from .._files import (
    FILE_MODE,
    UnreadableFile,
    atomic_write,
    make_private_directory,
    move_aside,
    read_json_object,
)

logger = logging.getLogger("bluesky_timelapse.persistence")
"""Recoveries from damaged files are WARNINGs."""


class PersistentMetadata(MutableMapping[str, Any]):
    """A mutable mapping of JSON values, saved to ``path`` on every change.

    Every change is written atomically (temporary file, fsync, rename, fsync of the
    directory), mode 0600, then copied to ``<path>.bak``. Changes take an exclusive
    lock (``<path>.lock``) and reload the file first, so processes sharing the file
    never overwrite each other's changes; reads reload when the file has changed.
    A read-modify-write such as ``md["scan_id"] += 1`` is two steps: hold the lock
    across both with :meth:`transaction` when other processes may write meanwhile.

    Values are stored as JSON: setting one that JSON cannot hold raises ``TypeError``
    before anything is written; tuples come back as lists and dict keys as strings.
    Mutating a stored value in place (``md["versions"]["x"] = 1``) changes this
    process's view only, until the next change saves it: assign the key again.

    A damaged file is renamed ``<name>.corrupt-<UTC timestamp>`` (never deleted) with
    a WARNING, and the mapping goes on from the last good copy, or empty.

    ``copy.copy`` and ``copy.deepcopy`` give plain dicts: a snapshot of the contents.

    Parameters
    ----------
    path
        The JSON file; created at the first change. Its directory is created (mode
        0700) if missing.
    lock_timeout
        Seconds to wait for another process's lock before ``filelock.Timeout``
        (a ``TimeoutError``) is raised.
    """

    def __init__(self, path: Path | str, *, lock_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(f"{self.path.name}.bak")
        self.lock_path = self.path.with_name(f"{self.path.name}.lock")
        make_private_directory(self.path.parent)
        self._file_lock = FileLock(self.lock_path, timeout=lock_timeout, mode=FILE_MODE)
        self._thread_lock = threading.RLock()
        self._data: dict[str, Any] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._depth = 0
        self._dirty = False
        self.reload()

    def __repr__(self) -> str:
        return f"PersistentMetadata({str(self.path)!r}, {self._fresh()!r})"

    # -- reading -------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._fresh()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._fresh()))

    def __len__(self) -> int:
        return len(self._fresh())

    def __copy__(self) -> dict[str, Any]:
        return dict(self._fresh())

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return copy.deepcopy(self._fresh(), memo)

    def reload(self) -> None:
        """Read the file again now (reads do it by themselves when it changed)."""
        with self._locked():
            self._reload(force=True)

    # -- changing ------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        stored = _as_json(key, value)
        with self._changing() as data:
            data[key] = stored

    def __delitem__(self, key: str) -> None:
        with self._changing() as data:
            del data[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Like ``dict.update``, saved once, all or nothing."""
        with self.transaction():
            super().update(*args, **kwargs)

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Like ``dict.setdefault``, atomic across processes; returns the stored value."""
        with self.transaction():
            if key not in self._data:
                self[key] = default
            return self._data[key]

    def clear(self) -> None:
        """Remove every key, saved once."""
        with self.transaction():
            super().clear()

    @contextmanager
    def transaction(self) -> Iterator[PersistentMetadata]:
        """Hold the lock across several reads and changes, saved once at the end.

        Other processes wait meanwhile, so a read-modify-write loses no update::

            with md.transaction():
                md["scan_id"] = md.get("scan_id", 0) + 1

        If the block raises, none of its changes are kept. Transactions nest; the
        outermost one saves.
        """
        with self._locked():
            outermost = self._depth == 0
            if outermost:
                self._reload()
                before, self._dirty = self._data, False
            self._depth += 1
            try:
                yield self
            except BaseException:
                if outermost:
                    self._data, self._dirty = before, False
                raise
            finally:
                self._depth -= 1
            if outermost and self._dirty:
                try:
                    self._write(self._data)
                except BaseException:
                    self._data = before
                    raise
                finally:
                    self._dirty = False

    # -- internals -----------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            # Poll often: with filelock's default (50 ms) a waiter rarely gets a turn.
            self._file_lock.acquire(poll_interval=0.005)
            try:
                yield
            finally:
                self._file_lock.release()

    @contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        """Yield a copy of the contents to change; save it and make it current after."""
        with self._locked():
            if self._depth == 0:
                self._reload()
            data = dict(self._data)
            yield data
            if self._depth == 0:
                self._write(data)
            else:
                self._dirty = True
            self._data = data

    def _fresh(self) -> dict[str, Any]:
        with self._thread_lock:
            if self._depth == 0 and self._stat() != self._stamp:
                with self._locked():
                    self._reload()
            return self._data

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def _reload(self, *, force: bool = False) -> None:
        """Read the file if it changed since last read or written; the lock is held."""
        stamp = self._stat()
        if stamp == self._stamp and not force:
            return
        if stamp is None:
            self._data = {}
        else:
            try:
                self._data = read_json_object(self.path.read_bytes())
            except UnreadableFile as err:
                self._data = self._recover(str(err))
        self._stamp = self._stat()

    def _recover(self, reason: str) -> dict[str, Any]:
        aside = move_aside(self.path)
        try:
            data = read_json_object(self.backup_path.read_bytes())
            source = f"the last good copy {self.backup_path}"
        except FileNotFoundError:
            data, source = {}, "empty (no good copy)"
        except UnreadableFile as err:
            backup_aside = move_aside(self.backup_path)
            data, source = (
                {},
                f"empty (the good copy was unreadable too, {err}: moved to {backup_aside})",
            )
        self._write(data)
        logger.warning(
            "metadata file %s is unreadable (%s); moved aside to %s; continuing from %s",
            self.path,
            reason,
            aside,
            source,
        )
        return data

    def _write(self, data: dict[str, Any]) -> None:
        try:
            payload = json.dumps(data, indent=2, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError):
            for key, value in data.items():
                _as_json(key, value)  # names the key changed in place to a non-JSON value
            raise
        encoded = (payload + "\n").encode()
        atomic_write(self.path, encoded)
        self._stamp = self._stat()
        atomic_write(self.backup_path, encoded)


def _as_json(key: str, value: Any) -> Any:
    """``value`` as it reads back from JSON; ``TypeError`` naming the key if impossible."""
    if not isinstance(key, str):
        raise TypeError(f"metadata key {key!r} is a {type(key).__name__}; allowed: str keys")
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as err:
        raise TypeError(
            f"metadata value for key {key!r} is a {type(value).__name__} that JSON cannot "
            f"hold ({err}); allowed: dict with str keys, list, tuple, str, int, finite "
            "float, bool, None"
        ) from None
