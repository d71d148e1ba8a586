"""Fixtures of the suspender tests: a log and its recorder, installing, timers, messages."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bluesky_timelapse.suspenders import SuspensionLog
from suspender_fakes import TIMEOUT, MessageLog, Recorder


@pytest.fixture
def log() -> SuspensionLog:
    return SuspensionLog()


@pytest.fixture
def recorder(log: SuspensionLog) -> Recorder:
    return Recorder(log)


@pytest.fixture
def install(RE) -> Iterator[Callable[[Any], Any]]:
    """Install suspenders on ``RE``; all are removed (threads stopped) afterwards."""

    def _install(suspender: Any) -> Any:
        RE.install_suspender(suspender)
        return suspender

    yield _install
    RE.clear_suspenders()


@pytest.fixture
def later() -> Iterator[Callable[[float, Callable[[], Any]], threading.Timer]]:
    """Run a function on a timer thread; every timer is finished before the test ends."""
    timers: list[threading.Timer] = []

    def _later(delay: float, function: Callable[[], Any]) -> threading.Timer:
        timer = threading.Timer(delay, function)
        timers.append(timer)
        timer.start()
        return timer

    yield _later
    for timer in timers:
        timer.cancel()
        timer.join(TIMEOUT)


@pytest.fixture
def messages(RE) -> MessageLog:
    log = MessageLog()
    RE.msg_hook = log
    return log
