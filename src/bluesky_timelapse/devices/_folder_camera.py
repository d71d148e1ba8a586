"""A camera that is a folder: another program (a vendor's, a Raspberry Pi's) drops the images.

:class:`FolderCamera` watches the directory tree a
:class:`~bluesky_timelapse.sources.FilePattern` describes;
each trigger completes with a new complete file, and the reading points at that
file where it lies (one Resource and one Datum per file), with the fields its name
carries as readings of their own. With ``copy_to`` the frame is copied into one of
our writers instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from event_model import compose_resource
from ophyd import Component as Cpt
from ophyd import Device, Kind, Signal
from ophyd.signal import SignalRO
from ophyd.status import DeviceStatus

from ..sources import FieldKind, FilePattern, FolderSource, ImageFormat, Mode
from ..specs import AD_JPEG, AD_TIFF, PNG_FILE
from ..storage import FrameFormat, WriterFactory
from ._filestore import FileStoreMixin, FrameSignal

SPECS: dict[ImageFormat, str] = {"tiff": AD_TIFF, "jpeg": AD_JPEG, "png": PNG_FILE}
"""The Resource spec of each image format."""

FILE_TEMPLATE = "%s%s"
"""The ``template`` of a one-file Resource: the root, then the ``filename`` below it."""

_DTYPES: dict[FieldKind, str] = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "time": "number",
}


class FolderCamera(FileStoreMixin, Device):
    """A camera whose images another program writes into a folder.

    Each trigger completes when a new file matching ``template`` is complete (see
    :class:`~bluesky_timelapse.sources.FolderWatch`); the watch runs on its own
    threads, so the RunEngine's event loop never waits on the disk. The reading
    holds ``{name}_image`` (a datum id; the Resource points at the file where it
    lies: ``AD_TIFF``, ``AD_JPEG`` or ``BLUESKY_TIMELAPSE_PNG``), ``{name}_file``
    (its path) and one ``{name}_{field}`` per field of the template, all
    timestamped with the file's modification time.

    Parameters
    ----------
    name
        Device name, the prefix of the data keys.
    template, mode, timeout, use_polling, poll_interval, settle_time, clock, state_file
        Which files are frames, how they are watched and waited for (a trigger
        fails after ``timeout`` seconds), and where the newest file used is
        recorded; see :class:`~bluesky_timelapse.sources.FolderSource`.
    copy_to
        A writer name (``"tiff"``, ``"hdf5"``, ``"zarr"``, ``"npy"``) or factory: copy
        each frame into that writer instead of pointing at the file, through
        :class:`~bluesky_timelapse.devices.FileStoreMixin`.
    write_path_template, root, writer_options
        Where and how ``copy_to`` writes; only with ``copy_to``.
    **kwargs
        Passed to :class:`ophyd.Device`.

    Raises
    ------
    ValueError
        For an invalid template, mode, timeout, interval or settle time, a field
        named like one of the camera's own readings, or copy settings without
        ``copy_to``, at construction: nothing is written.

    Examples
    --------
    >>> camera = FolderCamera(
    ...     name="pi", template="/data/pi/%Y/%m/%d/{t:%H%M%S}_{exposure_ms:d}.jpg"
    ... )
    >>> RE(count([camera], num=5))  # doctest: +SKIP
    """

    image = Cpt(FrameSignal, kind=Kind.normal)
    file = Cpt(Signal, value="", kind=Kind.normal)
    next_file = Cpt(Signal, value="", kind=Kind.omitted)
    folder_template = Cpt(SignalRO, value="", kind=Kind.config)
    folder_mode = Cpt(SignalRO, value="", kind=Kind.config)

    def __init__(
        self,
        *,
        name: str,
        template: str,
        mode: Mode = "next",
        timeout: float = 60.0,
        use_polling: bool = False,
        poll_interval: float = 1.0,
        settle_time: float = 0.5,
        clock: Callable[[], datetime] = datetime.now,
        state_file: str | os.PathLike[str] | None = None,
        copy_to: str | WriterFactory | None = None,
        write_path_template: str | None = None,
        root: str = "/",
        writer_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.frame_source = FolderSource(
            template,
            name=name,
            mode=mode,
            timeout=timeout,
            use_polling=use_polling,
            poll_interval=poll_interval,
            settle_time=settle_time,
            clock=clock,
            state_file=state_file,
            reserved=self.component_names,
        )
        pattern = self.frame_source.pattern
        if copy_to is None and (write_path_template is not None or writer_options):
            raise ValueError(
                "write_path_template and writer_options are for copy_to; without copy_to "
                "frames are read where they lie"
            )
        if copy_to is not None and write_path_template is None:
            raise ValueError("copy_to needs write_path_template: where to write the copies")
        self.copy_to = copy_to
        super().__init__(
            name=name,
            # Without copy_to, no writer: the files are referenced where they lie.
            write_path_template=write_path_template or str(pattern.root),
            root=root,
            writer=copy_to,
            writer_options=writer_options,
            **kwargs,
        )
        self.fields = {
            field: Signal(name=f"{name}_{field}", value="" if kind == "string" else 0, parent=self)
            for field, kind in pattern.fields.items()
        }
        for signal, setting in ((self.folder_template, template), (self.folder_mode, mode)):
            signal._readback = setting  # SignalRO refuses put(); fixed once, here
        self._deliveries = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-files")

    @property
    def pattern(self) -> FilePattern:
        """The template, compiled."""
        return self.frame_source.pattern

    @property
    def frame_format(self) -> FrameFormat:  # type: ignore[override]
        """The frames' format: the first file's since stage.

        Raises
        ------
        RuntimeError
            Before the first frame since stage.
        """
        return self.frame_source.frame_format

    @property
    def _latest(self) -> Path | None:
        """The file a ``"latest"`` trigger would take at once; None if none."""
        return self.frame_source.feed.latest

    def stage(self) -> list[Any]:
        """Start watching, then stage (opening the ``copy_to`` writer, if any).

        Raises
        ------
        FileNotFoundError
            If the template's fixed directory does not exist.
        """
        self.frame_source.open()
        try:
            staged: list[Any] = super().stage()
        except BaseException:
            self.frame_source.close()
            raise
        return staged

    def unstage(self) -> list[Any]:
        """Stop watching and unstage; a trigger still waiting fails."""
        self.frame_source.close()
        return super().unstage()

    def trigger(self) -> DeviceStatus:
        """Complete with the next file (see ``mode``), or fail after ``timeout`` seconds.

        A path put in ``next_file`` is taken at once instead (how
        :func:`~bluesky_timelapse.plans.ingest_backlog` replays files).

        Raises
        ------
        RuntimeError
            If the camera is not staged.
        """
        chosen = self.next_file.get()
        if chosen and self.frame_source.watch.running:
            self.next_file.put("")
            self.frame_source.replay(Path(chosen))
        future = self.frame_source.request()
        status = DeviceStatus(self)
        timer = threading.Timer(self.frame_source.timeout, self._expire, (status, future))
        timer.daemon = True

        def arrived(future: Future[Path]) -> None:
            timer.cancel()
            if future.cancelled():  # expired
                return
            error = future.exception()
            if error is not None:
                status.set_exception(error)
            else:
                self._deliveries.submit(self._deliver, status, future.result())

        future.add_done_callback(arrived)
        if not future.done():
            timer.start()
        return status

    def read(self) -> dict[str, dict[str, Any]]:
        """The camera's readings and one per template field."""
        reading: dict[str, dict[str, Any]] = super().read()
        for signal in self.fields.values():
            reading.update(signal.read())
        return reading

    def describe(self) -> dict[str, dict[str, Any]]:
        """Data keys of the camera's readings and of the template fields.

        Raises
        ------
        RuntimeError
            Before the first frame since stage: its file gives the frame format.
        """
        description: dict[str, dict[str, Any]] = super().describe()
        for field, kind in self.pattern.fields.items():
            signal = self.fields[field]
            description[signal.name] = {
                "source": f"file name {self.pattern.template}",
                "dtype": _DTYPES[kind],
                "shape": [],
            }
        return description

    def backlog(self) -> list[Path]:
        """Complete files matching the template newer than the newest one used, oldest first.

        See :meth:`~bluesky_timelapse.sources.IngestRecord.backlog`.
        """
        return self.frame_source.backlog()

    def _expire(self, status: DeviceStatus, future: Future[Path]) -> None:
        if self.frame_source.feed.withdraw(future):
            status.set_exception(self.frame_source.no_file_error())

    def _deliver(self, status: DeviceStatus, path: Path) -> None:
        try:
            taken = self.frame_source.take(path)
            if self.copy_to is None:
                datum_id = self._reference(path)
            else:
                datum_id = self.store_frame(self.frame_source.read(path))
            for field, value in taken.fields.items():
                self.fields[field].put(value, timestamp=taken.mtime)
            self.file.put(str(path), timestamp=taken.mtime)
            self.image.put(datum_id, timestamp=taken.mtime)
        except Exception as err:
            status.set_exception(err)
            return
        status.set_finished()
        self.frame_source.mark_used(taken)

    def _reference(self, path: Path) -> str:
        """Queue a Resource and a Datum for the file where it lies; return the datum id."""
        root = self.pattern.root
        # Every Resource names the root and the path below it as its "filename":
        # TiledWriter keeps the first Resource's directory for all the files of a
        # data key, and files of one run may lie in several (date) directories.
        bundle = compose_resource(
            spec=SPECS[self.pattern.image_format],
            root=str(root),
            resource_path="./",
            resource_kwargs={
                "template": FILE_TEMPLATE,
                "filename": path.relative_to(root).as_posix(),
            },
            path_semantics="posix",
        )
        datum = bundle.compose_datum(datum_kwargs={})
        self._asset_docs_cache.append(("resource", dict(bundle.resource_doc)))
        self._asset_docs_cache.append(("datum", dict(datum)))
        return str(datum["datum_id"])
