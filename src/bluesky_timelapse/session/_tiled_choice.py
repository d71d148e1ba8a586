"""Which Tiled server a session sends its documents to, started here if need be."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ..data_dir import DataDirectory
from ..tiled import LocalTiled, ServerAlreadyRunning, TiledTarget, connect, find_local_tiled

logger = logging.getLogger("bluesky_timelapse.session")

_FIND_TIMEOUT = 60.0


def choose_tiled(
    paths: DataDirectory, target: TiledTarget
) -> tuple[LocalTiled | None, Callable[[], Any], TiledTarget]:
    """The server to use: (server started here or None, client factory, its target).

    ``target`` with a URI: that server, checked now. Without: the embedded server of
    ``paths.tiled``, connected to if another process runs it, else started here
    (readable storage: ``paths.frames``).
    """
    if target.uri is not None:
        connect(target)  # a clear error now if it is unreachable or refuses the key
        return None, partial(connect, target), target
    directory = paths.tiled
    found = find_local_tiled(directory)
    if found is None:
        server = LocalTiled(directory, readable_storage=[paths.frames])
        try:
            server.start()
        except ServerAlreadyRunning:  # another process is starting it right now
            found = _wait_for_local_tiled(directory)
        else:
            return server, server.client, server.target
    assert found.uri is not None
    logger.info("using the embedded Tiled server another process runs at %s", found.uri)
    return None, partial(connect, found, trust_env=False), found


def _wait_for_local_tiled(directory: Path) -> TiledTarget:
    deadline = time.monotonic() + _FIND_TIMEOUT
    while time.monotonic() < deadline:
        found = find_local_tiled(directory)
        if found is not None:
            return found
        time.sleep(0.2)
    raise RuntimeError(
        f"another process holds the embedded Tiled server for {str(directory)!r} but it did "
        f"not publish its URI within {_FIND_TIMEOUT:.0f} s; see {str(directory / 'server.log')!r}"
    )
