"""A real Tiled server for the integration tests, on 127.0.0.1, stopped after the module."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from tiled.client import from_uri
from tiled.client.container import Container
from tiled.server import SimpleTiledServer


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where cameras write; readable by the Tiled server."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def tiled_client(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """A client of an embedded Tiled server with a SQLite catalog."""
    with SimpleTiledServer(
        tmp_path_factory.mktemp("tiled"), readable_storage=[data_root]
    ) as server:
        yield from_uri(server.uri)
