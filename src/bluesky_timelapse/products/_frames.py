"""Which frames of a timelapse a product uses, which part of them, and how they stream.

Products take what :func:`bluesky_timelapse.tiled.load` returns, an array
``(slot, y, x[, c])`` with ``scheduled_time`` along ``slot``, and read it a batch of
frames at a time: the frames of a batch are fetched concurrently (one dask chunk
each), and only one batch is in memory. A frame that cannot be read stops the
product, or (``unreadable="skip"``) is left out and reported in one
:class:`UnreadableFrameWarning` at the end.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import dask.array as da
import numpy as np
import xarray as xr
from PIL import Image

BATCH = 16
"""Frames read at a time (and fetched concurrently)."""

Unreadable = Literal["raise", "skip"]
"""What a product does with a frame that cannot be read: stop, or leave it out."""

_REPORTED = 10
"""Unreadable frames named in the warning (the rest are counted)."""


class UnreadableFrameWarning(UserWarning):
    """Frames that could not be read were left out of a product (``unreadable="skip"``)."""


@dataclass(frozen=True)
class Frame:
    """One frame of a product, with what a caption says about it."""

    pixels: np.ndarray
    position: int
    """Its place in the frames the product was given."""
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
    crop: tuple[slice, slice] | None = None,
    scale: float = 1.0,
) -> xr.DataArray:
    """The frames of slots in ``slots`` (by slot index), due in ``[start, end)``, every k-th.

    Parameters
    ----------
    frames
        As :func:`~bluesky_timelapse.tiled.load` returns them (only succeeded slots,
        by default).
    slots
        Slot indices ``start:stop`` (``stop`` excluded), e.g. ``slice(100, None)``.
    start, end
        Scheduled times (timezone-aware): from ``start``, before ``end``.
    every
        Every k-th of the frames left.
    crop
        ``(rows, columns)`` of each frame to keep, e.g. ``(slice(0, 480),
        slice(100, 740))``.
    scale
        Resize each (cropped) frame by this factor, > 0 and <= 8, area-averaged
        when shrinking; the dtype is kept. Lazy: a frame is resized when read.

    Raises
    ------
    ValueError
        For ``every`` < 1, naive times, a crop outside the frame or empty, a bad
        ``scale``, or a selection that leaves no frame.
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
    if crop is not None:
        chosen = _cropped(chosen, crop)
    return chosen if scale == 1 else _scaled(chosen, scale)


def stream(
    frames: xr.DataArray, batch: int = BATCH, *, unreadable: Unreadable = "raise"
) -> Iterator[Frame]:
    """Every frame of ``frames``, in order, reading ``batch`` at a time.

    With ``unreadable="skip"`` a frame whose read fails is left out, and once the
    stream is exhausted one :class:`UnreadableFrameWarning` names the slots left out
    (a ValueError if no frame could be read).
    """
    check_unreadable(unreadable)
    slots = frames["slot"].values
    times = frames["scheduled_time"].values if "scheduled_time" in frames.coords else None
    left_out: list[str] = []
    for first in range(0, frames.sizes["slot"], batch):
        positions = range(first, min(first + batch, frames.sizes["slot"]))
        for position, image in read(frames, positions, unreadable, left_out):
            yield Frame(image, position, int(slots[position]), _utc(times, position))
    if left_out:
        named = ", ".join(left_out[:_REPORTED])
        more = f" and {len(left_out) - _REPORTED} more" if len(left_out) > _REPORTED else ""
        if len(left_out) == frames.sizes["slot"]:
            raise ValueError(f"none of the {len(left_out)} frames could be read: {named}{more}")
        warnings.warn(
            f"{len(left_out)} of {frames.sizes['slot']} frames could not be read and were "
            f"left out: {named}{more}",
            UnreadableFrameWarning,
            stacklevel=2,
        )


