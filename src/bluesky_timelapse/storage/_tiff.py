"""TIFF sequence: one file per frame, ``{name}_{index:06d}.tiff`` (spec ``AD_TIFF``)."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import numpy as np
import tifffile

from ..specs import AD_TIFF
from ._base import FileSequenceWriter, ResourceDescription

TIFF_TEMPLATE = "%s%s_%6.6d.tiff"
"""The ``AD_TIFF`` template: directory, file name stem, frame index."""


class TiffSequenceWriter(FileSequenceWriter):
    """Write each frame to its own TIFF file with tifffile.

    Parameters
    ----------
    compression
        A tifffile compression name (e.g. ``"zlib"``), or None for none (fastest).
    fsync
        Sync each file (and its directory entry) to disk before it counts.
    """

    kind = "TIFF"
    suffix = ".tiff"

    def __init__(self, *, compression: str | None = None, fsync: bool = True) -> None:
        super().__init__(fsync=fsync)
        self.compression = compression

    def path_of(self, index: int) -> Path:
        """Return the file of frame ``index``."""
        assert self.directory is not None, "writer is not open"
        return self.directory / f"{self.name}_{index:06d}.tiff"

    def describe(self) -> ResourceDescription:
        """``AD_TIFF`` on the directory, with the file name stem as ``filename``.

        ``frame_per_point`` is left at the handlers' default of 1: written out, it
        makes TiledWriter add an axis, ``(N, 1, y, x)`` instead of ``(N, y, x)``.
        """
        return ResourceDescription(
            spec=AD_TIFF,
            relative_path="",
            resource_kwargs={"template": TIFF_TEMPLATE, "filename": self.name},
        )

    def _write_file(self, file: IO[bytes], frame: np.ndarray) -> None:
        photometric = "rgb" if frame.ndim == 3 else "minisblack"
        tifffile.imwrite(file, frame, photometric=photometric, compression=self.compression)
