"""ophyd-async flavours of the cameras: ``StandardDetector`` subclasses writing with our writers.

- :class:`AsyncSimCamera`: the simulated garden camera.
- :class:`AsyncOpenCVCamera`: a USB camera, a stream or a video file read through
  OpenCV (optional: ``pip install "bluesky-timelapse[opencv]"``).
- :class:`AsyncFolderCamera`: the images another program drops into a folder,
  copied into our writers.
- :class:`FrameDetector`: the base, for any
  :class:`~bluesky_timelapse.sources.FrameSource` (an object handing out one frame
  at a time), built from ophyd-async's trigger, acquire and data logic classes;
  frames are described by StreamResource/StreamDatum documents.
"""

from ._folder_camera import AsyncFolderCamera
from ._frame_detector import (
    FrameAcquireLogic,
    FrameDetector,
    FrameTriggerLogic,
    WriterDataLogic,
)
from ._opencv_camera import AsyncOpenCVCamera
from ._sim_camera import AsyncSimCamera

__all__ = [
    "AsyncFolderCamera",
    "AsyncOpenCVCamera",
    "AsyncSimCamera",
    "FrameAcquireLogic",
    "FrameDetector",
    "FrameTriggerLogic",
    "WriterDataLogic",
]
