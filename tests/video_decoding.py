"""Videos decoded by the ffmpeg binary of imageio-ffmpeg, not by PyAV which wrote them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np


def decoded(path: Path, pixel_format: str = "gray") -> tuple[list[np.ndarray], dict[str, Any]]:
    """Every frame of the video, as ``(h, w)`` (gray) or ``(h, w, 3)`` (rgb24), and its metadata."""
    depth = 1 if pixel_format == "gray" else 3
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt=pixel_format, bpp=depth)
    meta = next(reader)
    width, height = meta["size"]
    shape = (height, width) if depth == 1 else (height, width, depth)
    return [np.frombuffer(raw, np.uint8).reshape(shape) for raw in reader], meta


def psnr(decoded_frame: np.ndarray, source: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of an 8-bit frame against its source."""
    error = np.mean((decoded_frame.astype(np.float64) - source.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else float(10 * np.log10(255**2 / error))
