"""A camera read through OpenCV: a USB camera, a network stream or a video file.

OpenCV is optional (``pip install "bluesky-timelapse[opencv]"``): this module imports
without it, and :class:`OpenCVCamera` says how to install it when constructed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, Kind, Signal
from ophyd.signal import SignalRO
from ophyd.status import DeviceStatus
from ophyd.utils import RedundantStaging

from ..sources import CaptureSource
from ..storage import FrameFormat, WriterFactory
from ._filestore import FileStoreMixin, FrameSignal
from ._paths import PathSemantics

logger = logging.getLogger("bluesky_timelapse.devices")


class CaptureSetting(Signal):
    """A capture property (``CAP_PROP_...``), set with ``cap.set``, read back with ``cap.get``.

    While the parent camera's capture is open, a put applies the value on the
    camera's worker thread and the signal then holds what the backend reports; a
    refused value raises :class:`~bluesky_timelapse.sources.CaptureError` and leaves
    the signal unchanged. While the capture is closed, a put records a request
    applied at the next stage.

    Parameters
    ----------
    property_name
        The OpenCV property, e.g. ``"CAP_PROP_EXPOSURE"``.
    *args, **kwargs
        Passed to :class:`ophyd.Signal`.
    """

    def __init__(self, *args: Any, property_name: str, **kwargs: Any) -> None:
        kwargs.setdefault("value", None)
        super().__init__(*args, **kwargs)
        self.property_name = property_name

    @property
    def requested(self) -> float | None:
        """The value asked for, applied at every stage; None leaves the backend's own."""
        camera: OpenCVCamera = self.parent
        return camera.frame_source.settings.get(self.property_name)

    def check_value(self, value: Any) -> None:
        """Raise ``ValueError`` unless ``value`` is a finite number."""
        super().check_value(value)
        CaptureSource.check_setting(f"{self.attr_name} ({self.property_name})", value)

    def put(self, value: Any, **kwargs: Any) -> None:
        """Apply ``value`` to the open capture (or request it for the next stage)."""
        self.check_value(value)
        camera: OpenCVCamera = self.parent
        reported = camera.apply_property(self.property_name, float(value))
        super().put(float(value) if reported is None else reported, **kwargs)

    def report(self, value: float) -> None:
        """Hold ``value``, what the backend reports, without applying anything."""
        super().put(value)

    def describe(self) -> dict[str, dict[str, Any]]:
        """A number in the backend's units, also before the capture was ever opened."""
        return {
            self.name: {
                "source": f"OPENCV:{self.property_name}",
                "dtype": "number",
                "shape": [],
                "dtype_numpy": np.dtype("float64").str,
            }
        }


