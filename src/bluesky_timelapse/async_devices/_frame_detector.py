"""ophyd-async detector logic for cameras whose frames come from Python.

A :class:`FrameDetector` is an ophyd-async ``StandardDetector`` assembled from three
logic classes and a :class:`~bluesky_timelapse.sources.FrameSource` (anything that
hands out one frame at a time, blocking):

:class:`FrameTriggerLogic`
    Internal triggering only: ``prepare`` records how many frames to take and how
    long each exposure is.
:class:`FrameAcquireLogic`
    Takes those frames on a worker thread, never on the event loop, and appends
    each to the open writer, then counts it as written; a failure fails the
    trigger at once.
:class:`WriterDataLogic`
    Opens one of our :mod:`~bluesky_timelapse.storage` writers where the detector's
    ``PathProvider`` says, and describes it as a StreamResource (through
    ophyd-async's ``StreamResourceDataProvider``) with the mimetype Tiled reads.
"""

from __future__ import annotations

import asyncio
import posixpath
from pathlib import Path
from typing import Any

from ophyd_async.core import (
    DetectorAcquireLogic,
    DetectorDataLogic,
    DetectorTriggerLogic,
    PathProvider,
    SignalR,
    StandardDetector,
    StreamableDataProvider,
    StreamResourceDataProvider,
    StreamResourceInfo,
    soft_signal_r_and_setter,
    soft_signal_rw,
)

from .._checks import check_seconds
from ..sources import FrameSource
from ..specs import AD_HDF5, AD_TIFF, HDF5_DATASET, NPY_SEQ, STREAM_MIMETYPES
from ..storage import FrameFormat, FrameWriter, ResourceDescription, writer_factory


class _Acquisition:
    """What the acquire and data logic of one detector share: the open writer."""

    def __init__(self) -> None:
        self.writer: FrameWriter | None = None
        self.frames_written, self.set_frames_written = soft_signal_r_and_setter(int, 0)


class FrameTriggerLogic(DetectorTriggerLogic):
    """Internal triggering: ``num`` frames of ``livetime`` (or the exposure signal)."""

    def __init__(self, exposure: SignalR[float]) -> None:
        self.exposure = exposure
        self.frames = 1
        self.livetime = 0.0

    def config_sigs(self) -> set[SignalR]:
        """The exposure appears in ``read_configuration``."""
        return {self.exposure}

    async def prepare_internal(self, num: int, livetime: float, deadtime: float) -> None:
        """Take ``num`` frames per trigger; ``livetime`` 0 keeps the exposure signal's."""
        self.frames = num
        self.livetime = livetime


class FrameAcquireLogic(DetectorAcquireLogic):
    """Grabs the prepared number of frames from the source and writes them.

    The frames are taken while ``start_acquiring`` is awaited (each grab and write
    on a worker thread): a trigger thus fails at once, with the source's own error,
    when a grab or a write fails, instead of waiting for a frame count that never
    comes.
    """

    def __init__(
        self, source: FrameSource, trigger: FrameTriggerLogic, acquisition: _Acquisition
    ) -> None:
        self.source = source
        self.trigger = trigger
        self.acquisition = acquisition
        self._open = False

    async def ensure_ready(self) -> None:
        """Close the source if it was left open, then open it."""
        await self.ensure_stopped()
        await asyncio.to_thread(self.source.open)
        self._open = True

    async def start_acquiring(self) -> None:
        """Take the prepared frames; raise what failed."""
        exposure = self.trigger.livetime or await self.trigger.exposure.get_value()
        for _ in range(self.trigger.frames):
            await self.take_frame(exposure)

    async def take_frame(self, exposure: float) -> None:
        """Grab one frame of ``exposure`` seconds and append it to the open writer."""
        writer = self.acquisition.writer
        if writer is None:
            raise RuntimeError("the detector is not prepared: no writer is open")
        frame = await asyncio.to_thread(self.source.grab, exposure)
        await asyncio.to_thread(writer.append, frame)
        self.acquisition.set_frames_written(writer.frames_written)

    async def wait_for_idle(self) -> None:
        """Nothing runs once ``start_acquiring`` has returned."""

    async def ensure_stopped(self) -> None:
        """Close the source."""
        if self._open:
            self._open = False
            await asyncio.to_thread(self.source.close)


