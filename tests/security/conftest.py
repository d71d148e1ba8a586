"""Fixtures of the security tests: a clean environment, a zero umask."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_tiled_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither a URI nor a key from the environment: the embedded server is used."""
    monkeypatch.delenv("BLUESKY_TIMELAPSE_TILED_URI", raising=False)
    monkeypatch.delenv("TILED_API_KEY", raising=False)


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """Run with umask 000: modes the package wants must not come from the umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)