class OpenCVCamera(FileStoreMixin, Device):
    """A camera read with ``cv2.VideoCapture``: a device index, a URL or a video file.

    Stage opens the capture, applies the requested settings, reads the frame size
    the backend reports, then opens the writer (see
    :class:`~bluesky_timelapse.devices.FileStoreMixin`). Each trigger reads one frame
    on the camera's worker thread (the RunEngine's loop is never blocked), converts
    it from OpenCV's BGR to RGB or grayscale, writes it, and completes its Status.
    Unstage closes the writer and releases the capture. Every call into OpenCV
    happens on that one worker thread, as some capture backends require.

    Parameters
    ----------
    name
        Device name; the data key is ``{name}_image``.
    source, colour, resolution, exposure, gain, properties, backend
        What to read and how; see :class:`~bluesky_timelapse.sources.CaptureSource`.
        The ``exposure`` and ``gain`` signals hold what the backend reports.
    write_path_template, root, read_path_template, path_semantics, writer, writer_options, write_queue
        Where and how frames are written; see
        :class:`~bluesky_timelapse.devices.FileStoreMixin`.
    **kwargs
        Passed to :class:`ophyd.Device`.

    Raises
    ------
    ImportError, ValueError
        At construction, as :class:`~bluesky_timelapse.sources.CaptureSource` raises
        them; ``ValueError`` also for an unknown writer name or invalid path
        templates.

    Examples
    --------
    >>> camera = OpenCVCamera(name="camera", source=0, root="/data", write_path_template="%Y/%m/%d")
    >>> RE(count([camera], num=5))  # doctest: +SKIP
    """

    image = Cpt(FrameSignal, kind=Kind.normal)
    exposure = Cpt(CaptureSetting, property_name="CAP_PROP_EXPOSURE", kind=Kind.config)
    gain = Cpt(CaptureSetting, property_name="CAP_PROP_GAIN", kind=Kind.config)
    frame_shape = Cpt(SignalRO, value=[], kind=Kind.config)
    frame_dtype = Cpt(SignalRO, value="uint8", kind=Kind.config)
    writer_name = Cpt(SignalRO, value="", kind=Kind.config)
    backend_name = Cpt(SignalRO, value="", kind=Kind.config)

    def __init__(
        self,
        *,
        name: str,
        source: int | str | os.PathLike[str],
        write_path_template: str,
        root: str = "/",
        read_path_template: str | None = None,
        path_semantics: PathSemantics = "posix",
        writer: str | WriterFactory = "tiff",
        writer_options: dict[str, Any] | None = None,
        write_queue: int = 0,
        colour: bool = True,
        resolution: tuple[int, int] | None = None,
        exposure: float | None = None,
        gain: float | None = None,
        properties: Mapping[str, float] | None = None,
        backend: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.frame_source = CaptureSource(
            source,
            name=name,
            colour=colour,
            resolution=resolution,
            exposure=exposure,
            gain=gain,
            properties=properties,
            backend=backend,
            needed_by="OpenCVCamera",
            logger=logger,
        )
        self.source = self.frame_source.source
        self.colour = self.frame_source.colour
        super().__init__(
            name=name,
            write_path_template=write_path_template,
            root=root,
            read_path_template=read_path_template,
            path_semantics=path_semantics,
            writer=writer,
            writer_options=writer_options,
            write_queue=write_queue,
            **kwargs,
        )
        self.writer_name._readback = self._writer_label  # SignalRO refuses put()
        for setting in (self.exposure, self.gain):
            if setting.requested is not None:
                setting.report(setting.requested)

    @property
    def frame_format(self) -> FrameFormat:  # type: ignore[override]
        """The format of the frames, known once staged (from the backend's frame size).

        Raises
        ------
        RuntimeError
            If the camera has never been staged.
        """
        return self.frame_source.frame_format

    @property
    def capture(self) -> Any:
        """The open ``cv2.VideoCapture`` while staged, else None."""
        return self.frame_source.capture

    def stage(self) -> list[Any]:
        """Open the capture and apply the settings, then open the writer and stage.

        Raises
        ------
        CaptureError
            If the source cannot be opened, refuses a setting or reports no frame
            size; nothing is written and the capture is released.
        """
        if self.capture is not None:
            raise RedundantStaging(f"{self.name} is already staged; unstage it first")
        self.frame_source.open()
        for setting in (self.exposure, self.gain):
            setting.report(self.frame_source.reported[setting.property_name])
        self.frame_shape._readback = list(self.frame_format.shape)  # SignalRO refuses put()
        self.backend_name._readback = self.frame_source.backend_name
        try:
            staged: list[Any] = super().stage()
        except BaseException:
            self.frame_source.close()
            raise
        return staged

    def unstage(self) -> list[Any]:
        """Close the writer and unstage, then release the capture."""
        try:
            unstaged: list[Any] = super().unstage()
        finally:
            self.frame_source.close()
        return unstaged

    def destroy(self) -> None:
        """Release the capture and stop the worker thread, then destroy the device."""
        try:
            self.frame_source.shutdown()
        finally:
            super().destroy()

    def trigger(self) -> DeviceStatus:
        """Read, convert and store one frame on the worker thread.

        The Status fails with :class:`~bluesky_timelapse.sources.CaptureError` if no
        frame can be read (at the end of a video file: an error saying the file has no
        more frames).
        """
        status = DeviceStatus(self)
        self.frame_source.submit(self._acquire, status)
        return status

    def apply_property(self, property_name: str, value: float) -> float | None:
        """Set a capture property on the open capture; return what the backend reports.

        See :meth:`~bluesky_timelapse.sources.CaptureSource.apply`: while the
        capture is closed, nothing is applied (None is returned) and the value is
        asked for at the next stage.

        Raises
        ------
        CaptureError
            If the backend refuses the value.
        """
        return self.frame_source.apply(property_name, value)

    def _acquire(self, status: DeviceStatus) -> None:
        try:
            self.image.put(self.store_frame(self.frame_source.grab(0.0)))
        except Exception as err:
            status.set_exception(err)
        else:
            status.set_finished()
