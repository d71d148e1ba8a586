"""Tiled: the embedded server, and connections to any server.

- :class:`LocalTiled` / :func:`local_tiled`: the default, a Tiled server on
  127.0.0.1 with a persistent catalog under the user data directory, run as a
  child process (``tiled serve config``) whose root is a catalog of bluesky runs.
- :func:`tiled_settings` / :func:`connect`: which server to use (arguments, then
  ``$BLUESKY_TIMELAPSE_TILED_URI`` and ``$TILED_API_KEY``) and a client of it,
  with clear errors for an unreachable server, a refused key or a bad URI.
- :func:`load` / :func:`list_timelapses`: a whole timelapse read back as one lazy
  array, and the timelapses a catalog holds.
"""

from .connect import (
    API_KEY_VARIABLE,
    URI_VARIABLE,
    TiledAuthenticationError,
    TiledTarget,
    TiledUnreachableError,
    connect,
    tiled_settings,
)
from .load import TiledTimelapse, list_timelapses, load
from .server import LocalTiled, ServerAlreadyRunning, find_local_tiled, local_tiled

__all__ = [
    "API_KEY_VARIABLE",
    "URI_VARIABLE",
    "LocalTiled",
    "ServerAlreadyRunning",
    "TiledAuthenticationError",
    "TiledTarget",
    "TiledTimelapse",
    "TiledUnreachableError",
    "connect",
    "find_local_tiled",
    "list_timelapses",
    "load",
    "local_tiled",
    "tiled_settings",
]
