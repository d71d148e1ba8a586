"""NPY sequence: one ``{name}_{index}.npy`` file per frame (spec ``NPY_SEQ``), as ophyd.sim."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import numpy as np

from ..specs import NPY_SEQ
from ._base import FileFrameWriter, ResourceDescription, fsync_path, write_new_file


class NpySequenceWriter(FileFrameWriter):
    """Write each frame to its own ``.npy`` file with :func:`numpy.save`.

    Parameters
    ----------
    fsync
        Sync each file (and its directory entry) to disk before it counts.
    """

    def path_of(self, index: int) -> Path:
        """Return the file of frame ``index``."""
        assert self.directory is not None, "writer is not open"
        return self.directory / f"{self.name}_{index}.npy"

    def describe(self) -> ResourceDescription:
        """``NPY_SEQ`` on the path stem ``{directory}/{name}``."""
        assert self.name is not None, "writer is not open"
        return ResourceDescription(spec=NPY_SEQ, relative_path=self.name)

    def datum_kwargs(self, index: int) -> dict[str, Any]:
        """Return ``{"index": index}``, what the ``NPY_SEQ`` handler takes."""
        return {"index": index}

    def _create(self, directory: Path, name: str) -> None:
        existing = sorted(directory.glob(f"{name}_*.npy"))
        if existing:
            raise FileExistsError(
                f"NPY sequence {name!r} already exists in {str(directory)!r} "
                f"({existing[0].name}, ...); choose another name, nothing is overwritten"
            )

    def _write(self, frame: np.ndarray, index: int) -> None:
        def write(file: IO[bytes]) -> Any:
            np.save(file, frame, allow_pickle=False)

        write_new_file(self.path_of(index), write, fsync=self.fsync)

    def _sync(self, index: int) -> None:
        assert self.directory is not None
        fsync_path(self.directory)

    def _close(self) -> None:
        pass
