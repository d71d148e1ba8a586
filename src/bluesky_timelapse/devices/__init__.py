"""ophyd v1 cameras that are not EPICS areaDetectors, and the file-writing they share.

- :class:`SimCamera`: a simulated camera with a scene that changes over time.
- :class:`FolderCamera`: images another program drops into a folder, read where they lie.
- :class:`OpenCVCamera`: a USB camera, a stream or a video file read through OpenCV
  (optional: ``pip install "bluesky-timelapse[opencv]"``).
- :class:`FileStoreMixin`: Resource/Datum file-writing for any ophyd device that
  produces frames in Python, with ophyd's path template semantics.
"""

from ._filestore import EXTERNAL, FileStoreMixin, FrameSignal
from ._folder_camera import FolderCamera
from ._opencv_camera import CaptureSetting, OpenCVCamera
from ._paths import PathTemplates, ResolvedPaths
from ._sim_camera import ExposureSignal, SimCamera

__all__ = [
    "EXTERNAL",
    "CaptureSetting",
    "ExposureSignal",
    "FileStoreMixin",
    "FolderCamera",
    "FrameSignal",
    "OpenCVCamera",
    "PathTemplates",
    "ResolvedPaths",
    "SimCamera",
]
