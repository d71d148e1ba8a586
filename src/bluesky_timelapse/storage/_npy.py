"""NPY sequence: one ``{name}_{index}.npy`` file per frame (spec ``NPY_SEQ``), as ophyd.sim."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import numpy as np

from ..specs import NPY_SEQ
from ._base import FileSequenceWriter, ResourceDescription


class NpySequenceWriter(FileSequenceWriter):
    """Write each frame to its own ``.npy`` file with :func:`numpy.save`.

    Parameters
    ----------
    fsync
        Sync each file (and its directory entry) to disk before it counts.
    """

    kind = "NPY"
    suffix = ".npy"

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

    def _write_file(self, file: IO[bytes], frame: np.ndarray) -> None:
        np.save(file, frame, allow_pickle=False)
