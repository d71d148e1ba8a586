"""Fixtures of the persistence tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluesky_timelapse.persistence import TimelapseStore


@pytest.fixture
def store(tmp_path: Path) -> TimelapseStore:
    return TimelapseStore(tmp_path / "timelapses", keep=3)
