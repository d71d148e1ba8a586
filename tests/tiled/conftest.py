"""One embedded Tiled server shared by the tests of ``bluesky_timelapse.tiled``."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from bluesky_timelapse.tiled import LocalTiled


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTiled]:
    """A running LocalTiled in ``<tmp>/tiled``, reading frames from ``<tmp>/frames``."""
    root = tmp_path_factory.mktemp("local-tiled")
    server = LocalTiled(root / "tiled", readable_storage=[root / "frames"])
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def data_dir(local_server: LocalTiled) -> Path:
    """The data directory whose ``tiled`` subdirectory ``local_server`` serves."""
    return local_server.directory.parent
