"""The document journal: one append-only JSON Lines file per run, on local disk.

Appending a line is all the RunEngine waits for; a reader (the forwarder) follows
the file behind it. A line is a document only once its newline is written, so a
reader never takes half a line, and after a crash the cut-short last line is
moved aside, never silently dropped.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from event_model import NumpyEncoder

logger = logging.getLogger("bluesky_timelapse.callbacks")

SUFFIX = ".jsonl"

FILE_MODE = 0o600
"""Mode of every journal file: the documents are readable by their owner only."""


@dataclass(frozen=True)
class Entry:
    """One journaled document."""

    name: str
    doc: dict[str, Any]


def encode(name: str, doc: dict[str, Any]) -> bytes:
    """One journal line for a document (numpy values become JSON lists and numbers)."""
    return (json.dumps({"name": name, "doc": doc}, cls=NumpyEncoder) + "\n").encode()


def decode(line: bytes) -> Entry:
    """The document of a journal line; ``ValueError`` if it is not one."""
    entry = json.loads(line)
    if not (isinstance(entry, dict) and isinstance(entry.get("name"), str)):
        raise ValueError(f"not a journal entry: {line[:80]!r}")
    return Entry(entry["name"], entry["doc"])


class JournalSyncer:
    """fsyncs journals on its own thread, so the RunEngine's thread only appends.

    A :class:`RunJournal` asks for a sync when its policy says one is due, and
    for a sync and a close after its stop document; the syncer's thread makes
    them soon after (milliseconds, unless the disk stalls).
    """

    def __init__(self) -> None:
        self._due: set[RunJournal] = set()
        self._closes: set[RunJournal] = set()
        self._condition = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(
            target=self._sync_forever, name="journal-sync", daemon=True
        )
        self._thread.start()

    def request(self, journal: RunJournal, *, close: bool = False) -> None:
        """Sync ``journal`` soon; then close it too, if ``close``."""
        with self._condition:
            self._due.add(journal)
            if close:
                self._closes.add(journal)
            self._condition.notify()

    def close(self) -> None:
        """Make the syncs asked for, then end the thread."""
        with self._condition:
            self._closing = True
            self._condition.notify()
        self._thread.join()

    def _sync_forever(self) -> None:
        while True:
            with self._condition:
                while not self._due and not self._closing:
                    self._condition.wait()
                due, self._due = self._due, set()
                closes, self._closes = self._closes, set()
                closing = self._closing
            for journal in due:
                try:
                    journal.close() if journal in closes else journal.sync()
                except OSError as err:  # the next sync, or the close, tries again
                    logger.warning("journal %s: fsync failed: %s", journal.path, err)
            if closing:
                return


class RunJournal:
    """The journal file of one run, written by the RunEngine's thread.

    Parameters
    ----------
    path
        The file, ``<directory>/<run uid>.jsonl``; created if new, appended to if not.
    fsync_every
        fsync after this many documents (and always after the stop document, which
        also closes the journal).
    fsync_interval
        ...or when this many seconds have passed since the last fsync.
    syncer
        Makes those periodic fsyncs on its own thread; without one they are made
        by :meth:`append` itself.
    """

    def __init__(
        self,
        path: Path,
        *,
        fsync_every: int = 100,
        fsync_interval: float = 1.0,
        syncer: JournalSyncer | None = None,
    ) -> None:
        self.path = path
        self.fsync_every = fsync_every
        self.fsync_interval = fsync_interval
        self.syncer = syncer
        self._file: IO[bytes] | None = os.fdopen(
            _open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND), "ab"
        )
        self._lock = threading.Lock()  # the file descriptor, between sync and close
        self._appended = 0  # documents appended; only the appending thread counts
        self._synced = 0  # of those, how many an fsync has covered
        self._requested = 0  # the count at the latest sync asked for
        self._requested_at = time.monotonic()

    def append(self, name: str, doc: dict[str, Any]) -> None:
        """Write the document and hand it to the OS; fsync as the policy says."""
        assert self._file is not None, "journal is closed"
        self._file.write(encode(name, doc))
        self._file.flush()
        self._appended += 1
        if name == "stop":
            self._finish()
            return
        due = time.monotonic() - self._requested_at >= self.fsync_interval
        if self._appended - self._requested >= self.fsync_every or due:
            self._requested, self._requested_at = self._appended, time.monotonic()
            if self.syncer is not None:
                self.syncer.request(self)
            else:
                self.sync()

    def _finish(self) -> None:
        """After the stop document: fsync and close, on the syncer if there is one."""
        if self.syncer is not None:
            self.syncer.request(self, close=True)
        else:
            self.close()

    def sync(self) -> None:
        """fsync what was appended (from any thread)."""
        with self._lock:
            appended = self._appended
            if self._file is not None and appended > self._synced:
                os.fsync(self._file.fileno())
                self._synced = appended

    def close(self) -> None:
        """fsync and close (idempotent)."""
        with self._lock:
            if self._file is not None:
                if self._appended > self._synced:
                    os.fsync(self._file.fileno())
                    self._synced = self._appended
                self._file.close()
                self._file = None


class JournalReader:
    """Follows a journal file from its start, one complete line at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] = open(path, "rb")  # noqa: SIM115
        self._pending = b""

    def read(self) -> Iterator[Entry]:
        """The complete documents appended since the last call."""
        chunk = self._file.read()
        if not chunk:
            return
        data = self._pending + chunk
        *lines, self._pending = data.split(b"\n")
        for line in lines:
            if line:
                yield decode(line)

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def recover(path: Path) -> list[Entry]:
    """Read a journal left by an earlier process, repairing a cut-short tail.

    Every complete line is kept. Bytes after the last good line (a line the
    process was writing when it died, or garbage) are moved to
    ``<file>.corrupt-tail-<UTC time>`` and cut from the journal, with a warning.
    """
    data = path.read_bytes()
    entries: list[Entry] = []
    good_end = 0
    position = 0
    while position < len(data):
        newline = data.find(b"\n", position)
        if newline < 0:
            break
        line = data[position:newline]
        if line:
            try:
                entries.append(decode(line))
            except ValueError:
                break
        position = good_end = newline + 1
    if good_end < len(data):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = path.with_name(f"{path.name}.corrupt-tail-{stamp}")
        descriptor = _open_private(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(descriptor, "wb") as tail:
            tail.write(data[good_end:])
        with open(path, "r+b") as file:
            file.truncate(good_end)
            os.fsync(file.fileno())
        logger.warning(
            "journal %s ended with %d bytes that are not a complete document (the process "
            "was cut short while writing); kept them in %s and replayed the %d documents "
            "before them",
            path,
            len(data) - good_end,
            aside,
            len(entries),
        )
    return entries


def _open_private(path: Path, flags: int) -> int:
    """``os.open(path, flags)`` for a file that must be 0600, whatever the umask."""
    descriptor = os.open(path, flags, FILE_MODE)
    try:
        if hasattr(os, "fchmod"):  # POSIX only
            os.fchmod(descriptor, FILE_MODE)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor
