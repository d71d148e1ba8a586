"""Report each new file matching a template once, when it is complete.

:class:`FolderWatch` reports a file on a closed-after-write event from
:mod:`watchdog` (inotify), or when its size and modification time have not changed
for a settle time (files seen without a close event, and every file in polling
mode).
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from ._file_pattern import FilePattern

logger = logging.getLogger("bluesky_timelapse.sources")

Completed = Callable[[Path], None]


class FolderWatch:
    """Report each new file matching a :class:`FilePattern` once, when it is complete.

    A file is complete when it is closed after a write (inotify's
    ``IN_CLOSE_WRITE``), moved into place, or, failing such an event, when it is
    not empty and its size and modification time have not changed for
    ``settle_time`` seconds. Files present when the watch starts are not new; a
    name that does not match the pattern is logged once (INFO) and ignored.

    Parameters
    ----------
    pattern
        Which files to report.
    on_complete
        Called with each complete file's path, once per path, from a watch thread.
    use_polling
        Scan the directories of the current (and the previous) date every
        ``poll_interval`` seconds instead of asking the kernel for events: for
        network filesystems, where inotify sees only local writes.
    poll_interval
        Seconds between scans in polling mode, > 0.
    settle_time
        Seconds a file's size must stay the same before it counts without a close
        event, > 0.
    clock
        Returns the current local time; decides which date directories a scan visits.
    """

    def __init__(
        self,
        pattern: FilePattern,
        on_complete: Completed,
        *,
        use_polling: bool = False,
        poll_interval: float = 1.0,
        settle_time: float = 0.5,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.pattern = pattern
        self.on_complete = on_complete
        self.use_polling = use_polling
        self.poll_interval = poll_interval
        self.settle_time = settle_time
        self.clock = clock
        self._condition = threading.Condition()
        self._pending: dict[Path, tuple[int, int, float]] = {}
        self._reported: set[Path] = set()
        self._ignored: set[Path] = set()
        self._baseline: dict[Path, tuple[int, int]] = {}
        self._scanned_at: datetime | None = None
        self._running = False
        self._thread: threading.Thread | None = None
        self._observer: BaseObserver | None = None

    @property
    def running(self) -> bool:
        """Whether the watch is started."""
        return self._running

    def no_file_error(self, name: str, timeout: float) -> TimeoutError:
        """The error of a trigger of camera ``name`` that got no file in ``timeout`` seconds.

        It names the template, the watched directory and how it is watched.
        """
        how = f"polling every {self.poll_interval:g} s" if self.use_polling else "inotify"
        return TimeoutError(
            f"{name}: no new file matching {self.pattern.template!r} was complete in "
            f"{str(self.pattern.root)!r} within {timeout:g} s ({how})"
        )

    def start(self) -> None:
        """Start watching.

        Raises
        ------
        FileNotFoundError
            If the pattern's fixed directory does not exist.
        """
        root = self.pattern.existing_root()
        with self._condition:
            self._pending.clear()
            self._reported.clear()
            self._baseline.clear()
            self._running = True
        if self.use_polling:
            self._scanned_at = self.clock()
            self._baseline = {
                path: identity for path, identity in self._scan(self._scanned_at).items()
            }
        else:
            observer = Observer()
            observer.schedule(_Events(self), str(root), recursive=True)
            observer.start()
            self._observer = observer
        self._thread = threading.Thread(
            target=self._settle_loop, name=f"folder-watch {root}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; files still settling are dropped. Safe to call twice."""
        with self._condition:
            self._running = False
            self._condition.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def consider(self, path: Path, *, complete: bool) -> None:
        """Take note of a file event: ``complete`` for a close-after-write or a move."""
        with self._condition:
            if not self._running or path in self._reported or not self._matches(path):
                return
            identity = _identity(path)
            if identity is None:
                self._pending.pop(path, None)
                return
            if not (complete and identity[0] > 0):
                self._note(path, identity, time.monotonic())
                return
            self._pending.pop(path, None)
            self._reported.add(path)
        self.on_complete(path)

    def _matches(self, path: Path) -> bool:
        if self.pattern.match(path) is not None:
            return True
        if path not in self._ignored:
            self._ignored.add(path)
            logger.info(
                "ignoring %s: its name does not match the template %r",
                path,
                self.pattern.template,
            )
        return False

    def _note(self, path: Path, identity: tuple[int, int], now: float) -> None:
        """Record a file's size and time; a change restarts its settle time."""
        previous = self._pending.get(path)
        if previous is None or previous[:2] != identity:
            self._pending[path] = (*identity, now)
            self._condition.notify_all()

    def _settle_loop(self) -> None:
        next_poll = time.monotonic() + self.poll_interval
        while True:
            with self._condition:
                if not self._running:
                    return
                wake = [since + self.settle_time for _, _, since in self._pending.values()]
                if self.use_polling:
                    wake.append(next_poll)
                timeout = max(min(wake) - time.monotonic(), 0.0) if wake else None
                if timeout != 0.0:
                    self._condition.wait(timeout)
                if not self._running:
                    return
            if self.use_polling and time.monotonic() >= next_poll:
                next_poll = time.monotonic() + self.poll_interval
                self._poll()
            for path in self._settled():
                self.on_complete(path)

    def _poll(self) -> None:
        now = self.clock()
        previous, self._scanned_at = self._scanned_at or now, now
        found = self._scan(previous, now)
        with self._condition:
            for path, identity in found.items():
                if path in self._reported or self._baseline.get(path) == identity:
                    continue
                self._baseline.pop(path, None)
                if self._matches(path):
                    self._note(path, identity, time.monotonic())

    def _scan(self, *moments: datetime) -> dict[Path, tuple[int, int]]:
        """Every file in the directories of ``moments``, with its size and time."""
        directories = {d for when in moments for d in glob.glob(self.pattern.directory_glob(when))}
        found: dict[Path, tuple[int, int]] = {}
        for directory in sorted(directories):
            try:
                entries = list(os.scandir(directory))
            except OSError:  # not a directory, or gone since the glob
                continue
            for entry in entries:
                try:
                    if entry.is_file():
                        stat = entry.stat()
                        found[Path(entry.path)] = (stat.st_size, stat.st_mtime_ns)
                except OSError:
                    continue
        return found

    def _settled(self) -> list[Path]:
        """The pending files whose size has not changed for the settle time, in that order."""
        now = time.monotonic()
        settled = []
        with self._condition:
            for path, (size, mtime, since) in list(self._pending.items()):
                identity = _identity(path)
                if identity is None:
                    del self._pending[path]
                elif identity != (size, mtime):
                    self._pending[path] = (*identity, now)
                elif now - since < self.settle_time:
                    continue
                elif size == 0:  # created, nothing written yet: look again later
                    self._pending[path] = (size, mtime, now)
                else:
                    del self._pending[path]
                    self._reported.add(path)
                    settled.append((since, path))
        return [path for _, path in sorted(settled)]


class _Events(FileSystemEventHandler):
    """Hands watchdog's file events to a :class:`FolderWatch`."""

    def __init__(self, watch: FolderWatch) -> None:
        self.watch = watch

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        if isinstance(event, FileMovedEvent):
            self.watch.consider(Path(os.fsdecode(event.dest_path)), complete=True)
        elif isinstance(event, FileClosedEvent):
            self.watch.consider(Path(os.fsdecode(event.src_path)), complete=True)
        elif isinstance(event, FileCreatedEvent | FileModifiedEvent):
            self.watch.consider(Path(os.fsdecode(event.src_path)), complete=False)


def _identity(path: Path) -> tuple[int, int] | None:
    """Size and modification time (ns) of ``path``, or None if it is gone."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns
