"""Timelapse arrays shaped as ``load()`` returns them, built in memory."""

from __future__ import annotations

from collections.abc import Callable, Collection

import dask.array as da
import numpy as np
import xarray as xr

T0 = np.datetime64("2026-06-01T04:00:00", "ns")


def timelapse_array(
    pixels: np.ndarray | da.Array, *, minutes_apart: int = 10, name: str = "cam_image"
) -> xr.DataArray:
    """``pixels`` ``(slot, y, x[, c])`` with the coordinates of :func:`load`."""
    count = pixels.shape[0]
    dims = ("slot", "y", "x", "c")[: pixels.ndim]
    times = T0 + np.arange(count) * np.timedelta64(minutes_apart, "m")
    return xr.DataArray(
        pixels,
        dims=dims,
        name=name,
        coords={"slot": np.arange(count), "scheduled_time": ("slot", times)},
    )


def gray_levels(count: int, height: int = 31, width: int = 47, step: int = 1000) -> xr.DataArray:
    """Frame k uniformly ``k * step`` (uint16)."""
    levels = (np.arange(count, dtype=np.uint16) * step)[:, None, None]
    return timelapse_array(np.broadcast_to(levels, (count, height, width)).copy())


def failing_at(
    count: int, bad: int | Collection[int], shape: tuple[int, int] = (16, 16)
) -> xr.DataArray:
    """Frames ``index * 10`` whose ``bad``-th (or those in ``bad``) raise when read, as a
    Tiled request that fails."""
    unreadable = {bad} if isinstance(bad, int) else set(bad)

    def block(index: int) -> Callable[[], np.ndarray]:
        def read() -> np.ndarray:
            if index in unreadable:
                raise OSError(f"frame {index}: the server went away")
            return np.full((1, *shape), index * 10, np.uint16)

        return read

    chunks = [
        da.from_delayed(__import__("dask").delayed(block(i))(), (1, *shape), np.uint16)
        for i in range(count)
    ]
    return timelapse_array(da.concatenate(chunks))
