"""Cameras. Each writes under the data directory's ``frames/``, which Tiled can read."""

from bluesky_timelapse.session import current_session

session = current_session()
frames = str(session.frames_dir)

# The session's simulated camera (a SimCamera, colour 240x320, HDF5 under frames/camera/);
# any SimCamera argument can replace a default: session.default_camera("cam2", writer="tiff")
camera = session.default_camera()

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
