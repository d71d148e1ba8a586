"""Where the cameras' frames come from, for both ophyd flavours; no ophyd, no bluesky.

- :class:`FrameSource`: the contract, an object handing out one frame at a time.
- :class:`SceneSource`: the simulated garden (:class:`GardenScene`) at the time
  of each exposure.
- :class:`CaptureSource`: a USB camera, a stream or a video file read through
  OpenCV (optional: ``pip install "bluesky-timelapse[opencv]"``).
- :class:`FolderSource`: the images another program drops into a folder, named
  as a :class:`FilePattern` says, each reported once complete by a
  :class:`FolderWatch` and handed out by a :class:`FileFeed`; an
  :class:`IngestRecord` remembers the newest file used.

The ophyd v1 cameras (:mod:`~bluesky_timelapse.devices`) and the ophyd-async ones
(:mod:`~bluesky_timelapse.async_devices`) are the device protocol around these
sources.
"""

from ._capture_source import CaptureError, CaptureSource
from ._file_feed import MODES, FileFeed, Mode
from ._file_pattern import EXTENSIONS, STRFTIME_CODES, FieldKind, FilePattern, ImageFormat
from ._folder_source import FolderSource, TakenFile
from ._folder_watch import FolderWatch
from ._frame_source import FrameSource
from ._ingest_record import IngestRecord
from ._scene import GardenScene
from ._scene_source import SceneSource

__all__ = [
    "EXTENSIONS",
    "MODES",
    "STRFTIME_CODES",
    "CaptureError",
    "CaptureSource",
    "FieldKind",
    "FileFeed",
    "FilePattern",
    "FolderSource",
    "FolderWatch",
    "FrameSource",
    "GardenScene",
    "ImageFormat",
    "IngestRecord",
    "Mode",
    "SceneSource",
    "TakenFile",
]
