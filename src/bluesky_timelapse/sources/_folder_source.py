"""A folder as a frame source: each frame is the next complete file another program writes."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from .._checks import check_seconds
from ..data_dir import DataDirectory
from ..storage import FrameFormat
from ._file_feed import FileFeed, Mode, check_mode
from ._file_pattern import FilePattern
from ._folder_watch import FolderWatch
from ._image_files import check_same_format, read_frame, read_frame_format
from ._ingest_record import IngestRecord

logger = logging.getLogger("bluesky_timelapse.sources")


@dataclass(frozen=True)
class TakenFile:
    """A file a :class:`FolderSource` took for a frame."""

    path: Path
    fields: dict[str, str | int | float]
    """What the file's name says, by template field."""
    mtime: float
    """Its modification time (Unix seconds): it had its last byte then."""
    mtime_ns: int
    """The same, in nanoseconds, as the :class:`IngestRecord` orders files."""


class FolderSource:
    """Frames read from the complete files matching a template, one file per frame.

    A :class:`FrameSource`: :meth:`open` starts the watch, :meth:`grab` waits for
    the next file (in the mode's sense) and decodes it, :meth:`close` stops the
    watch. The frame format is that of the first file taken since open
    (:meth:`take_first` waits for it before the first grab). Every file taken is
    recorded (:meth:`mark_used`), so that :meth:`backlog` lists only the files no
    frame was made of.

    Parameters
    ----------
    template
        Absolute path template of the files, strftime codes and named fields, e.g.
        ``/data/{camera_name}/%Y/%m/%d/{timestamp:%Y%m%d%H%M%S}_{exposure_ms:d}.jpg``;
        see :class:`FilePattern`. Its fixed head must exist at open.
    name
        Who reads the files, in messages; names the default state file.
    mode
        ``"next"``: a frame is the first file completed after it was asked for.
        ``"latest"``: the newest file completed since open and not yet used, at
        once; the first one to come if there is none.
    timeout
        Seconds to wait for a file, > 0.
    use_polling
        Scan the current date's directories instead of using inotify (network
        filesystems).
    poll_interval
        Seconds between scans in polling mode, > 0.
    settle_time
        Seconds a file's size must stay the same to count without a close event, > 0.
    clock
        Returns the current local time (default :meth:`datetime.datetime.now`);
        decides which date directories polling visits.
    state_file
        Where the newest file used is recorded, durably, so that
        :func:`~bluesky_timelapse.plans.ingest_backlog` emits each later file once.
        Default ``<data dir>/folder_cameras/<name>.json``.
    reserved
        Names the template's fields must not have: the camera's own readings and
        attributes.

    Raises
    ------
    ValueError
        For an invalid template, mode, timeout, interval or settle time, or a field
        named in ``reserved``.
    """

    def __init__(
        self,
        template: str,
        *,
        name: str,
        mode: Mode = "next",
        timeout: float = 60.0,
        use_polling: bool = False,
        poll_interval: float = 1.0,
        settle_time: float = 0.5,
        clock: Callable[[], datetime] = datetime.now,
        state_file: str | os.PathLike[str] | None = None,
        reserved: Collection[str] = (),
    ) -> None:
        pattern = FilePattern(template)
        check_mode(mode)
        for label, seconds in (
            ("timeout", timeout),
            ("poll_interval", poll_interval),
            ("settle_time", settle_time),
        ):
            check_seconds(label, seconds)
        clashes = sorted(field for field in pattern.fields if field in reserved)
        if clashes:
            raise ValueError(
                f"template field(s) {', '.join(clashes)} clash with the camera's own readings "
                "or attributes; allowed: other names, e.g. with a prefix"
            )
        self.pattern = pattern
        self.timeout = float(timeout)
        self.feed = FileFeed(mode)
        self.watch = FolderWatch(
            pattern,
            self.feed.arrived,
            use_polling=use_polling,
            poll_interval=float(poll_interval),
            settle_time=float(settle_time),
            clock=clock,
        )
        self._state_file = None if state_file is None else Path(state_file)
        self.record: IngestRecord
        """The newest file used, in the state file."""
        self.name = name
        self.last: TakenFile | None = None
        """The file of the latest frame; None before the first since open."""
        self._frame_format: FrameFormat | None = None
        self._first: Path | None = None
        self._replayed: Path | None = None

    @property
    def name(self) -> str:
        """Who reads the files; without a ``state_file``, renaming moves the default one."""
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        self._name = name
        state_file = self._state_file or DataDirectory.default().folder_camera_state(name)
        self.record = IngestRecord(state_file, self.pattern)

    @property
    def mode(self) -> Mode:
        """``"next"`` or ``"latest"``."""
        return self.feed.mode

    @property
    def settle_time(self) -> float:
        """Seconds a file's size must stay the same to count without a close event."""
        return self.watch.settle_time

    @property
    def frame_format(self) -> FrameFormat:
        """The frames' format: the first file's since open.

        Raises
        ------
        RuntimeError
            Before a file was taken since open.
        """
        if self._frame_format is None:
            raise RuntimeError(
                f"{self.name} knows its frame format from the first file it takes; "
                "trigger it before describing"
            )
        return self._frame_format

    def open(self) -> None:
        """Start watching: files complete from now on are new.

        Raises
        ------
        FileNotFoundError
            If the template's fixed directory does not exist.
        """
        self._frame_format, self._first, self._replayed, self.last = None, None, None, None
        self.feed.clear()
        self.watch.start()

    def replay(self, path: Path) -> None:
        """Take ``path`` as the next file, at once, instead of waiting for one.

        How :func:`~bluesky_timelapse.plans.ingest_backlog` emits the backlog.
        """
        self._replayed = path

    def request(self) -> Future[Path]:
        """A future of the next file: the one replayed, else the feed's (see ``mode``).

        Raises
        ------
        RuntimeError
            If the source is not open.
        """
        if not self.watch.running:
            raise RuntimeError(f"{self.name} is not staged; stage it before triggering")
        if self._replayed is None:
            return self.feed.request()
        future: Future[Path] = Future()
        future.set_result(self._replayed)
        self._replayed = None
        return future

    def no_file_error(self) -> TimeoutError:
        """The error of a wait that got no file within the timeout.

        It names the template, the watched directory and how it is watched.
        """
        return self.watch.no_file_error(self.name, self.timeout)

    def take_first(self) -> None:
        """Wait for the first file since open, read its frame format and keep it for ``grab``.

        Nothing happens once the format is known (until the next ``open``).

        Raises
        ------
        TimeoutError
            If no file is complete within the timeout (see :meth:`no_file_error`).
        ValueError
            For an image mode or pixel type that frames cannot have.
        """
        if self._frame_format is not None:
            return
        path = self._wait()
        self.take(path)
        self._first = path

    def grab(self, exposure: float) -> np.ndarray:
        """The pixels of the next file (the first file, if it is not used yet).

        ``exposure`` is not used: the other program exposes as it likes.

        Raises
        ------
        TimeoutError
            If no file is complete within the timeout (see :meth:`no_file_error`).
        ValueError
            For a file of another shape or dtype than the first.
        RuntimeError
            If the source is not open, or is closed while waiting.
        """
        path, self._first = self._first or self._wait(), None
        taken = self.take(path)
        frame = read_frame(path, self.pattern.image_format)
        self.last = taken
        return frame

    def take(self, path: Path) -> TakenFile:
        """Check a complete file for a frame, without decoding its pixels.

        The first file since open sets the frame format; every other must match it.

        Raises
        ------
        ValueError
            If ``path`` does not match the template, for an image mode or pixel type
            that frames cannot have, or a file of another shape or dtype than the
            first.
        OSError
            If the file cannot be read.
        """
        stat = path.stat()
        fields = self.pattern.match(path)
        if fields is None:
            raise ValueError(
                f"{str(path)!r} does not match the template {self.pattern.template!r}"
            )
        frame_format = read_frame_format(path, self.pattern.image_format)
        if self._frame_format is None:
            self._frame_format = frame_format
        else:
            check_same_format(path, frame_format, self._frame_format)
        return TakenFile(path, fields, stat.st_mtime, stat.st_mtime_ns)

    def read(self, path: Path) -> np.ndarray:
        """The pixels of ``path``, as Tiled's adapters read them."""
        return read_frame(path, self.pattern.image_format)

    def mark_used(self, taken: TakenFile) -> None:
        """Record ``taken`` as used in the state file; a failure is logged, not raised."""
        try:
            self.record.used(taken.path, taken.mtime_ns)
        except OSError as err:
            logger.warning("%s could not record %s as used: %s", self.name, taken.path, err)

    def backlog(self) -> list[Path]:
        """Complete files matching the template newer than the newest one used, oldest first.

        See :meth:`IngestRecord.backlog`.
        """
        return self.record.backlog(self.settle_time)

    def close(self) -> None:
        """Stop watching; a wait still going on fails."""
        self.watch.stop()
        self.feed.fail_waiting(RuntimeError(f"{self.name} was unstaged while a trigger waited"))

    def _wait(self) -> Path:
        future = self.request()
        try:
            return future.result(self.timeout)
        except TimeoutError:
            if self.feed.withdraw(future):
                raise self.no_file_error() from None
            return future.result()  # it came in the meantime