class WriterDataLogic(DetectorDataLogic):
    """Writes the frames with one of our writers; describes them as a StreamResource.

    Parameters
    ----------
    path_provider
        Where each acquisition's output goes (``directory_path``, ``filename``,
        ``directory_uri``).
    source
        Gives the frame format for the data key.
    acquisition
        Shared with the acquire logic.
    writer
        ``"tiff"``, ``"hdf5"``, ``"zarr"`` or ``"npy"`` (a writer of another spec
        has no StreamResource mimetype here). Zarr arrays are written
        ``(N, 1, y, x[, c])``, matching the ``(1, y, x[, c])`` data key.
    writer_options
        Keyword arguments for the writer, e.g. ``{"fsync": False}``.
    """

    def __init__(
        self,
        path_provider: PathProvider,
        source: FrameSource,
        acquisition: _Acquisition,
        writer: str,
        writer_options: dict[str, Any] | None = None,
    ) -> None:
        self.path_provider = path_provider
        self.source = source
        self.acquisition = acquisition
        self.writer_name = writer
        self.writer_factory = writer_factory(writer)
        self.writer_options = dict(writer_options or {})
        if writer == "zarr":  # Tiled reads the array as (N, *data key shape)
            self.writer_options.setdefault("collection_axis", True)

    async def prepare_unbounded(self, datakey_name: str) -> StreamableDataProvider:
        """Open a new writer and describe it."""
        await self.stop()
        path_info = self.path_provider(datakey_name)
        directory = Path(path_info.directory_path)
        writer = self.writer_factory(**self.writer_options)
        await asyncio.to_thread(_open_writer, writer, directory, path_info.filename)
        description = writer.describe()
        mimetype = STREAM_MIMETYPES.get(description.spec)
        if mimetype is None:
            writer.close()
            raise ValueError(
                f"writer {self.writer_name!r} writes spec {description.spec!r}, which has no "
                f"StreamResource mimetype; allowed: writers of {', '.join(STREAM_MIMETYPES)}"
            )
        self.acquisition.writer = writer
        self.acquisition.set_frames_written(0)
        frame_format = self.source.frame_format
        return StreamResourceDataProvider(
            uri=_resource_uri(path_info.directory_uri, description),
            resources=[
                StreamResourceInfo(
                    data_key=datakey_name,
                    shape=frame_format.shape,
                    chunk_shape=_chunk_shape(description, frame_format),
                    dtype_numpy=frame_format.dtype.str,
                    parameters=_parameters(description),
                )
            ],
            mimetype=mimetype,
            collections_written_signal=self.acquisition.frames_written,
        )

    def get_hinted_fields(self, datakey_name: str) -> list[str]:
        """The frames are the hinted field."""
        return [datakey_name]

    async def stop(self) -> None:
        """Close the writer, if one is open."""
        writer, self.acquisition.writer = self.acquisition.writer, None
        if writer is not None:
            await asyncio.to_thread(writer.close)


class FrameDetector(StandardDetector):
    """An ophyd-async detector taking its frames from a :class:`~bluesky_timelapse.sources.FrameSource`.

    Parameters
    ----------
    source
        The frames.
    path_provider
        Where the frames are written (an ophyd-async ``PathProvider``), e.g.
        ``StaticPathProvider(UUIDFilenameProvider(), Path("/data"))``.
    writer, writer_options
        ``"tiff"``, ``"hdf5"`` (default), ``"zarr"`` or ``"npy"``, and its options;
        see :class:`WriterDataLogic`.
    exposure
        Seconds per frame unless ``prepare`` gives a livetime, >= 0.
    name
        Device name; the frames' data key is the name itself.
    acquire_logic
        The acquire logic class, :class:`FrameAcquireLogic` or a subclass of it.
    """

    def __init__(
        self,
        source: FrameSource,
        path_provider: PathProvider,
        *,
        writer: str = "hdf5",
        writer_options: dict[str, Any] | None = None,
        exposure: float = 0.0,
        name: str = "",
        acquire_logic: type[FrameAcquireLogic] = FrameAcquireLogic,
    ) -> None:
        check_seconds("exposure", exposure, zero_allowed=True)
        self.source = source
        self.exposure = soft_signal_rw(float, float(exposure), units="s")
        acquisition = _Acquisition()
        trigger = FrameTriggerLogic(self.exposure)
        self.add_detector_logics(
            trigger,
            acquire_logic(source, trigger, acquisition),
            WriterDataLogic(path_provider, source, acquisition, writer, writer_options),
        )
        super().__init__(name=name)

    def set_name(self, name: str, *, child_name_separator: str | None = None) -> None:
        """Name the device and its signals; the source's messages use the name."""
        super().set_name(name, child_name_separator=child_name_separator)
        self.source.name = name or type(self).__name__


def _open_writer(writer: FrameWriter, directory: Path, name: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PermissionError(
            f"cannot create the directory {str(directory)!r} for frames: {err.strerror}"
        ) from err
    writer.open(directory, name)


def _resource_uri(directory_uri: str, description: ResourceDescription) -> str:
    """The uri Tiled reads: the directory (sequences) or the file/array itself."""
    if description.spec == AD_TIFF:
        return directory_uri  # the template appends each file's name
    return posixpath.join(directory_uri, description.relative_path)


def _chunk_shape(description: ResourceDescription, frame_format: FrameFormat) -> tuple[int, ...]:
    if description.spec in (AD_TIFF, NPY_SEQ):
        return (1,)  # one frame per file
    return (1, *frame_format.shape)


def _parameters(description: ResourceDescription) -> dict[str, Any]:
    if description.spec == AD_TIFF:
        return {
            "template": description.resource_kwargs["template"],
            "filename": description.resource_kwargs["filename"],
        }
    if description.spec == AD_HDF5:
        return {"dataset": HDF5_DATASET}
    return {}
