"""Tiled: the embedded server, connections to any server, and reading a timelapse back.

- :class:`LocalTiled` / :func:`local_tiled`: the default, a Tiled server on
  127.0.0.1 with a persistent catalog under the user data directory, run as a
  child process (``tiled serve config``) whose root is a catalog of bluesky runs.
- :func:`tiled_settings` / :func:`connect`: which server to use (arguments, then
  ``$BLUESKY_TIMELAPSE_TILED_URI`` and ``$TILED_API_KEY``) and a client of it,
  with clear errors for an unreachable server, a refused key or a bad URI.
- :func:`load` / :func:`catalog_timelapses`: a whole timelapse read back as one
  lazy array, and the timelapses a catalog holds.
- :func:`read_slot_index` / :class:`SlotIndexWriter`: a timelapse's index in
  Tiled (one row per slot, every slot's frame in one array), which
  :class:`~bluesky_timelapse.callbacks.TiledSink` writes and :func:`load` reads.

Names are imported on first use: the reading side (dask, xarray, Tiled's
client) costs nothing to a process that only serves or forwards.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._connect import TiledAuthenticationError, TiledUnreachableError, connect
    from ._index import SlotIndex, read_slot_index
    from ._index_writer import RunDocuments, SlotIndexWriter
    from ._load import TiledTimelapse, catalog_timelapses, load
    from ._server import LocalTiled, ServerAlreadyRunning, find_local_tiled, local_tiled
    from ._target import API_KEY_VARIABLE, URI_VARIABLE, TiledTarget, tiled_settings

__all__ = [
    "API_KEY_VARIABLE",
    "URI_VARIABLE",
    "LocalTiled",
    "RunDocuments",
    "ServerAlreadyRunning",
    "SlotIndex",
    "SlotIndexWriter",
    "TiledAuthenticationError",
    "TiledTarget",
    "TiledTimelapse",
    "TiledUnreachableError",
    "catalog_timelapses",
    "connect",
    "find_local_tiled",
    "load",
    "local_tiled",
    "read_slot_index",
    "tiled_settings",
]

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "API_KEY_VARIABLE": "._target",
        "URI_VARIABLE": "._target",
        "TiledTarget": "._target",
        "tiled_settings": "._target",
        "TiledAuthenticationError": "._connect",
        "TiledUnreachableError": "._connect",
        "connect": "._connect",
        "LocalTiled": "._server",
        "ServerAlreadyRunning": "._server",
        "find_local_tiled": "._server",
        "local_tiled": "._server",
        "TiledTimelapse": "._load",
        "catalog_timelapses": "._load",
        "load": "._load",
        "SlotIndex": "._index",
        "read_slot_index": "._index",
        "RunDocuments": "._index_writer",
        "SlotIndexWriter": "._index_writer",
    },
)
