"""A camera that is a folder, as an ophyd-async detector: each frame is the next file that lands.

:class:`AsyncFolderCamera` watches the files a
:class:`~bluesky_timelapse.devices.FilePattern` describes with the same
:class:`~bluesky_timelapse.devices.FolderWatch` and modes as the ophyd v1
:class:`~bluesky_timelapse.devices.FolderCamera`, but copies each frame into one
of our writers: a StreamResource addresses the frames of a sequence by index
through one template, which files named by their time cannot follow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from bluesky.protocols import Reading
from event_model import DataKey
from ophyd_async.core import (
    AsyncStatus,
    DetectorDataLogic,
    PathProvider,
    ReadableDataProvider,
    SignalR,
    TriggerInfo,
    merge_gathered_dicts,
    soft_signal_r_and_setter,
)

from ..devices.folder_camera import check_same_format, read_frame, read_frame_format
from ..devices.folder_watch import (
    FieldKind,
    FileFeed,
    FilePattern,
    FolderWatch,
    Mode,
    check_mode,
    check_seconds,
)
from ..storage import FrameFormat
from .frames import FrameDetector

FIELD_TYPES: dict[FieldKind, tuple[type, str | int | float]] = {
    "string": (str, ""),
    "integer": (int, 0),
    "number": (float, 0.0),
    "time": (float, 0.0),
}
"""The soft signal type and initial value of each kind of template field."""


@dataclass(frozen=True)
class TakenFile:
    """A file a :class:`FolderSource` made a frame of."""

    path: Path
    fields: dict[str, str | int | float]
    """What the file's name says, by template field."""
    mtime: float
    """Its modification time (Unix seconds): it had its last byte then."""


