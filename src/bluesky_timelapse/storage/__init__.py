"""Frame writers: TIFF, HDF5, Zarr and NPY, knowing nothing of ophyd or bluesky.

Each writer is opened on a directory with a name, appends frames of one format,
counts the frames safely on disk, and describes its output for documents::

    writer = writer_for("hdf5")
    writer.open(Path("/data/2026/11/22"), "camera_3f2a9c")
    index = writer.append(frame)
    writer.close()

Writers are found by name through the ``bluesky_timelapse.writers`` entry points.
"""

from ._base import (
    COLOUR_CHANNELS,
    SUPPORTED_DTYPES,
    FileFrameWriter,
    FrameFormat,
    FrameWriter,
    ResourceDescription,
)
from .hdf5 import HDF5Writer
from .npy import NpySequenceWriter
from .process import ProcessWriter, WriterProcess
from .queued import QueuedWriter
from .registry import WriterFactory, writer_factory, writer_for, writer_names
from .tiff import TiffSequenceWriter
from .zarr import ZarrWriter

__all__ = [
    "COLOUR_CHANNELS",
    "SUPPORTED_DTYPES",
    "FileFrameWriter",
    "FrameFormat",
    "FrameWriter",
    "HDF5Writer",
    "NpySequenceWriter",
    "ProcessWriter",
    "QueuedWriter",
    "ResourceDescription",
    "TiffSequenceWriter",
    "WriterFactory",
    "WriterProcess",
    "ZarrWriter",
    "writer_factory",
    "writer_for",
    "writer_names",
]
