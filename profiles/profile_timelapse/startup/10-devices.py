"""Cameras. Each writes under the data directory's ``frames/``, which Tiled can read."""

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.session import current_session

frames = str(current_session().frames_dir)

camera = SimCamera(
    name="camera",
    root=frames,
    write_path_template="camera/%Y/%m/%d",
    writer="hdf5",
    shape=(240, 320),
    colour=True,
    dtype="uint8",
)

# Images another program drops into a folder (a Raspberry Pi, a vendor's software),
# read where they lie:
#
# from bluesky_timelapse.devices import FolderCamera
#
# pi = FolderCamera(
#     name="pi",
#     template="/incoming/pi/%Y/%m/%d/{timestamp:%Y%m%d%H%M%S}.jpg",
#     timeout=120,
# )

# A USB camera, a stream or a video file through OpenCV
# (pip install "bluesky-timelapse[opencv]"):
#
# from bluesky_timelapse.devices import OpenCVCamera
#
# webcam = OpenCVCamera(
#     name="webcam",
#     source=0,
#     root=frames,
#     write_path_template="webcam/%Y/%m/%d",
#     writer="hdf5",
#     resolution=(1280, 720),
# )
