"""Write-behind in a process of its own: the writer's Python off the RunEngine's GIL.

:class:`~bluesky_timelapse.storage.QueuedWriter` writes on a thread, so a writer
whose work is mostly Python (tifffile builds every TIFF's tags in Python) takes
turns with the RunEngine for the interpreter lock. :class:`ProcessWriter` hands
frames to a :class:`WriterProcess` instead: a child interpreter that runs an
ordinary writer, fed through a ring of shared-memory slots (one copy per frame)
and a pipe of small JSON messages. Same promises as the thread: frames written in
order, at most ``max_pending`` waiting, a failed write raised by the next
:meth:`~ProcessWriter.append` and by :meth:`~ProcessWriter.close`, and no later
frame written after it.

The child is a :class:`~bluesky_timelapse._child.JsonLinesChild`: it never
re-imports the user's ``__main__`` and exits when its parent closes the pipe or
dies. A :class:`WriterProcess` serves one writer at a time and can be
kept for the next one (a device keeps one across stages, so a stage costs no
process start).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any

import numpy as np

from .._child import JsonLinesChild, Message, parent_pipe
from ._base import FrameFormat, ResourceDescription

REPLY_TIMEOUT = 60.0
"""Seconds to wait for the child to open or close a writer."""

_ERRORS: dict[str, type[Exception]] = {
    "FileExistsError": FileExistsError,
    "PermissionError": PermissionError,
    "FileNotFoundError": FileNotFoundError,
    "ValueError": ValueError,
    "TypeError": TypeError,
}


class WriterProcess:
    """A child interpreter that runs frame writers, one at a time.

    Started on first use; :meth:`stop` (or the parent's exit) ends it.
    """

    def __init__(self) -> None:
        self._child: JsonLinesChild | None = None
        self._lock = threading.Lock()
        self._handler: Any = None

    @property
    def running(self) -> bool:
        """Whether the child is alive."""
        return self._child is not None and self._child.running

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._child.pid if self.running and self._child is not None else None

    def start(self) -> None:
        """Start the child if it is not running."""
        with self._lock:
            if self.running:
                return
            self._child = JsonLinesChild(
                "bluesky_timelapse.storage._process:main",
                self._reply,
                on_exit=lambda code: self._reply({"gone": code}),
                name="writer-process-replies",
            )
            self._child.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Close the child's pipe and wait for it to exit (kill it after ``timeout``)."""
        with self._lock:
            child, self._child = self._child, None
            self._handler = None  # an exit asked for is no failure
        if child is not None:
            child.close(timeout=timeout)

    def send(self, message: dict[str, Any], handler: Any = None) -> None:
        """Send ``message``; replies go to ``handler`` (kept until replaced)."""
        if handler is not None:
            self._handler = handler
        if self._child is None or not self._child.send(message):
            raise RuntimeError("the writer process is not running")

    def _reply(self, message: dict[str, Any]) -> None:
        if self._handler is not None:
            self._handler(message)


class ProcessWriter:
    """Write frames through ``writer`` run in a :class:`WriterProcess`.

    Parameters
    ----------
    writer
        The name of an installed writer (``"tiff"``, ``"hdf5"``...), built in the
        child as ``writer_for(writer, **options)``.
    options
        The writer's keyword arguments; JSON-safe.
    max_pending
        Frames allowed to wait for the child (>= 1); :meth:`append` blocks while
        that many wait. Also the number of shared-memory slots.
    process
        The child to use (kept running afterwards); by default one is started for
        this writer and stopped by :meth:`close`.

    Raises
    ------
    ValueError
        If ``max_pending`` is not an integer >= 1 or ``writer`` is not a name.
    """

    def __init__(
        self,
        writer: str,
        options: dict[str, Any] | None = None,
        *,
        max_pending: int = 8,
        process: WriterProcess | None = None,
    ) -> None:
        if not isinstance(max_pending, int) or isinstance(max_pending, bool) or max_pending < 1:
            raise ValueError(f"max_pending {max_pending!r} is invalid; allowed: an integer >= 1")
        if not isinstance(writer, str):
            raise ValueError(f"writer {writer!r} is invalid; allowed: an installed writer's name")
        from ._registry import writer_for

        self.writer_name = writer
        self.options = dict(options or {})
        self._local = writer_for(writer, **self.options)  # datum_kwargs; never opened here
        self.max_pending = max_pending
        self._own_process = process is None
        self._process = process or WriterProcess()
        self._changed = threading.Condition()
        self._reply: dict[str, Any] | None = None
        self._written = 0
        self._submitted = 0
        self._error: str | None = None
        self._error_kind = "RuntimeError"
        self._frame_format: FrameFormat | None = None
        self._buffer: shared_memory.SharedMemory | None = None
        self._slots: np.ndarray[Any, Any] | None = None
        self._description: ResourceDescription | None = None
        self._state = "new"

    def __repr__(self) -> str:
        return (
            f"ProcessWriter({self.writer_name!r}, submitted={self._submitted}, "
            f"written={self._written}, max_pending={self.max_pending})"
        )

    @property
    def frames_written(self) -> int:
        """Frames the child's writer has complete on disk."""
        return self._written

    @property
    def frames_pending(self) -> int:
        """Frames accepted by :meth:`append` and not yet written (nor failed)."""
        return self._submitted - self._written

    @property
    def has_room(self) -> bool:
        """Whether :meth:`append` would return without waiting for the child."""
        return self.frames_pending < self.max_pending and self._error is None

    def open(self, directory: Path, name: str) -> None:
        """Open the writer in the child; its errors (e.g. ``FileExistsError``) are raised here."""
        if self._state != "new":
            raise RuntimeError(f"{self!r} is already open; a writer is opened once")
        self._process.start()
        reply = self._call(
            {
                "op": "open",
                "writer": self.writer_name,
                "options": self.options,
                "directory": str(directory),
                "name": name,
            }
        )
        self._description = ResourceDescription(**reply["describe"])
        self._state = "open"

    def append(self, frame: np.ndarray[Any, Any]) -> int:
        """Copy ``frame`` to a free slot, queue it, and return the index it will have.

        Raises
        ------
        RuntimeError
            If the writer is not open, or an earlier write failed (its message).
        ValueError
            If ``frame``'s shape or dtype differs from the first frame's.
        """
        if self._state != "open":
            raise RuntimeError(f"{self!r} is not open")
        self._raise_failure()
        frame = np.asarray(frame)
        if self._frame_format is None:
            frame_format = FrameFormat.of(frame)
            self._share(frame_format)
            self._frame_format = frame_format
        else:
            self._frame_format.check(frame)
        with self._changed:
            while self.frames_pending >= self.max_pending and self._error is None:
                self._changed.wait()
        self._raise_failure()
        assert self._slots is not None
        index = self._submitted
        slot = index % self.max_pending
        np.copyto(self._slots[slot], frame)
        self._submitted = index + 1
        self._process.send({"op": "append", "slot": slot})
        return index

    def close(self) -> None:
        """Wait for every queued frame, close the writer, raise a failed write.

        Closing twice is harmless.
        """
        if self._state != "open":
            self._state = "closed"
            return
        self._state = "closed"
        try:
            if self._process.running:
                self._call({"op": "close"})
        finally:
            if self._buffer is not None:
                self._buffer.close()
                self._buffer.unlink()
                self._buffer = None
            if self._own_process:
                self._process.stop()
        self._raise_failure()

    def describe(self) -> ResourceDescription:
        """The child writer's description (known once open)."""
        if self._description is None:
            raise RuntimeError(f"{self!r} is not open")
        return self._description

    def datum_kwargs(self, index: int) -> dict[str, Any]:
        """The writer's ``datum_kwargs`` for frame ``index``."""
        return self._local.datum_kwargs(index)

    def _share(self, frame_format: FrameFormat) -> None:
        frame_bytes = int(np.prod(frame_format.shape)) * frame_format.dtype.itemsize
        size = max(1, frame_bytes) * self.max_pending
        self._buffer = shared_memory.SharedMemory(create=True, size=size)
        shape = (self.max_pending, *frame_format.shape)
        self._slots = np.ndarray(shape, frame_format.dtype, buffer=self._buffer.buf)
        self._call(
            {
                "op": "share",
                "buffer": self._buffer.name,
                "shape": list(shape),
                "dtype": frame_format.dtype.str,
            }
        )

    def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send ``message`` and wait for its answer (after every earlier frame's)."""
        with self._changed:
            self._reply = None
            self._process.send(message, self._on_reply)
            if not self._changed.wait_for(lambda: self._reply is not None, REPLY_TIMEOUT):
                raise TimeoutError(
                    f"the writer process did not answer {message['op']!r} within "
                    f"{REPLY_TIMEOUT:.0f} s"
                )
            reply = self._reply
        assert reply is not None
        if "refused" in reply:
            kind = _ERRORS.get(reply["kind"], RuntimeError)
            raise kind(reply["refused"])
        return reply

    def _on_reply(self, reply: dict[str, Any]) -> None:
        with self._changed:
            if "written" in reply:
                self._written = reply["written"]
            elif "failed" in reply:
                self._error, self._error_kind = reply["failed"], reply["kind"]
            elif "gone" in reply:
                self._error = self._error or f"the writer process exited (code {reply['gone']})"
                self._reply = self._reply or {"refused": self._error, "kind": "RuntimeError"}
            else:
                self._reply = reply
            self._changed.notify_all()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise RuntimeError(
                f"writing frame {self._written} of {self!r} failed ({self._error_kind}: "
                f"{self._error}); {max(0, self.frames_pending - 1)} later frame(s) were not "
                "written"
            )


# -- the child ---------------------------------------------------------------------


def _serve(requests: Iterator[Message], reply: Callable[[Message], None]) -> None:
    """Run writers as the parent asks, until it closes the pipe."""
    from ._registry import writer_for

    writer: Any = None
    slots: np.ndarray[Any, Any] | None = None
    buffer: shared_memory.SharedMemory | None = None
    failed = False

    for request in requests:
        op = request["op"]
        if op == "append":
            if failed:
                continue  # nothing is written after a failed frame
            assert slots is not None
            try:
                writer.append(slots[request["slot"]])
            except Exception as err:
                failed = True
                reply({"failed": str(err), "kind": type(err).__name__})
            else:
                reply({"written": writer.frames_written})
            continue
        try:
            if op == "open":
                writer, failed = writer_for(request["writer"], **request["options"]), False
                writer.open(Path(request["directory"]), request["name"])
                reply({"describe": asdict(writer.describe())})
            elif op == "share":
                buffer = _attach(request["buffer"])
                slots = np.ndarray(request["shape"], np.dtype(request["dtype"]), buffer=buffer.buf)
                reply({"shared": True})
            elif op == "close":
                writer.close()
                slots = None
                if buffer is not None:
                    buffer.close()
                    buffer = None
                reply({"closed": True})
        except Exception as err:
            reply({"refused": str(err), "kind": type(err).__name__})


def _attach(name: str) -> shared_memory.SharedMemory:
    """Attach to the parent's buffer without adopting it (the parent unlinks it)."""
    try:
        return shared_memory.SharedMemory(name=name, track=False)  # type: ignore[call-arg]
    except TypeError:  # Python < 3.13 tracks every attach: untrack it again
        from multiprocessing import resource_tracker

        buffer = shared_memory.SharedMemory(name=name)
        resource_tracker.unregister(buffer._name, "shared_memory")  # type: ignore[attr-defined]
        return buffer


def main() -> None:
    """The child's entry point: requests on stdin, replies on (the original) stdout."""
    _serve(*parent_pipe())
