"""HDF5: one file per acquisition, frames stacked in ``/entry/data/data`` (spec ``AD_HDF5``)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from .._files import fsync_file
from ..specs import AD_HDF5, HDF5_DATASET
from ._base import FileFrameWriter, FrameFormat, ResourceDescription


class HDF5Writer(FileFrameWriter):
    """Stack frames in one chunked, resizable HDF5 dataset, readable while it grows.

    The dataset has shape ``(N, y, x[, c])`` and one frame per chunk. The file is
    switched to SWMR mode once the dataset exists and flushed after every frame,
    so a reader opening it with ``swmr=True`` follows a running acquisition.

    Parameters
    ----------
    compression
        An h5py compression filter (e.g. ``"gzip"``), or None for none (fastest).
    fsync
        Sync the file to disk after every frame before the frame counts.
    """

    def __init__(self, *, compression: str | None = None, fsync: bool = True) -> None:
        super().__init__(fsync=fsync)
        self.compression = compression
        self._file: h5py.File | None = None
        self._dataset: h5py.Dataset | None = None

    @property
    def path(self) -> Path:
        """The HDF5 file."""
        assert self.directory is not None, "writer is not open"
        return self.directory / f"{self.name}.h5"

    def describe(self) -> ResourceDescription:
        """``AD_HDF5`` on the file; frames at :data:`~bluesky_timelapse.specs.HDF5_DATASET`.

        ``frame_per_point`` is left at the handlers' default of 1 (see
        :meth:`TiffSequenceWriter.describe <bluesky_timelapse.storage.TiffSequenceWriter.describe>`).
        """
        return ResourceDescription(spec=AD_HDF5, relative_path=self.path.name)

    def _create(self, directory: Path, name: str) -> None:
        path = directory / f"{name}.h5"
        try:
            self._file = h5py.File(path, "w-", libver="latest")
        except FileExistsError as err:
            raise FileExistsError(
                f"HDF5 file {str(path)!r} already exists; choose another name, "
                "nothing is overwritten"
            ) from err

    def _start(self, frame_format: FrameFormat) -> None:
        assert self._file is not None
        self._dataset = self._file.create_dataset(
            HDF5_DATASET,
            shape=(0, *frame_format.shape),
            maxshape=(None, *frame_format.shape),
            chunks=(1, *frame_format.shape),
            dtype=frame_format.dtype,
            compression=self.compression,
        )
        self._file.swmr_mode = True

    def _write(self, frame: np.ndarray, index: int) -> None:
        assert self._dataset is not None
        self._dataset.resize(index + 1, axis=0)
        self._dataset[index] = frame
        self._dataset.flush()

    def _sync(self, index: int) -> None:
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.id.get_vfd_handle())

    def _close(self) -> None:
        assert self._file is not None
        self._file.close()
        if self.fsync:
            fsync_file(self.path)
