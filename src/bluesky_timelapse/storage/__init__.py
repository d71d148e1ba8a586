"""Frame writers: TIFF, HDF5, Zarr and NPY, knowing nothing of ophyd or bluesky.

Each writer is opened on a directory with a name, appends frames of one format,
counts the frames safely on disk, and describes its output for documents::

    writer = writer_for("hdf5")
    writer.open(Path("/data/2026/11/22"), "camera_3f2a9c")
    index = writer.append(frame)
    writer.close()

Writers are found by name through the ``bluesky_timelapse.writers`` entry points.
:func:`read_frame` reads one frame back from what a Resource or StreamResource
document points at, with the format's own library.
"""

from ._base import (
    COLOUR_CHANNELS,
    SUPPORTED_DTYPES,
    FileFrameWriter,
    FrameFormat,
    FrameWriter,
    ResourceDescription,
)
from ._hdf5 import HDF5Writer
from ._npy import NpySequenceWriter
from ._process import ProcessWriter, WriterProcess
from ._queued import QueuedWriter
from ._readback import frame_index, read_frame, resource_path
from ._registry import WriterFactory, writer_factory, writer_for, writer_names
from ._tiff import TiffSequenceWriter
from ._zarr import ZarrWriter

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
    "frame_index",
    "read_frame",
    "resource_path",
    "writer_factory",
    "writer_for",
    "writer_names",
]
