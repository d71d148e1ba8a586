"""A timelapse as OME-Zarr (NGFF 0.5): ``t, c, y, x``, openable in napari.

The pixels keep their values and dtype (it is data, not a picture); the slots'
scheduled times go along in the group's attributes, and the ``t`` axis is scaled by
the median interval between slots. Metadata models and the writer: yaozarrs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr
from tqdm.auto import tqdm

from .._files import written_then_renamed
from ._frames import Unreadable, as_rgb_or_gray, check_unreadable, colour_channels, stream
from ._tone import Tone

ATTRIBUTES_KEY = "bluesky_timelapse"
"""The group attribute holding each frame's slot index and scheduled time."""

_COLOURS = ("FF0000", "00FF00", "0000FF")


def write_ome_zarr(
    frames: xr.DataArray,
    path: Path | str,
    *,
    tone: Tone | None = None,
    overwrite: bool = False,
    progress: bool = True,
    unreadable: Unreadable = "raise",
) -> Path:
    """Write ``frames`` as an OME-Zarr image, one chunk per frame.

    Parameters
    ----------
    frames
        As :func:`~bluesky_timelapse.tiled.load` returns them.
    path
        The group to write, named ``*.ome.zarr``.
    tone
        The display range a viewer starts with (the ``omero`` window); the data
        keep their values.
    overwrite
        Replace an existing group (default: refuse).
    progress
        Show a progress bar.
    unreadable
        ``"raise"``: a frame that cannot be read stops it and nothing is written;
        ``"skip"``: such a frame is left out (its plane stays 0), and an
        :class:`UnreadableFrameWarning` names it at the end.

    Returns
    -------
    Path
        ``path``, with ``attributes[ATTRIBUTES_KEY]`` listing ``slot`` and
        ``scheduled_time`` (ISO 8601, UTC) per frame, and the ``unreadable`` slots.
    """
    from yaozarrs import DimSpec, v05
    from yaozarrs.write.v05 import prepare_image

    path = Path(path)
    if not path.name.endswith(".ome.zarr"):
        raise ValueError(
            f"OME-Zarr {str(path)!r} is not allowed; allowed: a name ending .ome.zarr"
        )
    check_unreadable(unreadable)
    channels = colour_channels(frames)
    count, height, width = frames.shape[:3]
    window = (tone or Tone()).fit(frames, unreadable)
    times = frames["scheduled_time"].values if "scheduled_time" in frames.coords else None
    dims = [
        DimSpec(name="t", size=count, scale=_interval(times), unit="second", type="time"),
        DimSpec(name="c", size=channels, type="channel"),
        DimSpec(name="y", size=height, type="space"),
        DimSpec(name="x", size=width, type="space"),
    ]
    colours = _COLOURS if channels == 3 else ("FFFFFF",)
    limits = _limits(frames.dtype)
    image = v05.Image(
        multiscales=[v05.Multiscale.from_dims(dims, name=str(frames.name or "frames"))],
        omero=v05.Omero(
            channels=[
                v05.OmeroChannel(
                    color=colour,
                    label=name,
                    window=v05.OmeroWindow(
                        start=window.low, end=window.high, min=limits[0], max=limits[1]
                    ),
                )
                for colour, name in zip(
                    colours,
                    ("red", "green", "blue") if channels == 3 else ("intensity",),
                    strict=True,
                )
            ]
        ),
    )
    attributes: dict[str, Any] = {
        ATTRIBUTES_KEY: {
            "slot": [int(slot) for slot in frames["slot"].values],
            "scheduled_time": None if times is None else [
                str(np.datetime_as_string(when, unit="us")) + "Z" for when in times
            ],
            "unreadable": [],
        }
    }  # fmt: skip
    with written_then_renamed(path, overwrite=overwrite) as partial:
        _, arrays = prepare_image(
            partial,
            image,
            ((count, channels, height, width), frames.dtype),
            chunks=(1, channels, height, width),
            writer="zarr",
            extra_attributes=attributes,
        )
        array = arrays["0"]
        written = set()
        for frame in tqdm(
            stream(frames, unreadable=unreadable), total=count, disable=not progress, unit="frame"
        ):
            pixels = as_rgb_or_gray(frame.pixels)
            array[frame.position] = (
                pixels[np.newaxis] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)
            )
            written.add(frame.position)
        if len(written) < count:
            attributes[ATTRIBUTES_KEY]["unreadable"] = [
                int(slot) for position, slot in enumerate(frames["slot"].values)
                if position not in written
            ]  # fmt: skip
            zarr.open_group(str(partial), mode="r+").attrs.update(attributes)
    return path


def _interval(times: np.ndarray | None) -> float:
    """The median seconds between frames (1 without times, or for one frame)."""
    if times is None or len(times) < 2:
        return 1.0
    steps = np.diff(times.astype("datetime64[ns]").astype(np.int64)) / 1e9
    median = float(np.median(steps))
    return median if median > 0 else 1.0


def _limits(dtype: np.dtype[Any]) -> tuple[float, float]:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return float(info.min), float(info.max)
    return 0.0, 1.0
