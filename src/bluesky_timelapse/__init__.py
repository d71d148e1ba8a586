"""Long-running timelapse imaging with Bluesky.

Cameras as ophyd devices (:mod:`bluesky_timelapse.devices`), frame writers for
TIFF, HDF5, Zarr and NPY (:mod:`bluesky_timelapse.storage`), and the entry point
groups through which other distributions extend them
(:mod:`bluesky_timelapse.plugins`). :func:`load` reads a whole timelapse back
from Tiled as one lazy array.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bluesky-timelapse")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

__all__ = ["__version__", "load"]


def __getattr__(name: str) -> object:
    # ``bluesky_timelapse.load`` without importing Tiled for those who never read.
    if name == "load":
        from .tiled import load

        return load
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
