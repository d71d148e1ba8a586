"""Fixtures for the schedule tests."""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import tzlocal

from schedule_checks import BERLIN


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[ZoneInfo]:
    """Make Europe/Berlin the machine's zone, whatever the machine's really is."""
    monkeypatch.setattr(tzlocal, "get_localzone", lambda: BERLIN)
    monkeypatch.setattr(tzlocal, "get_localzone_name", lambda: "Europe/Berlin")
    yield BERLIN
