"""Fixtures of the security tests: a real embedded Tiled server, a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from bluesky_timelapse.tiled import LocalTiled


@pytest.fixture(autouse=True)
def no_tiled_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither a URI nor a key from the environment: the embedded server is used."""
    monkeypatch.delenv("BLUESKY_TIMELAPSE_TILED_URI", raising=False)
    monkeypatch.delenv("TILED_API_KEY", raising=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTiled]:
    """A running LocalTiled in ``<tmp>/tiled``, reading frames from ``<tmp>/frames``."""
    root = tmp_path_factory.mktemp("security-tiled")
    with LocalTiled(root / "tiled", readable_storage=[root / "frames"]) as running:
        yield running


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """Run with umask 000: modes the package wants must not come from the umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)