def read(
    frames: xr.DataArray,
    positions: Sequence[int],
    unreadable: Unreadable = "raise",
    left_out: list[str] | None = None,
) -> list[tuple[int, np.ndarray]]:
    """The frames at ``positions``, read together; with ``"skip"`` those that fail are
    read one by one, and the ones that still fail are described in ``left_out``."""
    together = (
        slice(positions[0], positions[-1] + 1)
        if isinstance(positions, range) and positions.step == 1
        else list(positions)
    )
    try:
        pixels = np.asarray(frames.isel(slot=together).values)
        return list(zip(positions, pixels, strict=True))
    except Exception:
        if unreadable == "raise":
            raise
    readable = []
    for position in positions:
        try:
            readable.append((position, np.asarray(frames.isel(slot=position).values)))
        except Exception as err:  # any failure of a read: leave this frame out
            if left_out is not None:
                slot = int(frames["slot"].values[position])
                left_out.append(f"slot {slot} ({type(err).__name__}: {err})")
    return readable


def check_unreadable(unreadable: str) -> None:
    """Refuse an unknown ``unreadable`` choice, naming the allowed ones."""
    if unreadable not in get_args(Unreadable):
        raise ValueError(
            f"unreadable {unreadable!r} is not allowed; allowed: {', '.join(get_args(Unreadable))}"
        )


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


def _cropped(frames: xr.DataArray, crop: tuple[slice, slice]) -> xr.DataArray:
    height, width = frames.shape[1], frames.shape[2]
    try:
        rows, columns = crop
        kept = [
            range(size)[part] if isinstance(part, slice) and part.step in (None, 1) else None
            for part, size in ((rows, height), (columns, width))
        ]
    except (TypeError, ValueError):
        kept = [None]
    if None in kept or not all(kept):
        raise ValueError(
            f"crop {crop!r} is not allowed for frames of {height}x{width}; allowed: "
            "(rows, columns) as two slices without a step, each keeping at least one pixel"
        )
    return frames.isel(y=rows, x=columns)


def _scaled(frames: xr.DataArray, scale: float) -> xr.DataArray:
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale <= 8:
        raise ValueError(f"scale {scale!r} is not allowed; allowed: a factor > 0 and <= 8")
    size = (
        max(1, math.floor(frames.shape[2] * scale + 0.5)),
        max(1, math.floor(frames.shape[1] * scale + 0.5)),
    )
    data = (
        frames.data
        if isinstance(frames.data, da.Array)
        else da.from_array(frames.data, chunks=(1,) + (-1,) * (frames.ndim - 1))
    )
    data = data.rechunk({axis: -1 for axis in range(1, data.ndim)})
    resized = data.map_blocks(
        _resize,
        size,
        chunks=(data.chunks[0], (size[1],), (size[0],), *data.chunks[3:]),
        dtype=data.dtype,
    )
    along_slot = {name: coord for name, coord in frames.coords.items() if coord.dims == ("slot",)}
    return xr.DataArray(
        resized, dims=frames.dims, coords=along_slot, name=frames.name, attrs=frames.attrs
    )


def _resize(block: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frames ``(n, y, x[, c])`` resized to ``size`` (width, height), keeping the dtype."""
    shrinking = size[0] < block.shape[2]
    method = Image.Resampling.BOX if shrinking else Image.Resampling.BICUBIC
    out = np.empty((block.shape[0], size[1], size[0], *block.shape[3:]), block.dtype)
    planes = block.reshape(*block.shape[:3], -1)
    for index, frame in enumerate(planes):
        channels = [
            np.asarray(Image.fromarray(frame[..., c].astype(np.float32)).resize(size, method))
            for c in range(frame.shape[-1])
        ]
        resized = np.stack(channels, axis=-1).reshape(out.shape[1:])
        if np.issubdtype(block.dtype, np.integer):
            limits = np.iinfo(block.dtype)
            resized = np.clip(np.rint(resized), limits.min, limits.max)
        out[index] = resized
    return out


def _utc(times: np.ndarray | None, position: int) -> datetime | None:
    if times is None or np.isnat(times[position]):
        return None
    seconds = times[position].astype("datetime64[us]").astype(np.int64) / 1e6
    return datetime.fromtimestamp(seconds, UTC)
