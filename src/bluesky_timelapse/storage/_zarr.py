"""Zarr v3: one array of shape ``(N, y, x[, c])`` (or ``(N, 1, y, x[, c])``), a frame a chunk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import zarr

from .._files import fsync_directory, fsync_file
from ..specs import ZARR_ARRAY
from ._base import FileFrameWriter, FrameFormat, ResourceDescription


class ZarrWriter(FileFrameWriter):
    """Append frames to a Zarr v3 array inside the group ``{name}.zarr``.

    The Resource points at the array itself (``{name}.zarr/{array_name}``), which is
    what Tiled's Zarr adapter needs to read it.

    Parameters
    ----------
    array_name
        The array's name inside the group (one array per data key).
    collection_axis
        Store each frame as ``(1, *frame_shape)``, the array being
        ``(N, 1, y, x[, c])``: the shape ophyd-async data keys give a frame, which
        Tiled needs on disk to serve a StreamResource.
    fsync
        Sync the frame's chunk and the array metadata to disk before it counts.
    """

    def __init__(
        self, *, array_name: str = "data", collection_axis: bool = False, fsync: bool = True
    ) -> None:
        super().__init__(fsync=fsync)
        self.array_name = array_name
        self.collection_axis = collection_axis
        self._group: zarr.Group | None = None
        self._array: zarr.Array | None = None

    @property
    def path(self) -> Path:
        """The directory of the array."""
        assert self.directory is not None, "writer is not open"
        return self.directory / f"{self.name}.zarr" / self.array_name

    def describe(self) -> ResourceDescription:
        """:data:`~bluesky_timelapse.specs.ZARR_ARRAY` on the array, one frame a chunk."""
        assert self.name is not None, "writer is not open"
        return ResourceDescription(
            spec=ZARR_ARRAY,
            relative_path=f"{self.name}.zarr/{self.array_name}",
            resource_kwargs={"chunk_shape": [1]},
        )

    def _create(self, directory: Path, name: str) -> None:
        store = directory / f"{name}.zarr"
        try:
            self._group = zarr.open_group(store, mode="w-", zarr_format=3)
        except (FileExistsError, zarr.errors.ContainsGroupError) as err:
            raise FileExistsError(
                f"Zarr store {str(store)!r} already exists; choose another name, "
                "nothing is overwritten"
            ) from err

    def _start(self, frame_format: FrameFormat) -> None:
        assert self._group is not None
        frame_shape = (1, *frame_format.shape) if self.collection_axis else frame_format.shape
        self._array = self._group.create_array(
            self.array_name,
            shape=(0, *frame_shape),
            chunks=(1, *frame_shape),
            dtype=frame_format.dtype,
            fill_value=0,
            compressors=None,
            config={"write_empty_chunks": True},
        )

    def _write(self, frame: np.ndarray, index: int) -> None:
        assert self._array is not None
        self._array.resize((index + 1, *self._array.shape[1:]))
        self._array[index] = frame[np.newaxis] if self.collection_axis else frame

    def _sync(self, index: int) -> None:
        chunk_dir = self.path / "c" / str(index)
        for parent, _dirs, files in os.walk(chunk_dir):
            for file in files:
                fsync_file(Path(parent) / file)
            fsync_directory(parent)
        fsync_file(self.path / "zarr.json")
        fsync_directory(self.path / "c")
        fsync_directory(self.path)

    def _close(self) -> None:
        self._group = self._array = None
