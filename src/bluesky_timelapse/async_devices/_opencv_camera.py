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

from ophyd_async.core import AsyncStatus, PathProvider, soft_signal_r_and_setter

from ..sources import CaptureSource
from ._frame_detector import FrameDetector

logger = logging.getLogger("bluesky_timelapse.async_devices")


class AsyncOpenCVCamera(FrameDetector):
    """:class:`~bluesky_timelapse.devices.OpenCVCamera`, as an ophyd-async detector.

    Stage opens the capture and applies the settings (the frame format is then the
    frame size the backend reports); each frame is the next one the capture gives,
    converted from OpenCV's BGR to RGB or grayscale; unstage releases the capture.
    Every call into OpenCV happens on the camera's own worker thread, never on the
    RunEngine's event loop.

    Parameters
    ----------
    path_provider, writer, writer_options, name
        Where and how frames are written, and the device's name (the frames' data
        key); see :class:`FrameDetector`.
    source, colour, resolution, exposure, gain, properties, backend
        What to read and how; see :class:`~bluesky_timelapse.sources.CaptureSource`.
        The signals ``capture_exposure`` and ``capture_gain`` hold what the backend
        reports.

    Raises
    ------
    ImportError, ValueError
        At construction, as :class:`~bluesky_timelapse.sources.CaptureSource` raises
        them; ``ValueError`` also for an unknown writer name.

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
        self._capture_source = CaptureSource(
            source,
            name=name or type(self).__name__,
            colour=colour,
            resolution=resolution,
            exposure=exposure,
            gain=gain,
            properties=properties,
            backend=backend,
            needed_by=type(self).__name__,
            logger=logger,
        )
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
        self._set_backend_name(self._capture_source.backend_name)
