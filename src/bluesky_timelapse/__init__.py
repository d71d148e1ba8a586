"""Long-running timelapse imaging with Bluesky.

Cameras as ophyd devices (:mod:`bluesky_timelapse.devices`), frame writers for
TIFF, HDF5, Zarr and NPY (:mod:`bluesky_timelapse.storage`), and the entry point
groups through which other distributions extend them
(:mod:`bluesky_timelapse.plugins`).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bluesky-timelapse")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
