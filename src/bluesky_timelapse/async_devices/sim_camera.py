"""The simulated camera as an ophyd-async detector."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from ophyd_async.core import PathProvider

from ..devices.scene import GardenScene
from ..storage import FrameFormat
from .frames import FrameDetector


class SceneSource:
    """Frames of the :class:`~bluesky_timelapse.devices.GardenScene` at the time of the grab.

    Parameters
    ----------
    frame_format
        The frames' shape and dtype.
    time_scale
        Scene seconds per real second, > 0.
    """

    def __init__(self, frame_format: FrameFormat, time_scale: float = 1.0) -> None:
        if not (
            isinstance(time_scale, int | float) and math.isfinite(time_scale) and time_scale > 0
        ):
            raise ValueError(f"time_scale {time_scale!r} is invalid; allowed: a number > 0")
        self.frame_format = frame_format
        self.scene = GardenScene(frame_format)
        self.time_scale = float(time_scale)

    def open(self) -> None:
        """Nothing to open."""

    def grab(self, exposure: float) -> np.ndarray:
        """Expose for ``exposure`` seconds; render the scene as it was when the exposure began."""
        opened = time.time()
        if exposure:
            time.sleep(exposure)
        return self.scene.render(opened * self.time_scale)

    def close(self) -> None:
        """Nothing to close."""


class AsyncSimCamera(FrameDetector):
    """:class:`~bluesky_timelapse.devices.SimCamera`'s garden, as an ophyd-async detector.

    Parameters
    ----------
    path_provider
        Where frames go, e.g. ``StaticPathProvider(UUIDFilenameProvider(), Path("/data"))``.
    writer, writer_options
        ``"tiff"``, ``"hdf5"`` (default), ``"zarr"`` or ``"npy"``, and its options.
    shape, dtype, colour
        Frame size ``(y, x)``, pixel type, RGB or grayscale.
    exposure
        Seconds per frame unless ``prepare`` gives a livetime, >= 0.
    time_scale
        Scene seconds per real second, > 0.
    name
        Device name; the frames' data key.

    Examples
    --------
    >>> camera = AsyncSimCamera(StaticPathProvider(UUIDFilenameProvider(), Path("/tmp")),
    ...                         name="camera")  # doctest: +SKIP
    >>> RE(count([camera], num=5))  # doctest: +SKIP
    """

    def __init__(
        self,
        path_provider: PathProvider,
        *,
        writer: str = "hdf5",
        writer_options: dict[str, Any] | None = None,
        shape: Sequence[int] = (480, 640),
        dtype: str | np.dtype[Any] = "uint16",
        colour: bool = False,
        exposure: float = 0.0,
        time_scale: float = 1.0,
        name: str = "",
    ) -> None:
        frame_format = FrameFormat((*shape, 3) if colour else tuple(shape), np.dtype(dtype))
        super().__init__(
            SceneSource(frame_format, time_scale),
            path_provider,
            writer=writer,
            writer_options=writer_options,
            exposure=exposure,
            name=name,
        )
