"""Hand each complete file to the trigger that waits for it, in a folder camera's mode."""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import Literal

Mode = Literal["next", "latest"]
MODES: tuple[Mode, ...] = ("next", "latest")


class FileFeed:
    """Hands each complete file to the trigger that waits for it.

    Give :meth:`arrived` to a :class:`FolderWatch` as its ``on_complete``; each
    trigger calls :meth:`request` for a future of its file. Thread-safe.

    Parameters
    ----------
    mode
        ``"next"``: a request gets the first file that arrives after it was made.
        ``"latest"``: the newest file that arrived since :meth:`clear` and was not
        yet taken, at once; the first one to come if there is none.

    Raises
    ------
    ValueError
        For another mode.
    """

    def __init__(self, mode: Mode) -> None:
        check_mode(mode)
        self.mode = mode
        self._lock = threading.Lock()
        self._waiting: deque[Future[Path]] = deque()
        self._latest: Path | None = None

    @property
    def latest(self) -> Path | None:
        """The file a ``"latest"`` request would take at once; None if none."""
        return self._latest

    def clear(self) -> None:
        """Forget the files that arrived so far (at stage)."""
        with self._lock:
            self._latest = None

    def request(self) -> Future[Path]:
        """A future of the next file, in the feed's mode (already done if there is one)."""
        future: Future[Path] = Future()
        with self._lock:
            latest, self._latest = self._latest, None
            if latest is None:
                self._waiting.append(future)
                return future
        future.set_result(latest)
        return future

    def withdraw(self, future: Future[Path]) -> bool:
        """Cancel a request that is still waiting; False if it got its file (or failed)."""
        with self._lock:
            if future not in self._waiting:
                return False
            self._waiting.remove(future)
        return future.cancel()

    def arrived(self, path: Path) -> None:
        """A complete new file: give it to the oldest request, or keep it as the latest."""
        with self._lock:
            if not self._waiting:
                if self.mode == "latest":
                    self._latest = path
                return
            future = self._waiting.popleft()
        future.set_result(path)

    def fail_waiting(self, error: BaseException) -> None:
        """Fail every request still waiting with ``error`` (at unstage)."""
        with self._lock:
            waiting, self._waiting = list(self._waiting), deque()
        for future in waiting:
            future.set_exception(error)


def check_mode(mode: object) -> None:
    """Refuse a folder camera mode other than ``"next"`` and ``"latest"``.

    Raises
    ------
    ValueError
        Naming the mode and the allowed ones.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not supported; allowed: {', '.join(MODES)}")
