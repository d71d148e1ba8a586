"""The simulated cameras' frames: the garden scene at the time of each exposure."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..storage import FrameFormat
from ._scene import GardenScene


class SceneSource:
    """Frames of the :class:`GardenScene` at the time of the grab.

    A :class:`FrameSource` that needs no hardware: nothing to open or close.

    Parameters
    ----------
    shape
        Frame size ``(y, x)``.
    dtype
        Pixel type, e.g. ``"uint8"``, ``"uint16"``, ``"float32"``.
    colour
        RGB frames ``(y, x, 3)`` if True, grayscale ``(y, x)`` if False.
    time_scale
        Scene seconds per real second, > 0: the scene time is
        ``time.time() * time_scale``.
    name
        Who reads the frames.

    Raises
    ------
    ValueError
        For a ``time_scale`` that is not a number > 0, or an unsupported shape or
        dtype.
    """

    def __init__(
        self,
        shape: Sequence[int] = (480, 640),
        dtype: str | np.dtype[Any] = "uint16",
        colour: bool = False,
        time_scale: float = 1.0,
        name: str = "scene",
    ) -> None:
        if not (
            isinstance(time_scale, int | float) and math.isfinite(time_scale) and time_scale > 0
        ):
            raise ValueError(f"time_scale {time_scale!r} is invalid; allowed: a number > 0")
        self.frame_format = FrameFormat((*shape, 3) if colour else tuple(shape), np.dtype(dtype))
        self.scene = GardenScene(self.frame_format)
        """The scene, in the frames' format: ``scene.render(t)`` is the frame at scene time t."""
        self.time_scale = float(time_scale)
        self.name = name

    def scene_time(self, when: float) -> float:
        """The scene time (seconds) at ``when`` (Unix seconds)."""
        return when * self.time_scale

    def open(self) -> None:
        """Nothing to open."""

    def grab(self, exposure: float, *, opened: float | None = None) -> np.ndarray:
        """Expose for ``exposure`` seconds; render the scene as it was when the exposure began.

        Parameters
        ----------
        exposure
            Seconds to wait, >= 0.
        opened
            When the exposure began (Unix seconds); default now.
        """
        opened = time.time() if opened is None else opened
        if exposure:
            time.sleep(exposure)
        return self.scene.render(self.scene_time(opened))

    def close(self) -> None:
        """Nothing to close."""
