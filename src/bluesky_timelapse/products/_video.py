"""Videos of a timelapse: MP4 (H.264) and WebM (VP9), encoded with PyAV.

Both play in every browser and phone: ``yuv420p``, even dimensions (an odd last
row or column is padded black), a constant frame rate. Frames stream from Tiled a
batch at a time; the file is written under a temporary name and renamed when
complete, so a failure leaves no half video.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from .._checks import check_time_zone
from .._files import written_then_renamed
from ._drawing import burn_in, picture
from ._frames import Unreadable, check_unreadable, colour_channels, stream
from ._tone import Tone

VIDEO_CODECS = {".mp4": ("mp4", "libx264"), ".webm": ("webm", "libvpx-vp9")}
"""Suffix -> (container, encoder)."""

DEFAULT_FPS = 24.0


def write_video(
    frames: xr.DataArray,
    path: Path | str,
    *,
    fps: float | None = None,
    duration: float | None = None,
    tone: Tone | None = None,
    label: str | None = None,
    time_zone: str = "UTC",
    quality: int = 23,
    overwrite: bool = False,
    progress: bool = True,
    unreadable: Unreadable = "raise",
) -> Path:
    """Encode ``frames`` (as :func:`~bluesky_timelapse.tiled.load` returns) as a video.

    Parameters
    ----------
    frames
        ``(slot, y, x)`` or ``(slot, y, x, c)``; a ``scheduled_time`` coordinate
        feeds the label.
    path
        The video to write; its suffix chooses the format: ``.mp4`` (H.264) or
        ``.webm`` (VP9).
    fps, duration
        Frames per second, or the length of the whole video in seconds (one of
        them; default 24 frames per second).
    tone
        How pixels map to 8 bits (default :class:`Tone`: 8-bit frames as they are,
        others by percentiles fitted once).
    label
        Text burned into each frame, a :meth:`str.format` template with ``{time}``
        (the slot's scheduled time in ``time_zone``, a datetime: e.g.
        ``"{time:%Y-%m-%d %H:%M}"``) and ``{slot}``.
    time_zone
        IANA name of the zone the label's time is shown in.
    quality
        Constant rate factor: 0 (lossless) to 51 (worst); 23 is the encoders' usual
        default.
    overwrite
        Replace an existing file (default: refuse).
    progress
        Show a progress bar.
    unreadable
        ``"raise"``: a frame that cannot be read stops it and nothing is written;
        ``"skip"``: such a frame is left out of the video, and an
        :class:`UnreadableFrameWarning` names it at the end.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        For an unknown suffix, both or bad ``fps``/``duration``, a bad ``quality``,
        time zone or label template, before anything is written.
    FileExistsError
        If ``path`` exists and not ``overwrite``.
    """
    path = Path(path)
    if path.suffix.lower() not in VIDEO_CODECS:
        raise ValueError(
            f"video {str(path)!r} has suffix {path.suffix!r}; allowed: {', '.join(VIDEO_CODECS)}"
        )
    rate = _frame_rate(fps, duration, frames.sizes["slot"])
    if isinstance(quality, bool) or not isinstance(quality, int) or not 0 <= quality <= 51:
        raise ValueError(f"quality {quality!r} is not allowed; allowed: a whole number 0-51")
    time_zone = check_time_zone(time_zone)
    check_unreadable(unreadable)
    colour_channels(frames)
    if label is not None:
        _check_label(label)
    tone_map = (tone or Tone()).fit(frames, unreadable)
    container_format, encoder = VIDEO_CODECS[path.suffix.lower()]
    height, width = frames.shape[1] + frames.shape[1] % 2, frames.shape[2] + frames.shape[2] % 2

    import av  # imported here: only videos need it

    with (
        written_then_renamed(path, overwrite=overwrite) as partial,
        av.open(str(partial), mode="w", format=container_format) as container,
    ):
        video: av.VideoStream = container.add_stream(encoder, rate=rate)  # type: ignore[assignment]
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": str(quality)}
        if encoder == "libvpx-vp9":
            video.options |= {"b": "0", "row-mt": "1"}
        for frame in tqdm(
            stream(frames, unreadable=unreadable),
            total=frames.sizes["slot"],
            disable=not progress,
            unit="frame",
        ):
            image = picture(frame.pixels, tone_map)
            if label is not None:
                image = burn_in(image, frame.caption(label, time_zone))
            rgb = _padded(np.asarray(image.convert("RGB")), height, width)
            container.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(video.encode(None))
    return path


def _frame_rate(fps: float | None, duration: float | None, count: int) -> Fraction:
    if fps is not None and duration is not None:
        raise ValueError(f"fps={fps!r} and duration={duration!r}: give one of them, not both")
    if duration is not None:
        if not (isinstance(duration, int | float) and math.isfinite(duration) and duration > 0):
            raise ValueError(f"duration {duration!r} is not allowed; allowed: seconds > 0")
        fps = count / duration
    fps = DEFAULT_FPS if fps is None else fps
    if not (isinstance(fps, int | float) and math.isfinite(fps) and 0 < fps <= 240):
        raise ValueError(f"fps {fps!r} is not allowed; allowed: frames per second, > 0 and <= 240")
    return Fraction(fps).limit_denominator(1001)


def _check_label(label: str) -> None:
    from datetime import UTC, datetime

    try:
        label.format(time=datetime(2026, 1, 1, tzinfo=UTC), slot=0)
    except (KeyError, IndexError, ValueError, AttributeError) as err:
        raise ValueError(
            f"label {label!r} is not allowed ({err!r}); allowed: a format string with "
            "{time} (a datetime, e.g. {time:%H:%M}) and {slot}"
        ) from None


def _padded(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    if rgb.shape[:2] == (height, width):
        return rgb
    padded = np.zeros((height, width, 3), np.uint8)
    padded[: rgb.shape[0], : rgb.shape[1]] = rgb
    return padded
