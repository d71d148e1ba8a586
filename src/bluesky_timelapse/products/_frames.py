"""Which frames of a timelapse a product uses, and how they stream in batches.

Products take what :func:`bluesky_timelapse.tiled.load` returns, an array
``(slot, y, x[, c])`` with ``scheduled_time`` along ``slot``, and read it a batch of
frames at a time: the frames of a batch are fetched concurrently (one dask chunk
each), and only one batch is in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import xarray as xr

BATCH = 16
"""Frames read at a time (and fetched concurrently)."""


@dataclass(frozen=True)
class Frame:
    """One frame of a product, with what a caption says about it."""

    pixels: np.ndarray
    slot: int
    scheduled: datetime | None
    """When the slot was due (UTC), None if unknown."""

    def caption(self, template: str, time_zone: str = "UTC") -> str:
        """``template`` filled in: ``{time}`` (the scheduled time in ``time_zone``), ``{slot}``."""
        when = None if self.scheduled is None else self.scheduled.astimezone(ZoneInfo(time_zone))
        return template.format(time=when, slot=self.slot)


def select(
    frames: xr.DataArray,
    *,
    slots: slice | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    every: int = 1,
) -> xr.DataArray:
    """The frames of slots in ``slots`` (by slot index), due in ``[start, end)``, every k-th.

    Raises
    ------
    ValueError
        For ``every`` < 1, naive times, or a selection that leaves no frame.
    """
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every {every!r} is not allowed; allowed: a whole number >= 1")
    chosen = frames
    if slots is not None:
        index = chosen["slot"].values
        low = -np.inf if slots.start is None else slots.start
        high = np.inf if slots.stop is None else slots.stop
        chosen = chosen.isel(slot=np.flatnonzero((index >= low) & (index < high)))
    for name, when, keep in (("start", start, np.greater_equal), ("end", end, np.less)):
        if when is None:
            continue
        if when.utcoffset() is None:
            raise ValueError(f"{name} {when!r} is not allowed; allowed: a timezone-aware time")
        limit = np.datetime64(when.astimezone(UTC).replace(tzinfo=None), "ns")
        chosen = chosen.isel(slot=np.flatnonzero(keep(chosen["scheduled_time"].values, limit)))
    chosen = chosen.isel(slot=slice(None, None, every))
    if chosen.sizes["slot"] == 0:
        raise ValueError(
            f"no frame left of {frames.sizes['slot']} with slots={slots}, start={start}, "
            f"end={end}, every={every}"
        )
    return chosen


def stream(frames: xr.DataArray, batch: int = BATCH) -> Iterator[Frame]:
    """Every frame of ``frames``, in order, reading ``batch`` at a time."""
    slots = frames["slot"].values
    times = frames["scheduled_time"].values if "scheduled_time" in frames.coords else None
    for first in range(0, frames.sizes["slot"], batch):
        pixels = np.asarray(frames.isel(slot=slice(first, first + batch)).values)
        for offset, image in enumerate(pixels):
            position = first + offset
            yield Frame(image, int(slots[position]), _utc(times, position))


def colour_channels(frames: xr.DataArray) -> int:
    """1 for mono frames ``(y, x)`` or ``(y, x, 1)``, 3 for colour (alpha is dropped)."""
    if frames.ndim == 3:
        return 1
    channels = frames.sizes[frames.dims[-1]]
    if frames.ndim != 4 or channels not in (1, 3, 4):
        raise ValueError(
            f"frames of shape {frames.shape[1:]} are not images; allowed: (y, x), (y, x, 1), "
            "(y, x, 3) or (y, x, 4)"
        )
    return 1 if channels == 1 else 3


def as_rgb_or_gray(pixels: np.ndarray) -> np.ndarray:
    """``(y, x)`` for mono, ``(y, x, 3)`` for colour (a fourth, alpha, channel dropped)."""
    if pixels.ndim == 3:
        return pixels[..., 0] if pixels.shape[-1] == 1 else pixels[..., :3]
    return pixels


def _utc(times: np.ndarray | None, position: int) -> datetime | None:
    if times is None or np.isnat(times[position]):
        return None
    seconds = times[position].astype("datetime64[us]").astype(np.int64) / 1e6
    return datetime.fromtimestamp(seconds, UTC)
