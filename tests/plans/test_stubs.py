"""Absolute-time waits (plans/_stubs.py)."""

import threading
import time
from datetime import datetime

import bluesky.plan_stubs as bps
import pytest
from bluesky.suspenders import SuspendBoolHigh
from bluesky.utils import RunEngineInterrupted
from ophyd import Signal

from bluesky_timelapse.plans import seconds_until, wait_until


def test_a_past_time_returns_at_once(RE):
    started = time.time()
    RE(wait_until(started - 10))
    assert time.time() - started < 0.5


def test_waits_until_the_time(RE):
    deadline = time.time() + 0.3
    RE(wait_until(deadline))
    assert time.time() >= deadline


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="has no time zone; allowed: a timezone-aware datetime"):
        list(wait_until(datetime(2026, 1, 1)))


def test_seconds_until():
    assert 9 < seconds_until(time.time() + 10) <= 10


def test_a_suspension_only_delays_what_is_left_unlike_sleep(RE):
    """Side by side: the same 0.5 s suspension during a 1.5 s wait."""
    signal = Signal(name="door", value=0)
    RE.install_suspender(SuspendBoolHigh(signal, sleep=0))

    def suspended_for_half_a_second():
        threading.Timer(0.3, signal.put, [1]).start()
        threading.Timer(0.8, signal.put, [0]).start()

    def ours():
        yield from bps.checkpoint()
        yield from wait_until(time.time() + 1.5)

    def blueskys():
        yield from bps.checkpoint()
        yield from bps.sleep(1.5)

    suspended_for_half_a_second()
    started = time.time()
    RE(ours())
    with_wait_until = time.time() - started
    suspended_for_half_a_second()
    started = time.time()
    RE(blueskys())
    with_sleep = time.time() - started
    print(
        f"1.5 s wait with a 0.5 s suspension: wait_until {with_wait_until:.2f} s, sleep {with_sleep:.2f} s"
    )
    assert with_wait_until < 1.5 + 0.45  # ends at its deadline
    assert with_sleep > 1.5 + 0.5  # bluesky's sleep starts over after the suspension


def test_a_deferred_pause_takes_effect_during_a_long_wait(RE):
    deadline = time.time() + 3600
    threading.Timer(0.2, RE.request_pause, kwargs={"defer": True}).start()
    started = time.time()
    with pytest.raises(RunEngineInterrupted):
        RE(wait_until(deadline))
    assert time.time() - started < 5  # paused at a checkpoint, not after an hour
    RE.abort()
