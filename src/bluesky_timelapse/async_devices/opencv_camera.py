"""A camera read through OpenCV (a USB camera, a stream or a video file) as an ophyd-async detector.

OpenCV is optional (``pip install "bluesky-timelapse[opencv]"``): this module imports
without it, and :class:`AsyncOpenCVCamera` says how to install it when constructed.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from ophyd_async.core import AsyncStatus, PathProvider, soft_signal_r_and_setter

from ..devices.opencv_capture import OpenCVCapture, check_number
from ..storage import FrameFormat
from .frames import FrameDetector

logger = logging.getLogger(__name__)


class CaptureSource:
    """Frames read from an :class:`~bluesky_timelapse.devices.opencv_capture.OpenCVCapture`.

    A :class:`~bluesky_timelapse.async_devices.FrameSource`: ``open`` opens and
    configures the capture (which tells the frame format), ``grab`` reads the next
    frame, ``close`` releases the capture. Every OpenCV call runs on the capture's
    own thread, whichever thread calls these methods.

    Parameters
    ----------
    capture
        The capture to read.
    settings
        ``CAP_PROP_...`` properties to set at every open, after the capture's own
        properties and resolution; None only reads the backend's value.
    """

    frame_format: FrameFormat
    """The frames' format, set at open from the frame size the backend reports."""

    def __init__(self, capture: OpenCVCapture, settings: Mapping[str, float | None]) -> None:
        self.capture = capture
        self.settings = dict(settings)
        self.reported: dict[str, float] = {}
        """What the backend reported for each of ``settings`` at the last open."""

    @property
    def name(self) -> str:
        """Who reads the capture, in its messages."""
        return self.capture.name

    @name.setter
    def name(self, name: str) -> None:
        self.capture.name = name

    def open(self) -> None:
        """Open the capture and apply the settings.

        Raises
        ------
        CaptureError
            If the source cannot be opened, refuses a setting or reports no frame
            size; the capture is released.
        """
        self.reported = self.capture.open(self.settings)
        self.frame_format = self.capture.frame_format

    def grab(self, exposure: float) -> np.ndarray:
        """Read the next frame as RGB or grayscale; ``exposure`` is not used.

        A capture delivers frames at its own pace, exposed as its backend's
        ``CAP_PROP_EXPOSURE`` says.

        Raises
        ------
        CaptureError
            If no frame can be read (at the end of a video file: an error saying
            the file has no more frames).
        """
        return self.capture.read()

    def close(self) -> None:
        """Release the capture."""
        self.capture.release()


class AsyncOpenCVCamera(FrameDetector):
    """:class:`~bluesky_timelapse.devices.OpenCVCamera`, as an ophyd-async detector.

    Stage opens the capture and applies the settings (the frame format is then the
    frame size the backend reports); each frame is the next one the capture gives,
    converted from OpenCV's BGR to RGB or grayscale; unstage releases the capture.
    Every call into OpenCV happens on the camera's own worker thread, never on the
    RunEngine's event loop.

    Parameters
    ----------
    path_provider
        Where frames go, e.g. ``StaticPathProvider(UUIDFilenameProvider(), Path("/data"))``.
    source
        A camera index (``0`` for the first USB camera), a stream URL
        (``"rtsp://..."``, ``"http://..."``) or a video file path.
    writer, writer_options
        ``"tiff"``, ``"hdf5"`` (default), ``"zarr"`` or ``"npy"``, and its options.
    colour
        RGB frames ``(y, x, 3)`` if True (default), grayscale ``(y, x)`` if False.
    resolution
        Frame size ``(width, height)`` to ask the backend for at stage; None
        (default) keeps the backend's.
    exposure
        ``CAP_PROP_EXPOSURE`` to set at stage, in the backend's units; None
        (default) keeps the backend's. The signal ``capture_exposure`` holds what
        the backend reports.
    gain
        ``CAP_PROP_GAIN`` to set at stage; None (default) keeps the backend's. The
        signal ``capture_gain`` holds what the backend reports.
    properties
        Other capture properties to set at stage, before the others, by name, e.g.
        ``{"CAP_PROP_AUTO_EXPOSURE": 1}``.
    backend
        The OpenCV capture backend to use, e.g. ``"V4L2"``, ``"FFMPEG"``,
        ``"GSTREAMER"``, ``"DSHOW"``, ``"MSMF"``; None (default) lets OpenCV choose.
    name
        Device name; the frames' data key.

    Raises
    ------
    ImportError
        If OpenCV is not installed.
    ValueError
        For a setting that is not a finite number, a ``resolution`` that is not two
        integers >= 1, an unknown property, backend or writer name, at construction.

    Notes
    -----
    The ``exposure`` signal every :class:`FrameDetector` has (seconds per frame) stays
    0 and, like a ``prepare`` livetime, is not used: the capture's exposure is the
    backend's ``CAP_PROP_EXPOSURE``, in ``capture_exposure``.

    Examples
    --------
    >>> with init_devices():
    ...     camera = AsyncOpenCVCamera(StaticPathProvider(UUIDFilenameProvider(), Path("/data")),
    ...                                source=0)  # doctest: +SKIP
    >>> RE(count([camera], num=5))  # doctest: +SKIP
    """

    def __init__(
        self,
        path_provider: PathProvider,
        *,
        source: int | str | os.PathLike[str],
        writer: str = "hdf5",
        writer_options: dict[str, Any] | None = None,
        colour: bool = True,
        resolution: tuple[int, int] | None = None,
        exposure: float | None = None,
        gain: float | None = None,
        properties: Mapping[str, float] | None = None,
        backend: str | None = None,
        name: str = "",
    ) -> None:
        settings = {
            "CAP_PROP_EXPOSURE": _optional_number("exposure (CAP_PROP_EXPOSURE)", exposure),
            "CAP_PROP_GAIN": _optional_number("gain (CAP_PROP_GAIN)", gain),
        }
        self._capture = OpenCVCapture(
            source,
            name=name or type(self).__name__,
            colour=colour,
            resolution=resolution,
            properties=properties,
            backend=backend,
            needed_by=type(self).__name__,
            logger=logger,
        )
        self._capture_source = CaptureSource(self._capture, settings)
        self.capture_exposure, self._set_capture_exposure = soft_signal_r_and_setter(
            float, math.nan
        )
        self.capture_gain, self._set_capture_gain = soft_signal_r_and_setter(float, math.nan)
        self.backend_name, self._set_backend_name = soft_signal_r_and_setter(str, "")
        super().__init__(
            self._capture_source,
            path_provider,
            writer=writer,
            writer_options=writer_options,
            name=name,
        )
        self.add_config_signals(self.capture_exposure, self.capture_gain, self.backend_name)

    @AsyncStatus.wrap
    async def stage(self) -> None:
        """Open the capture and apply the settings, then report what the backend says.

        Raises
        ------
        CaptureError
            If the source cannot be opened, refuses a setting or reports no frame
            size; the capture is released.
        """
        await super().stage()
        reported = self._capture_source.reported
        self._set_capture_exposure(reported["CAP_PROP_EXPOSURE"])
        self._set_capture_gain(reported["CAP_PROP_GAIN"])
        self._set_backend_name(self._capture.backend_name)

    def set_name(self, name: str, *, child_name_separator: str | None = None) -> None:
        """Name the device and its signals; messages about the capture use the name."""
        super().set_name(name, child_name_separator=child_name_separator)
        self._capture.name = name or type(self).__name__


def _optional_number(name: str, value: Any) -> float | None:
    return None if value is None else check_number(name, value)
