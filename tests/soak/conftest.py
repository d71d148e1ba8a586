"""Print the soak tables at the end of the test session (they are the soak's result)."""

from __future__ import annotations

from typing import Any

import pytest

TABLES: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for table in TABLES:
        terminalreporter.section("soak")
        terminalreporter.write_line(table)


@pytest.fixture
def soak_tables() -> list[str]:
    """Tables appended here are printed in the session's summary."""
    return TABLES
