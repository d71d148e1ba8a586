"""Still pictures of a whole timelapse: contact sheet, keogram, star trails (PNG).

Each reads the frames once, a batch at a time, holds only its output and one
batch in memory, and writes the PNG under a temporary name renamed when complete.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import xarray as xr
from PIL import Image, ImageDraw, ImageFont
from tqdm.auto import tqdm

from .._checks import check_time_zone
from .._files import written_then_renamed
from ._drawing import picture
from ._frames import Frame, Unreadable, as_rgb_or_gray, check_unreadable, colour_channels, stream
from ._tone import Tone, ToneMap

CAPTION = "{time:%Y-%m-%d %H:%M}"
"""Default caption of a contact sheet's tile."""


def contact_sheet(
    frames: xr.DataArray,
    path: Path | str,
    *,
    tiles: int = 48,
    columns: int = 8,
    tile_width: int = 240,
    caption: str = CAPTION,
    time_zone: str = "UTC",
    tone: Tone | None = None,
    overwrite: bool = False,
    progress: bool = True,
    unreadable: Unreadable = "raise",
) -> Path:
    """A grid of every k-th frame, k chosen so that at most ``tiles`` fit, each captioned.

    Parameters
    ----------
    frames
        As :func:`~bluesky_timelapse.tiled.load` returns them.
    path
        The PNG to write.
    tiles
        Most frames on the sheet (the first and, when there is room, the last are on it).
    columns
        Tiles in a row (fewer if there are fewer tiles).
    tile_width
        Width of a tile in pixels; its height keeps the frames' aspect.
    caption
        Text under each tile: ``{time}`` (scheduled time in ``time_zone``), ``{slot}``.
    time_zone
        IANA name of the zone captions show times in.
    tone
        How pixels map to 8 bits (default :class:`Tone`).
    overwrite
        Replace an existing file (default: refuse).
    progress
        Show a progress bar.
    unreadable
        ``"raise"``: a frame that cannot be read stops it and nothing is written;
        ``"skip"``: its tile stays black, captioned "unreadable", and an
        :class:`UnreadableFrameWarning` names it at the end.
    """
    for name, value in (("tiles", tiles), ("columns", columns), ("tile_width", tile_width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} {value!r} is not allowed; allowed: a whole number >= 1")
    time_zone = check_time_zone(time_zone)
    check_unreadable(unreadable)
    colour_channels(frames)
    count = frames.sizes["slot"]
    every = max(1, math.ceil(count / tiles))
    chosen = frames.isel(slot=slice(None, None, every))
    columns = min(columns, chosen.sizes["slot"])
    tone_map = (tone or Tone()).fit(frames, unreadable)
    tile_height = max(1, round(tile_width * frames.shape[1] / frames.shape[2]))
    font_size = max(10, tile_width // 16)
    font = ImageFont.load_default(size=font_size)
    caption_height = font_size + 6
    rows = math.ceil(chosen.sizes["slot"] / columns)
    sheet = Image.new(
        "RGB", (columns * tile_width, rows * (tile_height + caption_height)), "black"
    )
    draw = ImageDraw.Draw(sheet)

    def corner(position: int) -> tuple[int, int]:
        return (position % columns) * tile_width, (position // columns) * (
            tile_height + caption_height
        )

    unfilled = set(range(chosen.sizes["slot"]))
    for frame in _frames(chosen, progress, unreadable):
        left, top = corner(frame.position)
        tile = picture(frame.pixels, tone_map).resize(
            (tile_width, tile_height), Image.Resampling.LANCZOS
        )
        sheet.paste(tile.convert("RGB"), (left, top))
        draw.text((left + 4, top + tile_height + 3), frame.caption(caption, time_zone), font=font)
        unfilled.discard(frame.position)
    for position in sorted(unfilled):
        left, top = corner(position)
        slot = int(chosen["slot"].values[position])
        draw.text((left + 4, top + tile_height + 3), f"slot {slot}: unreadable", font=font)
    return _save_png(sheet, path, overwrite)


def keogram(
    frames: xr.DataArray,
    path: Path | str,
    *,
    column: int | None = None,
    row: int | None = None,
    tone: Tone | None = None,
    overwrite: bool = False,
    progress: bool = True,
    unreadable: Unreadable = "raise",
) -> Path:
    """One column (default the centre one) or one row of each frame, side by side in time.

    The picture is as many pixels wide as there are frames, time running left to
    right, and as tall as the column (or, for a row, as the frames are wide). With
    ``unreadable="skip"`` a frame that cannot be read leaves its column black (time
    stays true along the picture) and is named in an :class:`UnreadableFrameWarning`.
    """
    check_unreadable(unreadable)
    height, width = frames.shape[1], frames.shape[2]
    if column is not None and row is not None:
        raise ValueError(f"column={column!r} and row={row!r}: give one of them, not both")
    if row is not None:
        _check_index("row", row, height)
    else:
        column = width // 2 if column is None else column
        _check_index("column", column, width)
    tone_map = (tone or Tone()).fit(frames, unreadable)
    channels = colour_channels(frames)
    length = width if row is not None else height
    out = np.zeros((length, frames.sizes["slot"], channels), np.uint8)
    for frame in _frames(frames, progress, unreadable):
        pixels = as_rgb_or_gray(frame.pixels)
        line = pixels[row] if row is not None else pixels[:, column]
        out[:, frame.position] = tone_map(line).reshape(length, channels)
    return _save_png(_image(out), path, overwrite)


def star_trails(
    frames: xr.DataArray,
    path: Path | str,
    *,
    tone: Tone | None = None,
    overwrite: bool = False,
    progress: bool = True,
    unreadable: Unreadable = "raise",
) -> Path:
    """The brightest value each pixel took over the timelapse (a running maximum).

    With ``unreadable="skip"`` a frame that cannot be read is left out and named in
    an :class:`UnreadableFrameWarning`.
    """
    check_unreadable(unreadable)
    colour_channels(frames)
    brightest: np.ndarray | None = None
    for frame in _frames(frames, progress, unreadable):
        pixels = as_rgb_or_gray(frame.pixels)
        brightest = pixels.copy() if brightest is None else np.fmax(brightest, pixels)
    assert brightest is not None  # load() never returns an empty timelapse
    tone_map = tone.fit(frames, unreadable) if tone is not None else _fit_one(brightest)
    eight_bit = tone_map(brightest)
    return _save_png(_image(eight_bit.reshape(*eight_bit.shape[:2], -1)), path, overwrite)


def _frames(frames: xr.DataArray, progress: bool, unreadable: Unreadable) -> tqdm[Frame]:
    return tqdm(
        stream(frames, unreadable=unreadable),
        total=frames.sizes["slot"],
        disable=not progress,
        unit="frame",
    )


def _fit_one(pixels: np.ndarray) -> ToneMap:
    """The default tone of one picture: as it is in 8 bits, else its 0.5-99.5 percentiles."""
    single = xr.DataArray(pixels[np.newaxis], dims=("slot", "y", "x", "c")[: pixels.ndim + 1])
    return Tone().fit(single)


def _check_index(name: str, value: int, size: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
        raise ValueError(f"{name} {value!r} is not allowed; allowed: a whole number 0-{size - 1}")


def _image(pixels: np.ndarray) -> Image.Image:
    """``(h, w, 1)`` as an ``L`` image, ``(h, w, 3)`` as ``RGB``."""
    if pixels.shape[-1] == 1:
        return Image.fromarray(pixels[..., 0], mode="L")
    return Image.fromarray(pixels, mode="RGB")


def _save_png(image: Image.Image, path: Path | str, overwrite: bool) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"picture {str(path)!r} has suffix {path.suffix!r}; allowed: .png")
    encoded = io.BytesIO()
    image.save(encoded, format="PNG")
    with written_then_renamed(path, overwrite=overwrite) as partial:
        partial.write_bytes(encoded.getvalue())
    return path