class FolderSource:
    """Frames read from the complete files matching a template, one file per frame.

    A :class:`~bluesky_timelapse.async_devices.FrameSource`: ``open`` starts the
    watch, ``grab`` waits for the next file (in the mode's sense) and decodes it,
    ``close`` stops the watch. The frame format is that of the run's first file,
    taken by :meth:`take_first` before the first ``grab``.

    Parameters
    ----------
    pattern
        Which files are frames.
    name
        Named in error messages.
    mode, timeout, use_polling, poll_interval, settle_time, clock
        As for :class:`AsyncFolderCamera` (not checked here).
    """

    frame_format: FrameFormat
    """The frames' format: the run's first file's, set by :meth:`take_first`."""

    def __init__(
        self,
        pattern: FilePattern,
        *,
        name: str,
        mode: Mode,
        timeout: float,
        use_polling: bool,
        poll_interval: float,
        settle_time: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.pattern = pattern
        self.name = name
        self.timeout = timeout
        self.feed = FileFeed(mode)
        self.watch = FolderWatch(
            pattern,
            self.feed.arrived,
            use_polling=use_polling,
            poll_interval=poll_interval,
            settle_time=settle_time,
            clock=clock,
        )
        self.last: TakenFile | None = None
        """The file of the latest frame; None before the first since open."""
        self._first: Path | None = None
        self._format_known = False

    def open(self) -> None:
        """Start watching: files complete from now on are new.

        Raises
        ------
        FileNotFoundError
            If the template's fixed directory does not exist.
        """
        self._format_known, self._first, self.last = False, None, None
        self.feed.clear()
        self.watch.start()

    def take_first(self) -> None:
        """Wait for the run's first file, read its frame format and keep it for ``grab``.

        Nothing happens once the format is known (until the next ``open``).

        Raises
        ------
        TimeoutError
            If no file is complete within the timeout; the message names the
            template and the watched directory.
        ValueError
            For an image mode or pixel type that frames cannot have.
        """
        if self._format_known:
            return
        path = self._next()
        self.frame_format = read_frame_format(path, self.pattern.image_format)
        self._first, self._format_known = path, True

    def grab(self, exposure: float) -> np.ndarray:
        """The pixels of the next file (the first file, if it is not used yet).

        ``exposure`` is not used: the other program exposes as it likes.

        Raises
        ------
        TimeoutError
            If no file is complete within the timeout (see :meth:`take_first`).
        ValueError
            For a file of another shape or dtype than the run's first.
        RuntimeError
            If the source is closed while waiting.
        """
        path, self._first = self._first or self._next(), None
        stat = path.stat()
        fields = self.pattern.match(path)
        if fields is None:  # the watch reports matching files only
            raise ValueError(
                f"{str(path)!r} does not match the template {self.pattern.template!r}"
            )
        check_same_format(
            path, read_frame_format(path, self.pattern.image_format), self.frame_format
        )
        frame = read_frame(path, self.pattern.image_format)
        self.last = TakenFile(path, fields, stat.st_mtime)
        return frame

    def close(self) -> None:
        """Stop watching; a grab still waiting fails."""
        self.watch.stop()
        self.feed.fail_waiting(RuntimeError(f"{self.name} was unstaged while a trigger waited"))

    def _next(self) -> Path:
        if not self.watch.running:
            raise RuntimeError(f"{self.name} is not staged; stage it before triggering")
        path = self.feed.wait(self.timeout)
        if path is None:
            raise self.watch.no_file_error(self.name, self.timeout)
        return path


Setter = Callable[[Any], None]


class FileReadings(ReadableDataProvider):
    """The path and name fields of the latest frame's file, read from soft signals.

    Each reading is timestamped with the file's modification time, as in
    :class:`~bluesky_timelapse.devices.FolderCamera`.

    Parameters
    ----------
    source
        Tells the latest file.
    signals
        ``"file"`` and each template field -> its signal and that signal's setter.
    """

    def __init__(
        self, source: FolderSource, signals: Mapping[str, tuple[SignalR, Setter]]
    ) -> None:
        self.source = source
        self.signals = dict(signals)

    async def make_datakeys(self) -> dict[str, DataKey]:
        """The signals' data keys."""
        return await merge_gathered_dicts(signal.describe() for signal, _ in self.signals.values())

    async def make_readings(self) -> dict[str, Reading]:
        """Set the signals from the latest file, then read them.

        Raises
        ------
        RuntimeError
            Before the first frame since stage.
        """
        taken = self.source.last
        if taken is None:
            raise RuntimeError(f"{self.source.name} has taken no file yet; trigger it first")
        values = {"file": str(taken.path), **taken.fields}
        readings: dict[str, Reading] = {}
        for key, (signal, setter) in self.signals.items():
            setter(values[key])
            for name, reading in (await signal.read(cached=False)).items():
                reading = reading.copy()
                reading["timestamp"] = taken.mtime
                readings[name] = reading
        return readings


class FileReadingsLogic(DetectorDataLogic):
    """Adds a :class:`FileReadings` to each event of a step scan.

    Parameters
    ----------
    source, signals
        See :class:`FileReadings`.
    """

    datakey_suffix = "-file"

    def __init__(
        self, source: FolderSource, signals: Mapping[str, tuple[SignalR, Setter]]
    ) -> None:
        self.source = source
        self.signals = dict(signals)

    async def prepare_single(self, datakey_name: str) -> ReadableDataProvider:
        """Read the signals in every event."""
        return FileReadings(self.source, self.signals)


class AsyncFolderCamera(FrameDetector):
    """:class:`~bluesky_timelapse.devices.FolderCamera`, as an ophyd-async detector.

    Each frame is the next complete file matching ``template`` (see
    :class:`~bluesky_timelapse.devices.FolderWatch`), waited for on the camera's
    worker thread, never on the event loop. The frame is **copied** into one of our
    writers, described by a StreamResource: a StreamResource of a file sequence
    addresses its files by index through one name template, which files named by
    their time cannot follow, so they cannot be referenced where they lie.

    The run's first file gives the frame format: it is waited for in ``prepare``
    (which the first trigger after stage does implicitly), and it becomes the first
    frame. Every event also holds ``{name}-file`` and ``{name}-{field}`` for each
    template field, read from soft signals of those names and timestamped with the
    file's modification time (step scans only: ophyd-async reads them for one
    collection per prepare).

    Parameters
    ----------
    path_provider
        Where the copies go, e.g. ``StaticPathProvider(UUIDFilenameProvider(), Path("/data"))``.
    template
        Absolute path template of the files, see
        :class:`~bluesky_timelapse.devices.FilePattern`; its fixed head must exist
        at stage.
    mode
        ``"next"``: a frame is the first file completed after it was asked for.
        ``"latest"``: the newest file completed since stage and not yet used, at
        once; the first one to come if there is none.
    timeout
        Seconds to wait for a file before the trigger (or prepare) fails, > 0.
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
    writer, writer_options
        ``"tiff"``, ``"hdf5"`` (default), ``"zarr"`` or ``"npy"``, and its options.
    name
        Device name; the frames' data key.

    Raises
    ------
    ValueError
        For an invalid template, mode, timeout, interval or settle time, or a field
        named like one of the camera's attributes, at construction.

    Examples
    --------
    >>> with init_devices():
    ...     pi = AsyncFolderCamera(
    ...         StaticPathProvider(UUIDFilenameProvider(), Path("/data/pi-copies")),
    ...         template="/incoming/pi/%Y/%m/%d/{t:%H%M%S}_{exposure_ms:d}.jpg",
    ...     )  # doctest: +SKIP
    >>> RE(count([pi], num=5))  # doctest: +SKIP
    """

    def __init__(
        self,
        path_provider: PathProvider,
        *,
        template: str,
        mode: Mode = "next",
        timeout: float = 60.0,
        use_polling: bool = False,
        poll_interval: float = 1.0,
        settle_time: float = 0.5,
        clock: Callable[[], datetime] = datetime.now,
        writer: str = "hdf5",
        writer_options: dict[str, Any] | None = None,
        name: str = "",
    ) -> None:
        pattern = FilePattern(template)
        check_mode(mode)
        check_seconds(timeout=timeout, poll_interval=poll_interval, settle_time=settle_time)
        own = {"source", "exposure", "file", "folder_template", "folder_mode"}
        clashes = sorted(f for f in pattern.fields if f in own or hasattr(type(self), f))
        if clashes:
            raise ValueError(
                f"template field(s) {', '.join(clashes)} clash with the camera's own "
                "attributes; allowed: other names, e.g. with a prefix"
            )
        self._folder = FolderSource(
            pattern,
            name=name or type(self).__name__,
            mode=mode,
            timeout=float(timeout),
            use_polling=use_polling,
            poll_interval=float(poll_interval),
            settle_time=float(settle_time),
            clock=clock,
        )
        # Signals made before the base class names the device, so that its name names them.
        self.folder_template, _ = soft_signal_r_and_setter(str, template)
        self.folder_mode, _ = soft_signal_r_and_setter(str, mode)
        self.file, set_file = soft_signal_r_and_setter(str, "")
        signals: dict[str, tuple[SignalR, Setter]] = {"file": (self.file, set_file)}
        for field, kind in pattern.fields.items():
            datatype, initial = FIELD_TYPES[kind]
            signal, setter = soft_signal_r_and_setter(datatype, initial)
            setattr(self, field, signal)
            signals[field] = (signal, setter)
        super().__init__(
            self._folder,
            path_provider,
            writer=writer,
            writer_options=writer_options,
            name=name,
        )
        self.add_config_signals(self.folder_template, self.folder_mode)
        self.add_detector_logics(FileReadingsLogic(self._folder, signals))

    @property
    def pattern(self) -> FilePattern:
        """The template, compiled."""
        return self._folder.pattern

    @AsyncStatus.wrap
    async def prepare(self, value: TriggerInfo) -> None:
        """Wait for the run's first file (it gives the frame format), then prepare.

        The first trigger after stage prepares implicitly; the file waited for here
        is its frame. Once the format is known, nothing is waited for.

        Raises
        ------
        TimeoutError
            If no file is complete within the timeout, naming the template and the
            watched directory.
        """
        await asyncio.to_thread(self._folder.take_first)
        await super().prepare(value)

    def set_name(self, name: str, *, child_name_separator: str | None = None) -> None:
        """Name the device and its signals; error messages use the name."""
        super().set_name(name, child_name_separator=child_name_separator)
        self._folder.name = name or type(self).__name__
