"""A camera that is a folder, as an ophyd-async detector: each frame is the next file that lands.

:class:`AsyncFolderCamera` takes the files a
:class:`~bluesky_timelapse.sources.FilePattern` describes from the same
:class:`~bluesky_timelapse.sources.FolderSource` (watch, modes, state file) as the
ophyd v1 :class:`~bluesky_timelapse.devices.FolderCamera`, but copies each frame
into one of our writers: a StreamResource addresses the frames of a sequence by
index through one template, which files named by their time cannot follow.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

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
    soft_signal_rw,
)

from ..sources import FieldKind, FilePattern, FolderSource, Mode
from ._frame_detector import FrameAcquireLogic, FrameDetector

FIELD_TYPES: dict[FieldKind, tuple[type, str | int | float]] = {
    "string": (str, ""),
    "integer": (int, 0),
    "number": (float, 0.0),
    "time": (float, 0.0),
}
"""The soft signal type and initial value of each kind of template field."""


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


class FolderAcquireLogic(FrameAcquireLogic):
    """Takes each frame as :class:`FrameAcquireLogic` does, then records its file as used.

    Recorded in the source's state file once written, so that
    :func:`~bluesky_timelapse.plans.ingest_backlog` never emits it again.
    """

    source: FolderSource

    async def take_frame(self, exposure: float) -> None:
        """Grab and write one frame, then record its file as used."""
        await super().take_frame(exposure)
        taken = self.source.last
        if taken is not None:
            await asyncio.to_thread(self.source.mark_used, taken)


class AsyncFolderCamera(FrameDetector):
    """:class:`~bluesky_timelapse.devices.FolderCamera`, as an ophyd-async detector.

    Each frame is the next complete file matching ``template`` (see
    :class:`~bluesky_timelapse.sources.FolderWatch`), waited for on the camera's
    worker thread, never on the event loop. The frame is **copied** into one of our
    writers, described by a StreamResource: a StreamResource of a file sequence
    addresses its files by index through one name template, which files named by
    their time cannot follow, so they cannot be referenced where they lie.

    The run's first file gives the frame format: it is waited for in ``prepare``
    (which the first trigger after stage does implicitly), and it becomes the first
    frame. Every event also holds ``{name}-file`` and ``{name}-{field}`` for each
    template field, read from soft signals of those names and timestamped with the
    file's modification time (step scans only: ophyd-async reads them for one
    collection per prepare). Each file taken is recorded in the state file once its
    frame is written; a path set in ``next_file`` is the next frame, at once (how
    :func:`~bluesky_timelapse.plans.ingest_backlog` emits the :meth:`backlog`).

    Parameters
    ----------
    path_provider, writer, writer_options, name
        Where and how the copies are written, and the device's name (the frames'
        data key); see :class:`FrameDetector`.
    template, mode, timeout, use_polling, poll_interval, settle_time, clock, state_file
        Which files are frames, how they are watched and waited for (a trigger, or
        prepare, fails after ``timeout`` seconds), and where the newest file used
        is recorded; see :class:`~bluesky_timelapse.sources.FolderSource`. The
        default state file follows the device's name.

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
        state_file: str | os.PathLike[str] | None = None,
        writer: str = "hdf5",
        writer_options: dict[str, Any] | None = None,
        name: str = "",
    ) -> None:
        own = {"source", "exposure", "file", "next_file", "folder_template", "folder_mode"}
        self._folder = FolderSource(
            template,
            name=name or type(self).__name__,
            mode=mode,
            timeout=timeout,
            use_polling=use_polling,
            poll_interval=poll_interval,
            settle_time=settle_time,
            clock=clock,
            state_file=state_file,
            reserved=own | set(dir(type(self))),
        )
        # Signals made before the base class names the device, so that its name names them.
        self.folder_template, _ = soft_signal_r_and_setter(str, template)
        self.folder_mode, _ = soft_signal_r_and_setter(str, mode)
        self.next_file = soft_signal_rw(str, "", setter=self._replay)
        self.file, set_file = soft_signal_r_and_setter(str, "")
        signals: dict[str, tuple[SignalR, Setter]] = {"file": (self.file, set_file)}
        for field, kind in self._folder.pattern.fields.items():
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
            acquire_logic=FolderAcquireLogic,
        )
        self.add_config_signals(self.folder_template, self.folder_mode)
        self.add_detector_logics(FileReadingsLogic(self._folder, signals))

    @property
    def pattern(self) -> FilePattern:
        """The template, compiled."""
        return self._folder.pattern

    def backlog(self) -> list[Path]:
        """Complete files matching the template newer than the newest one used, oldest first.

        See :meth:`~bluesky_timelapse.sources.IngestRecord.backlog`.
        """
        return self._folder.backlog()

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

    def _replay(self, path: str | None) -> None:
        if path:
            self._folder.replay(Path(path))
