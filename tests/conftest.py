"""Fixtures shared by every test."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bluesky import RunEngine
from tiled.client.container import Container

from bluesky_timelapse.tiled import LocalTiled
from support import Documents


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """List what was skipped, grouped by reason: the reasons name what to install."""
    skipped: dict[str, list[Any]] = defaultdict(list)
    for report in terminalreporter.stats.get("skipped", []):
        skipped[_skip_reason(report)].append(report)
    if not skipped:
        return
    terminalreporter.section("skipped, and why")
    for reason, reports in sorted(skipped.items(), key=lambda item: (-len(item[1]), item[0])):
        modules = sorted({report.nodeid for report in reports if report.when == "collect"})
        tests = len(reports) - len(modules)
        what = ", ".join(
            ([f"{tests} test{'s' * (tests != 1)}"] if tests else [])
            + [f"all of {module}" for module in modules]
        )
        terminalreporter.write_line(f"skipped {what}: {reason}")


def _skip_reason(report: Any) -> str:
    """The reason a skipped test or module gave, without pytest's ``Skipped: ``."""
    longrepr = report.longrepr
    message = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return str(message).removeprefix("Skipped: ")


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


@pytest.fixture(scope="session")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTiled]:
    """The embedded Tiled server the tests share, started once.

    A :class:`~bluesky_timelapse.tiled.LocalTiled` in ``<data_dir>/tiled`` (its root a
    ``CatalogOfBlueskyRuns``), reading frames from ``<data_dir>/frames``. Tests that need
    a catalog of their own make a container in it or use unique ids.
    """
    root = tmp_path_factory.mktemp("local-tiled")
    with LocalTiled(root / "tiled", readable_storage=[root / "frames"]) as server:
        yield server


@pytest.fixture(scope="session")
def data_dir(local_server: LocalTiled) -> Path:
    """The data directory whose ``tiled`` subdirectory ``local_server`` serves."""
    return local_server.directory.parent


@pytest.fixture(scope="session")
def data_root(local_server: LocalTiled) -> Path:
    """Where cameras write: the directory ``local_server`` reads frames from."""
    (frames,) = local_server.readable_storage
    frames.mkdir(parents=True, exist_ok=True)
    return frames


@pytest.fixture(scope="module")
def tiled_client(local_server: LocalTiled) -> Container:
    """A client of ``local_server`` with its key, one per test module."""
    client: Container = local_server.client()
    return client
