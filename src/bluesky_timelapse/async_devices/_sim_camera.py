"""The simulated camera as an ophyd-async detector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ophyd_async.core import PathProvider

from ..sources import SceneSource
from ._frame_detector import FrameDetector


class AsyncSimCamera(FrameDetector):
    """:class:`~bluesky_timelapse.devices.SimCamera`'s garden, as an ophyd-async detector.

    Parameters
    ----------
    path_provider, writer, writer_options, exposure, name
        Where and how frames are written, the seconds per frame and the device's
        name (the frames' data key); see :class:`FrameDetector`.
    shape, dtype, colour, time_scale
        The frames and the scene's clock; see
        :class:`~bluesky_timelapse.sources.SceneSource`.

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
        super().__init__(
            SceneSource(shape, dtype, colour, time_scale),
            path_provider,
            writer=writer,
            writer_options=writer_options,
            exposure=exposure,
            name=name,
        )
