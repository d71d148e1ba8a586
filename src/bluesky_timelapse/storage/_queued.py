"""Write-behind: a writer that returns at once and writes on its own thread.

An areaDetector file plugin works this way: the camera's acquisition completes
when the frame is captured, and the plugin writes it from a queue while the next
frame is taken. :class:`QueuedWriter` gives any :class:`FrameWriter` that shape,
for acquisitions whose frames come faster than one write (and, with ``fsync``, one
flush) each.

What it trades: :meth:`QueuedWriter.append` returns a frame's index before the
frame is on disk, so a reading may name a frame that a crash then loses. A failed
write is never silent: it is raised by the next :meth:`~QueuedWriter.append` and
by :meth:`~QueuedWriter.close`, and no later frame is written after it (indices
never shift).
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ._base import FrameFormat, FrameWriter, ResourceDescription

_CLOSE = None
"""Queue marker: every frame before it is written; close the writer."""


class QueuedWriter:
    """Wrap ``writer`` so that frames are written in order on a background thread.

    Parameters
    ----------
    writer
        The writer doing the work; only the background thread appends to it.
    max_pending
        Frames allowed to wait for the disk (>= 1). :meth:`append` blocks while
        that many are waiting, so memory stays bounded when the disk is slower
        than the camera.

    Raises
    ------
    ValueError
        If ``max_pending`` is not an integer >= 1.
    """

    def __init__(self, writer: FrameWriter, max_pending: int) -> None:
        if not isinstance(max_pending, int) or isinstance(max_pending, bool) or max_pending < 1:
            raise ValueError(f"max_pending {max_pending!r} is invalid; allowed: an integer >= 1")
        self.writer = writer
        self.max_pending = max_pending
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=max_pending)
        self._frame_format: FrameFormat | None = None
        self._frames_submitted = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"QueuedWriter({self.writer!r}, submitted={self._frames_submitted}, "
            f"max_pending={self.max_pending})"
        )

    @property
    def frames_written(self) -> int:
        """Frames the wrapped writer has complete on disk."""
        return self.writer.frames_written

    @property
    def frames_pending(self) -> int:
        """Frames accepted by :meth:`append` and not yet written (nor failed)."""
        return self._frames_submitted - self.writer.frames_written

    @property
    def has_room(self) -> bool:
        """Whether :meth:`append` would return without waiting for the disk."""
        return self.frames_pending < self.max_pending

    def open(self, directory: Path, name: str) -> None:
        """Open the wrapped writer (synchronously: its errors are raised here)."""
        self.writer.open(directory, name)
        self._thread = threading.Thread(
            target=self._drain, name=f"write-behind-{name}", daemon=True
        )
        self._thread.start()

    def append(self, frame: np.ndarray) -> int:
        """Queue ``frame`` for writing and return the index it will have.

        The caller hands the array over: it must not change it afterwards.

        Raises
        ------
        RuntimeError
            If the writer is not open, is closed, or an earlier write failed (the
            failure is chained).
        ValueError
            If ``frame``'s shape or dtype differs from the first frame's.
        """
        if self._thread is None or self._closed:
            raise RuntimeError(f"{self!r} is not open")
        self._raise_failure()
        frame = np.asarray(frame)
        if self._frame_format is None:
            self._frame_format = FrameFormat.of(frame)
        else:
            self._frame_format.check(frame)
        index = self._frames_submitted
        self._queue.put(frame)
        self._frames_submitted = index + 1
        return index

    def close(self) -> None:
        """Write every queued frame, close the wrapped writer, raise a failed write.

        Closing twice is harmless.
        """
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(_CLOSE)
            self._thread.join()
        self.writer.close()
        self._raise_failure()

    def describe(self) -> ResourceDescription:
        """The wrapped writer's description."""
        return self.writer.describe()

    def datum_kwargs(self, index: int) -> dict[str, Any]:
        """The wrapped writer's ``datum_kwargs`` for frame ``index``."""
        return self.writer.datum_kwargs(index)

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise RuntimeError(
                f"writing frame {self.writer.frames_written} of {self.writer!r} failed; "
                f"{self.frames_pending - 1} later frame(s) were not written"
            ) from self._error

    def _drain(self) -> None:
        while (frame := self._queue.get()) is not _CLOSE:
            if self._error is None:
                try:
                    self.writer.append(frame)
                except BaseException as err:  # raised to the acquiring thread
                    self._error = err
