"""Fixtures shared by every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from bluesky import RunEngine

from support import Documents


@pytest.fixture
def documents() -> Documents:
    """The documents the ``RE`` fixture emitted, in order."""
    return []


@pytest.fixture
def RE(documents: Documents) -> Iterator[RunEngine]:
    """A RunEngine recording every document into ``documents``."""
    engine = RunEngine({}, call_returns_result=True)
    engine.subscribe(lambda name, doc: documents.append((name, doc)))
    yield engine
    if engine.state != "idle":
        engine.halt()


@pytest.fixture
def unwritable_directory(tmp_path: Path) -> Path:
    """A directory that refuses new files, also when the tests run as root."""
    if os.geteuid() == 0:
        return Path("/sys")  # sysfs refuses new files even to root
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o500)
    return directory
