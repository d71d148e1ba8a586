"""Fakes for the suspender tests: a disk, a wall clock, recorders of the log and of messages.

Conditions are made bad and good through injected measurements (a fake disk, a
fake clock); the recorders keep the order of messages and suspensions.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bluesky_timelapse.suspenders import SuspensionLog

GB = 10**9
POLL = 0.02
TIMEOUT = 10.0


@dataclass
class FakeUsage:
    total: int
    free: int


class FakeDisk:
    """A filesystem whose free space the test sets; counts the paths it was asked about."""

    def __init__(self, free: int, total: int = 1000 * GB) -> None:
        self.free, self.total = free, total
        self.paths: list[str] = []

    def __call__(self, path: str) -> FakeUsage:
        self.paths.append(path)
        return FakeUsage(self.total, self.free)


class FakeClock:
    """A wall clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    """Subscribes to a SuspensionLog and records what it says."""

    def __init__(self, log: SuspensionLog) -> None:
        self.entries: list[tuple[str, str, datetime]] = []
        self.suspended = threading.Event()
        self.resumed = threading.Event()
        self.token = log.subscribe(self)

    def __call__(self, event: str, reason: str, when: datetime) -> None:
        self.entries.append((event, reason, when))
        (self.suspended if event == "suspended" else self.resumed).set()

    @property
    def events(self) -> list[tuple[str, str]]:
        return [(event, reason) for event, reason, _ in self.entries]


class MessageLog:
    """Every message the RunEngine processes, with whether the condition was good then."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, bool]] = []
        self.ok: Callable[[], bool] = lambda: True

    def __call__(self, msg: Any) -> None:
        self.entries.append((msg.command, self.ok()))

    def commands(self) -> list[str]:
        return [command for command, _ in self.entries]

    def after(self, command: str) -> list[tuple[str, bool]]:
        """The entries after the first ``command``."""
        return self.entries[self.commands().index(command) + 1 :]


async def _until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


def until(predicate: Callable[[], bool]) -> Callable[[], Any]:
    """A ``wait_for`` factory: waits (at most TIMEOUT s) until ``predicate()``."""
    return lambda: _until(predicate)
