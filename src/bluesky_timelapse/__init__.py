"""Long-running timelapse imaging with Bluesky.

What a user imports, in one place (each name is imported on first use, so
``import bluesky_timelapse`` stays cheap)::

    from bluesky_timelapse import SimCamera, TiledSink, every, load, local_tiled, timelapse

The subpackages hold the rest, one concept each: cameras (:mod:`.devices`,
:mod:`.async_devices`, their frame sources in :mod:`.sources`), frame writers
(:mod:`.storage`), schedules (:mod:`.schedules`), suspenders
(:mod:`.suspenders`), what survives a crash (:mod:`.persistence`), the plans
(:mod:`.plans`), callbacks (:mod:`.callbacks`), Tiled (:mod:`.tiled`), the
session (:mod:`.session`) and the entry point groups (:mod:`.plugins`).
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

try:
    __version__ = version("bluesky-timelapse")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from .async_devices import AsyncFolderCamera, AsyncOpenCVCamera, AsyncSimCamera
    from .callbacks import LivePreview, TiledSink, TimelapseProgress
    from .data_dir import DataDirectory
    from .devices import FileStoreMixin, FolderCamera, OpenCVCamera, SimCamera
    from .persistence import PersistentMetadata, TimelapseStore
    from .plans import (
        ingest_backlog,
        install_commands,
        list_timelapses,
        resume_timelapse,
        timelapse,
        timelapse_status,
        wait_until,
    )
    from .schedules import Schedule, at, daily, every, union
    from .session import configure, current_session
    from .storage import writer_for
    from .tiled import LocalTiled, TiledTarget, catalog_timelapses, connect, load, local_tiled

_MODULE_OF = {
    "AsyncFolderCamera": ".async_devices",
    "AsyncOpenCVCamera": ".async_devices",
    "AsyncSimCamera": ".async_devices",
    "LivePreview": ".callbacks",
    "TiledSink": ".callbacks",
    "TimelapseProgress": ".callbacks",
    "DataDirectory": ".data_dir",
    "FileStoreMixin": ".devices",
    "FolderCamera": ".devices",
    "OpenCVCamera": ".devices",
    "SimCamera": ".devices",
    "PersistentMetadata": ".persistence",
    "TimelapseStore": ".persistence",
    "Schedule": ".schedules",
    "at": ".schedules",
    "daily": ".schedules",
    "every": ".schedules",
    "union": ".schedules",
    "ingest_backlog": ".plans",
    "install_commands": ".plans",
    "list_timelapses": ".plans",
    "resume_timelapse": ".plans",
    "timelapse": ".plans",
    "timelapse_status": ".plans",
    "wait_until": ".plans",
    "configure": ".session",
    "current_session": ".session",
    "writer_for": ".storage",
    "LocalTiled": ".tiled",
    "TiledTarget": ".tiled",
    "catalog_timelapses": ".tiled",
    "connect": ".tiled",
    "load": ".tiled",
    "local_tiled": ".tiled",
}

__all__ = [
    "AsyncFolderCamera",
    "AsyncOpenCVCamera",
    "AsyncSimCamera",
    "DataDirectory",
    "FileStoreMixin",
    "FolderCamera",
    "LivePreview",
    "LocalTiled",
    "OpenCVCamera",
    "PersistentMetadata",
    "Schedule",
    "SimCamera",
    "TiledSink",
    "TiledTarget",
    "TimelapseProgress",
    "TimelapseStore",
    "__version__",
    "at",
    "catalog_timelapses",
    "configure",
    "connect",
    "current_session",
    "daily",
    "every",
    "ingest_backlog",
    "install_commands",
    "list_timelapses",
    "load",
    "local_tiled",
    "resume_timelapse",
    "timelapse",
    "timelapse_status",
    "union",
    "wait_until",
    "writer_for",
]

__getattr__, __dir__ = lazy_attributes(__name__, _MODULE_OF)
