"""The polling base every suspender shares, in a real RunEngine (suspenders/_base.py).

Conditions are made bad and good through injected measurements (a fake disk, a
fake clock) or ophyd puts from timers; every assertion is on the recorded order
of messages and suspensions, never on how long something took.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

import bluesky.plan_stubs as bps
import pytest
from bluesky.plans import count
from bluesky.preprocessors import suspend_wrapper
from bluesky.suspenders import SuspendBoolHigh
from bluesky.utils import RunEngineInterrupted
from ophyd import Signal
from ophyd.sim import det

from bluesky_timelapse.suspenders import (
    PollingSignal,
    SuspendLowDiskSpace,
    SuspendOutsideWindow,
    SuspendStaleCamera,
    suspension_log,
)
from support import only, validate
from suspender_fakes import GB, POLL, TIMEOUT, FakeDisk, Recorder, until

# -- upstream behaviour we work around -------------------------------------------------


def test_bluesky_suspender_misses_a_signal_that_was_bad_before_it_emitted(RE, install, later):
    # A Signal created with a bad value has emitted no update; ophyd's
    # subscribe(run=True) replays only emitted updates, so the suspender never
    # sees the value and the plan runs while the signal is high.
    signal = Signal(name="interlock", value=1)
    suspender = install(SuspendBoolHigh(signal))
    later(TIMEOUT, lambda: signal.put(0))  # a safety net if bluesky ever holds
    seen: list[Any] = []

    def plan():
        yield from bps.checkpoint()
        seen.append(signal.get())
        yield from bps.null()

    RE(plan())

    assert not suspender.tripped
    assert seen == [1]


def test_bluesky_suspender_holds_when_the_bad_value_was_emitted(RE, install, later):
    signal = Signal(name="interlock", value=0)
    signal.put(1)
    install(SuspendBoolHigh(signal))
    later(0.5, lambda: signal.put(0))
    seen: list[Any] = []

    def plan():
        yield from bps.checkpoint()
        seen.append(signal.get())

    RE(plan())

    assert seen == [0]


def test_bluesky_suspender_ignores_a_trip_while_paused(RE, install, later):
    signal = Signal(name="interlock", value=0)
    signal.put(0)
    install(SuspendBoolHigh(signal))
    seen: list[Any] = []

    def plan():
        yield from bps.checkpoint()
        yield from bps.pause()
        seen.append(signal.get())

    with pytest.raises(RunEngineInterrupted):
        RE(plan())
    signal.put(1)
    later(TIMEOUT, lambda: signal.put(0))  # a safety net if bluesky ever holds
    RE.resume()

    assert seen == [1]


# -- holding a plan ---------------------------------------------------------------------


def test_disk_already_low_holds_the_plan_before_its_first_message(
    RE, documents, install, later, log, recorder, messages, tmp_path
):
    disk = FakeDisk(free=1 * GB)
    suspender = install(
        SuspendLowDiskSpace(tmp_path, min_free="5GB", usage=disk, poll_interval=POLL, log=log)
    )
    assert suspender.tripped
    messages.ok = lambda: disk.free >= 5 * GB
    cleared: list[datetime] = []

    def clear() -> None:
        cleared.append(datetime.now(UTC))
        disk.free = 8 * GB

    later(0.5, clear)
    RE(count([det], num=3, delay=0.1))

    assert messages.entries[0] == ("wait_for", False)
    after = messages.after("wait_for")
    assert "checkpoint" in [command for command, _ in after]
    assert all(ok for _, ok in after)
    validate(documents)
    assert len(only(documents, "event")) == 3
    assert recorder.events == [
        ("suspended", f"free space on {tmp_path} is 1.0 GB, below the 5.0 GB minimum"),
        ("resumed", f"free space on {tmp_path} is 8.0 GB, back above 5.5 GB"),
    ]
    (_, _, suspended_at), (_, _, resumed_at) = recorder.entries
    assert suspended_at <= cleared[0] <= resumed_at
    assert suspended_at.tzinfo is UTC


def test_disk_turning_low_mid_run_suspends_and_replays_from_the_checkpoint(
    RE, documents, install, later, log, recorder, tmp_path
):
    disk = FakeDisk(free=100 * GB)
    suspender = install(
        SuspendLowDiskSpace(tmp_path, min_free="10%", usage=disk, poll_interval=POLL, log=log)
    )
    assert not suspender.tripped

    def free_up_once_suspended(event: str, reason: str, when: datetime) -> None:
        if event == "suspended":
            later(0.3, lambda: setattr(disk, "free", 150 * GB))

    log.subscribe(free_up_once_suspended)

    def plan():
        yield from bps.open_run()
        yield from bps.checkpoint()
        disk.free = 20 * GB
        # Replayed after the suspension, when it returns at once.
        yield from bps.wait_for([until(recorder.resumed.is_set)])
        yield from bps.trigger_and_read([det])
        yield from bps.close_run()

    RE(plan())

    validate(documents)
    assert len(only(documents, "event")) == 1
    assert only(documents, "stop")[0]["exit_status"] == "success"
    assert recorder.events == [
        (
            "suspended",
            f"free space on {tmp_path} is 20.0 GB, below the 10% (100.0 GB) minimum",
        ),
        ("resumed", f"free space on {tmp_path} is 150.0 GB, back above 11% (110.0 GB)"),
    ]


def test_resuming_a_paused_plan_into_low_disk_holds_it_before_it_goes_on(
    RE, install, later, log, recorder, messages, tmp_path
):
    disk = FakeDisk(free=100 * GB)
    suspender = install(
        SuspendLowDiskSpace(tmp_path, min_free="5GB", usage=disk, poll_interval=600, log=log)
    )

    def plan():
        yield from bps.checkpoint()
        yield from bps.pause()
        yield from bps.null()

    with pytest.raises(RunEngineInterrupted):
        RE(plan())
    disk.free = 1 * GB  # no poll comes before the resume: the resume itself measures
    assert not suspender.tripped
    messages.ok = lambda: disk.free >= 5 * GB

    def clear() -> None:
        disk.free = 100 * GB
        suspender.signal.poll()

    later(0.5, clear)
    RE.resume()

    resumed = messages.after("pause")
    assert resumed[0] == ("_start_suspender", False)
    assert [command for command, ok in resumed if not ok] == [
        "_start_suspender",
        "rewindable",
        "wait_for",
    ]
    assert ("null", True) in resumed
    assert [event for event, _ in recorder.events] == ["suspended", "resumed"]


def test_installed_inside_the_plan_while_bad_suspends_before_any_trigger(
    RE, documents, later, log, recorder, messages, tmp_path
):
    disk = FakeDisk(free=1 * GB)
    suspender = SuspendLowDiskSpace(
        tmp_path, min_free="5GB", usage=disk, poll_interval=POLL, log=log
    )
    messages.ok = lambda: disk.free >= 5 * GB
    later(0.5, lambda: setattr(disk, "free", 8 * GB))

    RE(suspend_wrapper(count([det], num=2), [suspender]))

    acquisition = [ok for command, ok in messages.entries if command in {"trigger", "read"}]
    assert acquisition and all(acquisition)
    validate(documents)
    assert len(only(documents, "event")) == 2
    assert [event for event, _ in recorder.events] == ["suspended", "resumed"]
    assert not suspender.signal.polling
    assert RE.suspenders == ()


def test_removing_a_suspender_releases_the_plan_it_holds(
    RE, documents, later, log, recorder, tmp_path
):
    disk = FakeDisk(free=1 * GB)
    suspender = SuspendLowDiskSpace(
        tmp_path, min_free="5GB", usage=disk, poll_interval=POLL, log=log
    )
    RE.install_suspender(suspender)
    later(0.5, lambda: RE.remove_suspender(suspender))

    RE(count([det], num=1))

    assert len(only(documents, "event")) == 1
    assert recorder.events[1] == (
        "resumed",
        f"the suspender SuspendLowDiskSpace('{tmp_path}', min_free='5.0 GB', "
        "resume_free='5.5 GB') was removed",
    )


# -- threads and the log ----------------------------------------------------------------


def test_polling_thread_lives_exactly_as_long_as_the_installation(RE, tmp_path):
    image = Signal(name="cam_image", value=0)
    suspenders = [
        SuspendLowDiskSpace(tmp_path, min_free="1B", poll_interval=POLL),
        SuspendStaleCamera(image, max_age=60, poll_interval=POLL),
        SuspendOutsideWindow(("00:00", "23:59:59"), timezone="UTC", poll_interval=POLL),
    ]
    for suspender in suspenders:
        RE.install_suspender(suspender)
        RE.install_suspender(suspender)  # twice: still one thread, one subscription
    threads = {s.signal._thread for s in suspenders}
    assert all(thread is not None and thread.daemon and thread.is_alive() for thread in threads)
    assert len(RE.context_managers) == 1 + len(suspenders)

    RE.clear_suspenders()

    assert not any(thread.is_alive() for thread in threads if thread is not None)
    assert not any(s.signal.polling for s in suspenders)
    assert len(RE.context_managers) == 1
    assert image._callbacks[image.SUB_VALUE] == {}


def test_a_suspender_belongs_to_one_run_engine(RE, install, tmp_path):
    from bluesky import RunEngine

    suspender = install(SuspendLowDiskSpace(tmp_path, min_free="1B", poll_interval=60))
    other = RunEngine({})
    with pytest.raises(RuntimeError, match="installed on another RunEngine"):
        other.install_suspender(suspender)


def test_polling_signal_keeps_the_last_value_when_a_measurement_fails(caplog):
    values = iter([1, 2])

    def measure() -> int:
        return next(values)  # StopIteration after two: a failing measurement

    signal = PollingSignal(measure, poll_interval=POLL, name="probe")
    seen = threading.Event()
    signal.subscribe(lambda value, **_: value == 2 and seen.set(), run=False)
    signal.start()
    try:
        assert seen.wait(TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while "measurement failed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(POLL)
        assert "probe: measurement failed; keeping the last value" in caplog.text
        assert signal.get() == 2
        assert signal.polling
    finally:
        signal.stop()
    assert not signal.polling


def test_suspenders_report_to_the_module_log_by_default(RE, install, later, tmp_path):
    recorder = Recorder(suspension_log)
    try:
        disk = FakeDisk(free=1 * GB)
        install(SuspendLowDiskSpace(tmp_path, min_free="5GB", usage=disk, poll_interval=POLL))
        later(0.3, lambda: setattr(disk, "free", 8 * GB))
        RE(count([det], num=1))
    finally:
        suspension_log.unsubscribe(recorder.token)
    assert [event for event, _ in recorder.events] == ["suspended", "resumed"]


# -- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("poll_interval", {"poll_interval": 0}, "poll_interval 0 is invalid"),
        ("sleep", {"sleep": -1}, "sleep -1 is invalid; allowed: a finite number of seconds >= 0"),
    ],
)
def test_suspender_option_checks(tmp_path, name, kwargs, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        SuspendLowDiskSpace(tmp_path, min_free="1B", usage=FakeDisk(GB), **kwargs)


def test_an_unknown_option_is_refused(tmp_path):
    message = (
        "SuspendLowDiskSpace() got an unexpected keyword argument 'slep'; allowed besides "
        "its own: sleep, pre_plan, post_plan, tripped_message, log"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        SuspendLowDiskSpace(tmp_path, min_free="1B", usage=FakeDisk(GB), slep=1)  # type: ignore[call-arg]
