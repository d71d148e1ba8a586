"""Animated GIFs of a timelapse: one palette for the file, a size limit kept by scaling down.

Encoded with PyAV's GIF encoder a frame at a time (bounded memory). The palette is
fitted once, on a sample of frames spread over the timelapse (for mono frames it is
the 256 grey levels), so colours do not shift from frame to frame.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr
from PIL import Image
from tqdm.auto import tqdm

from .._checks import check_time_zone
from .._files import written_then_renamed
from ._drawing import burn_in, picture
from ._frames import Unreadable, check_unreadable, colour_channels, read, stream
from ._tone import Tone, ToneMap
from ._video import _check_label, _frame_rate

ATTEMPTS = 5
"""Encodings tried, each smaller, to meet ``max_bytes``."""


def write_gif(
    frames: xr.DataArray,
    path: Path | str,
    *,
    fps: float | None = 10.0,
    duration: float | None = None,
    width: int | None = None,
    max_bytes: int | None = None,
    tone: Tone | None = None,
    label: str | None = None,
    time_zone: str = "UTC",
    overwrite: bool = False,
    progress: bool = True,
    unreadable: Unreadable = "raise",
) -> Path:
    """Encode ``frames`` as an animated GIF that loops.

    Parameters
    ----------
    frames
        As :func:`~bluesky_timelapse.tiled.load` returns them.
    path
        The ``.gif`` to write.
    fps, duration
        Frames per second (default 10), or the length of one loop in seconds.
    width
        Width in pixels (the height keeps the aspect); default the frames' own.
    max_bytes
        The largest file allowed: an encoding that comes out larger is made again
        smaller (the area scaled by the ratio), up to :data:`ATTEMPTS` times.
    tone, label, time_zone, overwrite, progress, unreadable
        As for :func:`write_video`.

    Raises
    ------
    ValueError
        For a bad suffix, rate, width, ``max_bytes``, label or time zone (before
        anything is written), or when even the smallest attempt exceeds
        ``max_bytes`` (nothing is then written).
    """
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ValueError(f"GIF {str(path)!r} has suffix {path.suffix!r}; allowed: .gif")
    rate = _frame_rate(None if duration is not None else fps, duration, frames.sizes["slot"])
    for name, value in (("width", width), ("max_bytes", max_bytes)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ValueError(f"{name} {value!r} is not allowed; allowed: a whole number >= 1")
    time_zone = check_time_zone(time_zone)
    check_unreadable(unreadable)
    if label is not None:
        _check_label(label)
    mono = colour_channels(frames) == 1
    tone_map = (tone or Tone()).fit(frames, unreadable)
    height, own_width = frames.shape[1], frames.shape[2]
    size = (width or own_width, max(1, round((width or own_width) * height / own_width)))
    palette = _palette(frames, tone_map, size, mono, unreadable)
    import av  # imported here: only videos need it

    with written_then_renamed(path, overwrite=overwrite) as partial:
        for attempt in range(ATTEMPTS):
            with av.open(str(partial), mode="w", format="gif") as container:
                gif = container.add_stream("gif", rate=rate)
                gif.width, gif.height, gif.pix_fmt = size[0], size[1], "pal8"
                argb = _argb(palette)
                for frame in tqdm(
                    stream(frames, unreadable=unreadable),
                    total=frames.sizes["slot"],
                    disable=not progress,
                    unit="frame",
                ):
                    image = picture(frame.pixels, tone_map).resize(size, Image.Resampling.LANCZOS)
                    if label is not None:
                        image = burn_in(image, frame.caption(label, time_zone))
                    indexed = np.asarray(  # in the grey palette, index = level
                        image.convert("L")
                        if mono
                        else image.convert("RGB").quantize(
                            palette=palette, dither=Image.Dither.NONE
                        )
                    )
                    pal8 = av.VideoFrame.from_ndarray((indexed, argb), "pal8")  # type: ignore[arg-type]
                    container.mux(gif.encode(pal8))
                container.mux(gif.encode(None))
            written = partial.stat().st_size
            if max_bytes is None or written <= max_bytes:
                return path
            shrink = math.sqrt(max_bytes / written) * 0.95
            smaller = (max(1, int(size[0] * shrink)), max(1, int(size[1] * shrink)))
            if attempt == ATTEMPTS - 1 or smaller == size:
                break
            size = smaller
        raise ValueError(
            f"max_bytes {max_bytes} is not met: the GIF is {written} bytes at {size[0]}x{size[1]} "
            f"after {attempt + 1} attempts; allow more bytes, fewer frames (every=) or a smaller "
            "width"
        )


def _palette(
    frames: xr.DataArray,
    tone: ToneMap,
    size: tuple[int, int],
    mono: bool,
    unreadable: Unreadable,
) -> Image.Image:
    """A ``P`` image whose palette serves every frame: the greys, or fitted on a sample."""
    if mono:
        palette = Image.new("P", (1, 1))
        palette.putpalette(bytes(level for level in range(256) for _ in range(3)))
        return palette
    count = frames.sizes["slot"]
    spread = np.unique(np.linspace(0, count - 1, min(16, count)).round()).astype(int)
    sampled = read(frames, [int(position) for position in spread], unreadable)
    if not sampled:
        raise ValueError(f"none of the {len(spread)} frames sampled for the palette could be read")
    sample = [picture(pixels, tone).resize(size) for _, pixels in sampled]
    mosaic = Image.new("RGB", (size[0], size[1] * len(sample)))
    for row, image in enumerate(sample):
        mosaic.paste(image.convert("RGB"), (0, row * size[1]))
    return mosaic.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def _argb(palette: Image.Image) -> np.ndarray:
    rgb = np.zeros((256, 3), np.uint8)
    entries = np.frombuffer(bytes(palette.getpalette() or []), np.uint8).reshape(-1, 3)[:256]
    rgb[: len(entries)] = entries
    return np.concatenate([np.full((256, 1), 255, np.uint8), rgb], axis=1)
