"""A camera that is a folder: another program (a vendor's, a Raspberry Pi's) drops the images.

:class:`FolderCamera` watches the directory tree a :class:`FilePattern` describes;
each trigger completes with a new complete file, and the reading points at that
file where it lies (one Resource and one Datum per file), with the fields its name
carries as readings of their own. With ``copy_to`` the frame is copied into one of
our writers instead.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from event_model import compose_resource
from ophyd import Component as Cpt
from ophyd import Device, Kind, Signal
from ophyd.signal import SignalRO
from ophyd.status import DeviceStatus
from PIL import Image

from .._files import atomic_write, make_private_directory
from ..locations import default_data_dir
from ..specs import AD_JPEG, AD_TIFF, PNG_FILE
from ..storage import FrameFormat, WriterFactory
from .filestore import FileStoreMixin, FrameSignal
from .folder_watch import (
    FieldKind,
    FileFeed,
    FilePattern,
    FolderWatch,
    ImageFormat,
    Mode,
    check_mode,
    check_seconds,
)

logger = logging.getLogger(__name__)

SPECS: dict[ImageFormat, str] = {"tiff": AD_TIFF, "jpeg": AD_JPEG, "png": PNG_FILE}
"""The Resource spec of each image format."""

FILE_TEMPLATE = "%s%s"
"""The ``template`` of a one-file Resource: the root, then the ``filename`` below it."""

PIL_MODES: dict[str, tuple[tuple[int, ...], str]] = {
    "L": ((), "uint8"),
    "RGB": ((3,), "uint8"),
    "RGBA": ((4,), "uint8"),
    "I;16": ((), "uint16"),
    "I": ((), "int32"),
    "F": ((), "float32"),
}
"""Pillow image modes read as frames: extra axes and dtype, as ``numpy.asarray`` gives them."""

_DTYPES: dict[FieldKind, str] = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "time": "number",
}


class FolderCamera(FileStoreMixin, Device):
    """A camera whose images another program writes into a folder.

    Each trigger completes when a new file matching ``template`` is complete (see
    :class:`~bluesky_timelapse.devices.FolderWatch`); the watch runs on its own
    threads, so the RunEngine's event loop never waits on the disk. The reading
    holds ``{name}_image`` (a datum id; the Resource points at the file where it
    lies: ``AD_TIFF``, ``AD_JPEG`` or ``BLUESKY_TIMELAPSE_PNG``), ``{name}_file``
    (its path) and one ``{name}_{field}`` per field of the template, all
    timestamped with the file's modification time.

    Parameters
    ----------
    name
        Device name, the prefix of the data keys.
    template
        Absolute path template of the files, strftime codes and named fields, e.g.
        ``/data/{camera_name}/%Y/%m/%d/{timestamp:%Y%m%d%H%M%S}_{exposure_ms:d}.jpg``;
        see :class:`~bluesky_timelapse.devices.FilePattern`. Its fixed head must
        exist at stage.
    mode
        ``"next"``: a trigger takes the first file completed after it was called.
        ``"latest"``: the newest file completed since stage and not yet used, at
        once; the first one to come if there is none.
    timeout
        Seconds a trigger waits for a file before its Status fails, > 0.
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
        pattern = FilePattern(template)
        check_mode(mode)
        check_seconds(timeout=timeout, poll_interval=poll_interval, settle_time=settle_time)
        own = set(self.component_names)
        clashes = sorted(own & set(pattern.fields))
        if clashes:
            raise ValueError(
                f"template field(s) {', '.join(clashes)} clash with the camera's own readings; "
                f"allowed: any name but {', '.join(sorted(own))}"
            )
        if copy_to is None and (write_path_template is not None or writer_options):
            raise ValueError(
                "write_path_template and writer_options are for copy_to; without copy_to "
                "frames are read where they lie"
            )
        if copy_to is not None and write_path_template is None:
            raise ValueError("copy_to needs write_path_template: where to write the copies")
        self.pattern = pattern
        self.mode = mode
        self.timeout = float(timeout)
        self.copy_to = copy_to
        self._frame_format_known = False
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
        self.record = IngestRecord(
            Path(state_file)
            if state_file is not None
            else default_data_dir() / "folder_cameras" / f"{name}.json",
            pattern,
        )
        self._feed = FileFeed(mode)
        self._watch = FolderWatch(
            pattern,
            self._feed.arrived,
            use_polling=use_polling,
            poll_interval=float(poll_interval),
            settle_time=float(settle_time),
            clock=clock,
        )
        self._deliveries = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-files")

    @property
    def settle_time(self) -> float:
        """Seconds a file's size must stay the same to count without a close event."""
        return self._watch.settle_time

    @property
    def _latest(self) -> Path | None:
        """The file a ``"latest"`` trigger would take at once; None if none."""
        return self._feed.latest

    def stage(self) -> list[Any]:
        """Start watching, then stage (opening the ``copy_to`` writer, if any).

        Raises
        ------
        FileNotFoundError
            If the template's fixed directory does not exist.
        """
        self._frame_format_known = False
        self._feed.clear()
        self._watch.start()
        try:
            staged: list[Any] = super().stage()
        except BaseException:
            self._watch.stop()
            raise
        return staged

    def unstage(self) -> list[Any]:
        """Stop watching and unstage; a trigger still waiting fails."""
        self._watch.stop()
        self._feed.fail_waiting(RuntimeError(f"{self.name} was unstaged while a trigger waited"))
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
        if not self._watch.running:
            raise RuntimeError(f"{self.name} is not staged; stage it before triggering")
        status = DeviceStatus(self)
        chosen = self.next_file.get()
        if chosen:
            self.next_file.put("")
            self._deliveries.submit(self._deliver, status, Path(chosen))
            return status
        future = self._feed.request()
        timer = threading.Timer(self.timeout, self._expire, (status, future))
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
        if not self._frame_format_known:
            raise RuntimeError(
                f"{self.name} knows its frame format from the first file it takes; "
                "trigger it before describing"
            )
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

        Files modified in the last ``settle_time`` seconds may still be written;
        they are left for later.
        """
        root = self.pattern.root
        if not root.is_dir():
            raise FileNotFoundError(
                f"the directory {str(root)!r} of template {self.pattern.template!r} does not "
                "exist; create it, or mount the share that holds it"
            )
        newest = time.time_ns() - int(self.settle_time * 1e9)
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
                key = self.record.key(path, stat.st_mtime_ns)
                if stat.st_size and stat.st_mtime_ns <= newest and self.record.is_new(key):
                    found.append((key, path))
        return [path for _, path in sorted(found)]

    def _expire(self, status: DeviceStatus, future: Future[Path]) -> None:
        if self._feed.withdraw(future):
            status.set_exception(self._watch.no_file_error(self.name, self.timeout))

    def _deliver(self, status: DeviceStatus, path: Path) -> None:
        try:
            stat = path.stat()
            values = self.pattern.match(path)
            if values is None:
                raise ValueError(
                    f"{str(path)!r} does not match the template {self.pattern.template!r}"
                )
            frame_format = read_frame_format(path, self.pattern.image_format)
            if not self._frame_format_known:
                self.frame_format, self._frame_format_known = frame_format, True
            else:
                check_same_format(path, frame_format, self.frame_format)
            if self.copy_to is None:
                datum_id = self._reference(path)
            else:
                datum_id = self.store_frame(read_frame(path, self.pattern.image_format))
            when = stat.st_mtime
            for field, value in values.items():
                self.fields[field].put(value, timestamp=when)
            self.file.put(str(path), timestamp=when)
            self.image.put(datum_id, timestamp=when)
        except Exception as err:
            status.set_exception(err)
            return
        status.set_finished()
        try:
            self.record.used(path, stat.st_mtime_ns)
        except OSError as err:
            logger.warning("%s could not record %s as used: %s", self.name, path, err)

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


def read_frame_format(path: Path, image_format: ImageFormat) -> FrameFormat:
    """Shape and dtype of the image in ``path``, from its header only.

    Raises
    ------
    ValueError
        For an image mode or pixel type that frames cannot have.
    """
    if image_format == "tiff":
        with tifffile.TiffFile(path) as tiff:
            series = tiff.series[0]
            return FrameFormat(series.shape, series.dtype)
    with Image.open(path) as image:
        if image.mode not in PIL_MODES:
            raise ValueError(
                f"{str(path)!r} has image mode {image.mode!r}; allowed: {', '.join(PIL_MODES)}"
            )
        extra, dtype = PIL_MODES[image.mode]
        return FrameFormat((image.height, image.width, *extra), np.dtype(dtype))


def check_same_format(path: Path, frame_format: FrameFormat, first: FrameFormat) -> None:
    """Refuse a file whose frames (``frame_format``) are unlike the run's ``first`` file's.

    Raises
    ------
    ValueError
        Naming the file and both shapes and dtypes.
    """
    if frame_format != first:
        raise ValueError(
            f"{str(path)!r} holds frames of shape {frame_format.shape} and dtype "
            f"{frame_format.dtype.name!r}, unlike the run's first file (shape "
            f"{first.shape}, dtype {first.dtype.name!r}); every frame of one run must have "
            "the same shape and dtype"
        )


def read_frame(path: Path, image_format: ImageFormat) -> np.ndarray:
    """The pixels of ``path``, as Tiled's adapters read them."""
    if image_format == "tiff":
        frame: np.ndarray = tifffile.imread(path)
        return frame
    with Image.open(path) as image:
        return np.asarray(image)
