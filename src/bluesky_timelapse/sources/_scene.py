"""A synthetic outdoor scene for the simulated camera: a sun crossing the sky, a plant growing.

Rendering is a pure function of the scene time (seconds), so any frame can be
rendered again from the ``scene_time`` recorded with it, and a timelapse of the
scene is visibly a timelapse: the sky brightens and darkens with the day, the sun
moves along its arc, the plant grows for ``growth_period`` seconds and starts
over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from .._checks import check_seconds
from ..storage import FrameFormat

_SKY_DAY = np.array([0.45, 0.65, 0.95], dtype=np.float32)
_SKY_NIGHT = np.array([0.02, 0.03, 0.08], dtype=np.float32)
_GROUND = np.array([0.30, 0.22, 0.12], dtype=np.float32)
_SUN = np.array([1.0, 0.95, 0.6], dtype=np.float32)
_PLANT = np.array([0.15, 0.55, 0.12], dtype=np.float32)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_BRIGHTNESS_LEVELS = 64


@dataclass(frozen=True)
class GardenScene:
    """A garden seen by a fixed camera.

    Parameters
    ----------
    frame_format
        Shape (grayscale ``(y, x)`` or colour ``(y, x, 3|4)``) and dtype of frames.
    day_length
        Seconds of scene time per day (sun cycle).
    growth_period
        Seconds of scene time for the plant to grow from seed to full height.
    """

    frame_format: FrameFormat
    day_length: float = 86_400.0
    growth_period: float = 14 * 86_400.0
    _horizon: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("day_length", "growth_period"):
            check_seconds(name, getattr(self, name))
        object.__setattr__(self, "_horizon", int(self.frame_format.shape[0] * 0.8))

    def render(self, scene_time: float) -> np.ndarray:
        """Return the frame seen at ``scene_time`` (seconds), in the scene's format.

        The frame is read-only. The picture changes in whole pixels (the sun moves a
        pixel every ``day_length / (2 * width)`` seconds, the plant grows a pixel
        every ``growth_period / (0.56 * height)``), so consecutive frames are often
        the same picture: the last few pictures are kept and shared, and a frame
        costs a lookup rather than a drawing until the picture changes.
        """
        day_phase = (scene_time % self.day_length) / self.day_length
        elevation = math.sin(2 * math.pi * (day_phase - 0.25))  # noon at phase 0.5
        level = round(max(elevation, 0.0) ** 0.5 * (_BRIGHTNESS_LEVELS - 1))
        sun = self._sun_centre(day_phase, elevation) if elevation > 0 else None
        growth = (scene_time % self.growth_period) / self.growth_period
        return _picture(self, level, sun, int(growth * self._horizon * 0.7))

    def _sun_centre(self, day_phase: float, elevation: float) -> tuple[int, int]:
        width = self.frame_format.shape[1]
        # Sunrise at phase 0.25 on the left, sunset at 0.75 on the right.
        cx = int((day_phase - 0.25) * 2 * width)
        cy = int(self._horizon - elevation * (self._horizon - 2 * self._sun_radius))
        return cy, cx

    @property
    def _sun_radius(self) -> int:
        height, width = self.frame_format.shape[:2]
        return max(1, min(height, width) // 16)

    def _draw(self, level: int, sun: tuple[int, int] | None, stem_height: int) -> np.ndarray:
        frame = _background(self, level).copy()
        if sun is not None:
            _disc(frame, *sun, self._sun_radius, self._colour(_SUN))
        if stem_height >= 1:
            self._draw_plant(frame, stem_height)
        frame.setflags(write=False)
        return frame

    def _draw_plant(self, frame: np.ndarray, stem_height: int) -> None:
        width = frame.shape[1]
        colour = self._colour(_PLANT)
        cx, half = width // 2, max(1, width // 200)
        frame[self._horizon - stem_height : self._horizon, cx - half : cx + half + 1] = colour
        leaf = max(1, width // 60)
        for y in range(self._horizon - leaf * 3, self._horizon - stem_height, -leaf * 4):
            side = 1 if (self._horizon - y) // (leaf * 4) % 2 else -1
            _disc(frame, y, cx + side * leaf * 2, leaf, colour)
        _disc(frame, self._horizon - stem_height, cx, leaf + 1, colour)

    def _colour(self, rgb: np.ndarray) -> Any:
        return _to_pixels(rgb[np.newaxis, np.newaxis, :], self.frame_format)[0, 0]


@lru_cache(maxsize=4)
def _picture(
    scene: GardenScene, level: int, sun: tuple[int, int] | None, stem_height: int
) -> np.ndarray:
    """The frame of a picture (brightness level, sun centre, stem height); cached."""
    return scene._draw(level, sun, stem_height)


@lru_cache(maxsize=2 * _BRIGHTNESS_LEVELS)
def _background(scene: GardenScene, level: int) -> np.ndarray:
    """Sky (at a brightness level) over ground, in the scene's format; cached."""
    height, width = scene.frame_format.shape[:2]
    brightness = level / (_BRIGHTNESS_LEVELS - 1)
    sky_colour = _SKY_NIGHT + (_SKY_DAY - _SKY_NIGHT) * brightness
    rows = np.linspace(0.6, 1.0, scene._horizon, dtype=np.float32)[:, np.newaxis]
    image = np.empty((height, 1, 3), dtype=np.float32)
    image[: scene._horizon] = (rows * sky_colour)[:, np.newaxis, :]
    image[scene._horizon :] = _GROUND * (0.3 + 0.7 * brightness)
    pixels = _to_pixels(np.broadcast_to(image, (height, width, 3)), scene.frame_format)
    pixels.setflags(write=False)
    return pixels


def _to_pixels(rgb: np.ndarray, frame_format: FrameFormat) -> np.ndarray:
    """Convert float RGB in [0, 1] to the frame format (grayscale, RGB or RGBA)."""
    if frame_format.is_colour:
        image = rgb
        if frame_format.shape[2] == 4:
            alpha = np.ones((*rgb.shape[:2], 1), dtype=np.float32)
            image = np.concatenate([rgb, alpha], axis=2)
    else:
        image = rgb @ _LUMA
    dtype = frame_format.dtype
    if dtype.kind in "ui":
        image = np.rint(image * np.iinfo(dtype).max)
    return np.ascontiguousarray(image, dtype=dtype)


def _disc(frame: np.ndarray, cy: int, cx: int, radius: int, colour: Any) -> None:
    """Paint a filled disc, clipped to the frame."""
    height, width = frame.shape[:2]
    y0, y1 = max(cy - radius, 0), min(cy + radius + 1, height)
    x0, x1 = max(cx - radius, 0), min(cx + radius + 1, width)
    if y0 >= y1 or x0 >= x1:
        return
    ys, xs = np.ogrid[y0:y1, x0:x1]
    mask = (ys - cy) ** 2 + (xs - cx) ** 2 <= radius**2
    frame[y0:y1, x0:x1][mask] = colour
