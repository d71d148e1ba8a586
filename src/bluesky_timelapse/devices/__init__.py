"""ophyd v1 cameras that are not EPICS areaDetectors, and the file-writing they share.

- :class:`SimCamera`: a simulated camera with a scene that changes over time.
- :class:`FileStoreMixin`: Resource/Datum file-writing for any ophyd device that
  produces frames in Python, with ophyd's path template semantics.
"""

from .filestore import EXTERNAL, FileStoreMixin, FrameSignal
from .paths import PathTemplates, ResolvedPaths
from .scene import GardenScene
from .sim_camera import ExposureSignal, SimCamera

__all__ = [
    "EXTERNAL",
    "ExposureSignal",
    "FileStoreMixin",
    "FrameSignal",
    "GardenScene",
    "PathTemplates",
    "ResolvedPaths",
    "SimCamera",
]
