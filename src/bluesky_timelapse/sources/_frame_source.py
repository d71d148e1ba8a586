"""What every camera of both ophyd flavours takes its frames from."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..storage import FrameFormat


@runtime_checkable
class FrameSource(Protocol):
    """An object handing out one frame at a time: the contract of every camera's frames.

    The ophyd v1 cameras (:mod:`~bluesky_timelapse.devices`) and the ophyd-async ones
    (:mod:`~bluesky_timelapse.async_devices`) differ only in the device protocol
    around a source: a device opens the source when staged, grabs a frame per
    exposure (always on a worker thread, never on an event loop), writes it, and
    closes the source when unstaged.

    ``frame_format`` must be known before the first frame (for the descriptor):
    from construction, or at the latest once :meth:`open` has returned.
    """

    @property
    def frame_format(self) -> FrameFormat:
        """The frames' shape and dtype."""

    name: str
    """Who reads the frames, in the source's messages; the device sets its own name."""

    def open(self) -> None:
        """Get ready to acquire (called at stage); may block."""

    def grab(self, exposure: float) -> np.ndarray:
        """Take one frame of ``exposure`` seconds and return it; blocks until it is there."""

    def close(self) -> None:
        """Release what :meth:`open` took (called at unstage)."""
