"""The newest file a folder camera has used, kept durably: what its backlog is newer than."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .._files import atomic_write, make_private_directory
from ._file_pattern import FilePattern


class IngestRecord:
    """The newest file a camera has used, kept durably in a small JSON file.

    Files are ordered by modification time, then path; a file is new if it comes
    after the recorded one. The file is replaced atomically on every change.

    Parameters
    ----------
    path
        The JSON file; created (with its directory) at the first use.
    pattern
        The camera's file pattern; paths are recorded relative to its root.
    """

    VERSION = 1

    def __init__(self, path: Path, pattern: FilePattern) -> None:
        self.path = path
        self.pattern = pattern
        self._newest: tuple[int, str] | None = None
        self._loaded = False

    def key(self, path: Path, mtime_ns: int) -> tuple[int, str]:
        """The order of ``path``: modification time, then path below the root."""
        return mtime_ns, path.relative_to(self.pattern.root).as_posix()

    def is_new(self, key: tuple[int, str]) -> bool:
        """Whether a file of order ``key`` comes after the newest one used."""
        newest = self._load()
        return newest is None or key > newest

    def used(self, path: Path, mtime_ns: int) -> None:
        """Record that ``path`` was used, if it is newer than the newest so far."""
        key = self.key(path, mtime_ns)
        if not self.is_new(key):
            return
        make_private_directory(self.path.parent)
        state = {
            "version": self.VERSION,
            "template": self.pattern.template,
            "newest": {"mtime_ns": key[0], "path": key[1]},
        }
        atomic_write(self.path, json.dumps(state, indent=2).encode())
        self._newest = key

    def backlog(self, settle_time: float) -> list[Path]:
        """Complete files matching the pattern newer than the newest one used, oldest first.

        Files modified in the last ``settle_time`` seconds may still be written;
        they are left for later.

        Raises
        ------
        FileNotFoundError
            If the pattern's fixed directory does not exist.
        ValueError
            If the state file is unreadable.
        """
        root = self.pattern.existing_root()
        newest = time.time_ns() - int(settle_time * 1e9)
        found = []
        for directory, _, names in os.walk(root):
            for file_name in names:
                path = Path(directory, file_name)
                if self.pattern.match(path) is None:
                    continue
                try:
                    stat = path.stat()
                except OSError:
                    continue
                key = self.key(path, stat.st_mtime_ns)
                if stat.st_size and stat.st_mtime_ns <= newest and self.is_new(key):
                    found.append((key, path))
        return [path for _, path in sorted(found)]

    def _load(self) -> tuple[int, str] | None:
        if not self._loaded:
            try:
                state = json.loads(self.path.read_text())
                newest = state["newest"]
                self._newest = (int(newest["mtime_ns"]), str(newest["path"]))
            except FileNotFoundError:
                self._newest = None
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise ValueError(
                    f"the state file {str(self.path)!r} is unreadable ({err}); fix or remove "
                    "it (removing it makes ingest_backlog emit every file again)"
                ) from err
            self._loaded = True
        return self._newest
