"""Where the cameras' frames come from, for both ophyd flavours; no ophyd, no bluesky.

- :class:`FrameSource`: the contract, an object handing out one frame at a time.
- :class:`SceneSource`: the simulated garden (:class:`GardenScene`) at the time
  of each exposure.
- :class:`CaptureSource`: a USB camera, a stream or a video file read through
  OpenCV (optional: ``pip install "bluesky-timelapse[opencv]"``).

The ophyd v1 cameras (:mod:`~bluesky_timelapse.devices`) and the ophyd-async ones
(:mod:`~bluesky_timelapse.async_devices`) are the device protocol around these
sources.
"""

from ._capture_source import CaptureError, CaptureSource
from ._frame_source import FrameSource
from ._scene import GardenScene
from ._scene_source import SceneSource

__all__ = [
    "CaptureError",
    "CaptureSource",
    "FrameSource",
    "GardenScene",
    "SceneSource",
]
