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
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from event_model import NumpyEncoder

logger = logging.getLogger(__name__)

SUFFIX = ".jsonl"


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


class RunJournal:
    """The journal file of one run, written by the RunEngine's thread.

    Parameters
    ----------
    path
        The file, ``<directory>/<run uid>.jsonl``; created if new, appended to if not.
    fsync_every
        fsync after this many documents (and always after the stop document).
    fsync_interval
        ...or when this many seconds have passed since the last fsync.
    """

    def __init__(self, path: Path, *, fsync_every: int = 100, fsync_interval: float = 1.0) -> None:
        self.path = path
        self.fsync_every = fsync_every
        self.fsync_interval = fsync_interval
        self._file: IO[bytes] | None = open(path, "ab")  # noqa: SIM115
        os.chmod(path, 0o600)
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def append(self, name: str, doc: dict[str, Any]) -> None:
        """Write the document and hand it to the OS; fsync as the policy says."""
        assert self._file is not None, "journal is closed"
        self._file.write(encode(name, doc))
        self._file.flush()
        self._unsynced += 1
        due = time.monotonic() - self._synced_at >= self.fsync_interval
        if name == "stop" or self._unsynced >= self.fsync_every or due:
            self.sync()

    def sync(self) -> None:
        """fsync what was appended."""
        if self._file is not None and self._unsynced:
            os.fsync(self._file.fileno())
            self._unsynced = 0
            self._synced_at = time.monotonic()

    def close(self) -> None:
        """fsync and close (idempotent)."""
        if self._file is not None:
            self.sync()
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
        aside.write_bytes(data[good_end:])
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
