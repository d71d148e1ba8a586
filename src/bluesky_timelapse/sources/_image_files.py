"""Frames of the image files a camera's program writes: TIFF (tifffile), JPEG and PNG (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from ..storage import FrameFormat
from ._file_pattern import ImageFormat

PIL_MODES: dict[str, tuple[tuple[int, ...], str]] = {
    "L": ((), "uint8"),
    "RGB": ((3,), "uint8"),
    "RGBA": ((4,), "uint8"),
    "I;16": ((), "uint16"),
    "I": ((), "int32"),
    "F": ((), "float32"),
}
"""Pillow image modes read as frames: extra axes and dtype, as ``numpy.asarray`` gives them."""


def read_frame_format(path: Path, image_format: ImageFormat) -> FrameFormat:
    """Shape and dtype of the image in ``path``, from its header only.

    Raises
    ------
    ValueError
        For an image mode or pixel type that frames cannot have.
    """
    if image_format == "tiff":
        with tifffile.TiffFile(path) as tiff:
            series = tiff.series[0]
            return FrameFormat(series.shape, series.dtype)
    with Image.open(path) as image:
        if image.mode not in PIL_MODES:
            raise ValueError(
                f"{str(path)!r} has image mode {image.mode!r}; allowed: {', '.join(PIL_MODES)}"
            )
        extra, dtype = PIL_MODES[image.mode]
        return FrameFormat((image.height, image.width, *extra), np.dtype(dtype))


def check_same_format(path: Path, frame_format: FrameFormat, first: FrameFormat) -> None:
    """Refuse a file whose frames (``frame_format``) are unlike the run's ``first`` file's.

    Raises
    ------
    ValueError
        Naming the file and both shapes and dtypes.
    """
    if frame_format != first:
        raise ValueError(
            f"{str(path)!r} holds frames of shape {frame_format.shape} and dtype "
            f"{frame_format.dtype.name!r}, unlike the run's first file (shape "
            f"{first.shape}, dtype {first.dtype.name!r}); every frame of one run must have "
            "the same shape and dtype"
        )


def read_frame(path: Path, image_format: ImageFormat) -> np.ndarray:
    """The pixels of ``path``, as Tiled's adapters read them."""
    if image_format == "tiff":
        frame: np.ndarray = tifffile.imread(path)
        return frame
    with Image.open(path) as image:
        return np.asarray(image)
