"""Suspenders in a real RunEngine, with real ophyd signals (suspenders.py).

Conditions are made bad and good through injected measurements (a fake disk, a
fake clock) or ophyd puts from timers; every assertion is on the recorded order
of messages and suspensions, never on how long something took.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as time_of_day
from typing import Any
from zoneinfo import ZoneInfo

import bluesky.plan_stubs as bps
import pytest
import tzlocal
from bluesky.plans import count
from bluesky.preprocessors import suspend_wrapper
from bluesky.suspenders import SuspendBoolHigh
from bluesky.utils import RunEngineInterrupted
from ophyd import Signal
from ophyd.sim import det

from bluesky_timelapse.callbacks import SinkHealth
from bluesky_timelapse.suspenders import (
    DailyWindow,
    PollingSignal,
    SpaceThreshold,
    SuspendLowDiskSpace,
    SuspendOutsideWindow,
    SuspendStaleCamera,
    SuspendWhenTiledBacklog,
    SuspensionLog,
    format_size,
    suspension_log,
)
from support import only, validate

GB = 10**9
POLL = 0.02
TIMEOUT = 10.0


# -- helpers ----------------------------------------------------------------------------


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


@pytest.fixture
def messages(RE) -> MessageLog:
    log = MessageLog()
    RE.msg_hook = log
    return log


async def _until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


def until(predicate: Callable[[], bool]) -> Callable[[], Any]:
    """A ``wait_for`` factory: waits (at most TIMEOUT s) until ``predicate()``."""
    return lambda: _until(predicate)


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


def test_disk_hysteresis_and_unreadable_filesystem(RE, install, log, tmp_path):
    disk = FakeDisk(free=1 * GB)
    suspender = install(
        SuspendLowDiskSpace(
            tmp_path, min_free="5GB", resume_free="6GB", usage=disk, poll_interval=60, log=log
        )
    )
    assert suspender.tripped
    disk.free = 5_500_000_000
    suspender.signal.poll()
    assert suspender.tripped  # between min_free and resume_free: still held
    disk.free = 6 * GB
    suspender.signal.poll()
    assert not suspender.tripped
    disk.free = 5_500_000_000
    suspender.signal.poll()
    assert not suspender.tripped  # between them: still running

    def unmounted(path: str) -> FakeUsage:
        raise FileNotFoundError(2, "No such file or directory", path)

    suspender._usage = unmounted
    suspender.signal.poll()
    assert suspender.tripped
    assert suspender.reason == (
        f"free space on {tmp_path} cannot be measured (No such file or directory)"
    )


def test_disk_on_the_real_filesystem(RE, install, tmp_path):
    free = shutil.disk_usage(tmp_path).free
    full = install(SuspendLowDiskSpace(tmp_path, min_free=free + 10**12))
    plenty = install(SuspendLowDiskSpace(tmp_path, min_free="1B"))

    assert full.tripped
    assert re.fullmatch(
        rf"free space on {re.escape(str(tmp_path))} is [\d.]+ [kMGTP]?B, below the "
        r"[\d.]+ [kMGTP]B minimum",
        full.reason,
    )
    assert not plenty.tripped


def test_disk_path_not_created_yet_is_measured_on_its_nearest_parent(RE, install, tmp_path):
    disk = FakeDisk(free=100 * GB)
    install(SuspendLowDiskSpace(tmp_path / "2025" / "06", min_free="5GB", usage=disk))
    assert set(disk.paths) == {str(tmp_path)}


def test_stale_camera_holds_until_a_new_frame(
    RE, documents, install, later, log, recorder, messages
):
    image = Signal(name="cam_image", value="frame-0", timestamp=time.time() - 100)
    suspender = install(SuspendStaleCamera(image, max_age=5, poll_interval=POLL, log=log))
    assert suspender.tripped
    messages.ok = lambda: image.get() != "frame-0"
    later(0.5, lambda: image.put("frame-1"))

    RE(count([det], num=3, delay=0.1))

    assert messages.entries[0] == ("wait_for", False)
    assert all(ok for _, ok in messages.after("wait_for"))
    validate(documents)
    assert len(only(documents, "event")) == 3
    (event, suspended), (event2, resumed) = recorder.events
    assert (event, event2) == ("suspended", "resumed")
    assert re.fullmatch(
        r"cam_image has not updated for 100\.\d s, longer than the 5 s maximum", suspended
    )
    assert re.fullmatch(r"cam_image updated again after 100\.\d s", resumed)


def test_stale_camera_trips_when_frames_stop(RE, install, log):
    now = [1000.0]
    image = Signal(name="cam_image", value=0, timestamp=now[0])
    suspender = install(
        SuspendStaleCamera(image, max_age=30, poll_interval=60, clock=lambda: now[0], log=log)
    )
    assert not suspender.tripped
    now[0] = 1031.0
    suspender.signal.poll()
    assert suspender.reason == "cam_image has not updated for 31.0 s, longer than the 30 s maximum"
    image.put(1)  # the update alone resumes, without waiting for a poll
    assert not suspender.tripped


def test_outside_window_holds_until_the_window_opens(
    RE, documents, install, later, log, recorder, messages
):
    berlin = ZoneInfo("Europe/Berlin")
    clock = FakeClock(datetime(2025, 6, 1, 5, 59, 59, tzinfo=berlin))
    suspender = install(
        SuspendOutsideWindow(
            ("06:00", "20:00"), timezone="Europe/Berlin", poll_interval=POLL, now=clock, log=log
        )
    )
    assert suspender.tripped
    messages.ok = lambda: suspender.window.contains(clock.now)
    later(0.5, lambda: setattr(clock, "now", datetime(2025, 6, 1, 4, 0, tzinfo=UTC)))

    RE(count([det], num=3, delay=0.1))

    assert all(ok for _, ok in messages.after("wait_for"))
    assert len(only(documents, "event")) == 3
    assert recorder.events == [
        (
            "suspended",
            "it is 05:59:59 in Europe/Berlin, outside the daily window from 06:00 to 20:00 "
            "(Europe/Berlin); waiting until 06:00",
        ),
        (
            "resumed",
            "it is 06:00:00 in Europe/Berlin, inside the daily window from 06:00 to 20:00 "
            "(Europe/Berlin)",
        ),
    ]


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


def test_suspension_log_subscribe_unsubscribe_and_failing_callbacks(caplog):
    log = SuspensionLog()
    calls: list[str] = []

    def broken(event: str, reason: str, when: datetime) -> None:
        raise RuntimeError("boom")

    log.subscribe(broken)
    token = log.subscribe(lambda event, reason, when: calls.append(f"{event}: {reason}"))
    when = datetime(2025, 1, 1, tzinfo=UTC)
    log.emit("suspended", "why", when)
    log.unsubscribe(token)
    log.unsubscribe(token)  # twice is harmless
    log.emit("resumed", "because")

    assert calls == ["suspended: why"]
    assert "suspension log callback" in caplog.text
    with pytest.raises(ValueError, match="callback 42 is not callable; allowed: a callable"):
        log.subscribe(42)  # type: ignore[arg-type]


# -- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5_000_000_000, SpaceThreshold(nbytes=5 * GB)),
        ("5GB", SpaceThreshold(nbytes=5 * GB)),
        ("1.5 gb", SpaceThreshold(nbytes=1_500_000_000)),
        ("500MiB", SpaceThreshold(nbytes=500 * 2**20, binary=True)),
        ("2 TiB", SpaceThreshold(nbytes=2 * 2**40, binary=True)),
        ("750kB", SpaceThreshold(nbytes=750_000)),
        ("1000", SpaceThreshold(nbytes=1000)),
        ("10%", SpaceThreshold(percent=10.0)),
        (" 2.5 % ", SpaceThreshold(percent=2.5)),
    ],
)
def test_space_threshold_forms(value, expected):
    assert SpaceThreshold.parse(value) == expected


@pytest.mark.parametrize(
    "value", ["5 parsecs", "GB", "", "-5GB", "0%", "100%", "0.1B", 0, -1, True, float("nan")]
)
def test_space_threshold_rejects(value):
    message = (
        f"min_free {value!r} is invalid; allowed: a number of bytes > 0, a size such as "
        "'5GB' or '500MiB' (units B, kB, MB, GB, TB, KiB, MiB, GiB, TiB) or a percentage "
        "of the filesystem such as '10%' (above 0% and below 100%)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        SpaceThreshold.parse(value)


def test_low_disk_space_thresholds(tmp_path):
    disk = FakeDisk(free=100 * GB, total=200 * GB)
    default = SuspendLowDiskSpace(tmp_path, min_free="10%", usage=disk)
    assert default.resume_free == SpaceThreshold(percent=11.0)
    mixed = SuspendLowDiskSpace(tmp_path, min_free="5GB", resume_free="5%", usage=disk)
    assert mixed.resume_free.bytes_of(disk.total) == 10 * GB

    message = (
        "resume_free '4GB' (4.0 GB) is below min_free '5%' (5% (10.0 GB)); "
        "allowed: an amount >= min_free"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        SuspendLowDiskSpace(tmp_path, min_free="5%", resume_free="4GB", usage=disk)
    with pytest.raises(ValueError, match=r"^resume_free 'lots' is invalid; allowed: "):
        SuspendLowDiskSpace(tmp_path, min_free="5GB", resume_free="lots", usage=disk)


@pytest.mark.parametrize(
    ("nbytes", "binary", "text"),
    [
        (0, False, "0 B"),
        (999, False, "999 B"),
        (1_234_567_890, False, "1.2 GB"),
        (1_500_000_000_000, False, "1.5 TB"),
        (500 * 2**20, True, "500.0 MiB"),
        (1023, True, "1023 B"),
    ],
)
def test_format_size(nbytes, binary, text):
    assert format_size(nbytes, binary=binary) == text


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("poll_interval", {"poll_interval": 0}, "poll_interval 0 is invalid"),
        ("sleep", {"sleep": -1}, "sleep -1 is invalid; allowed: a number of seconds >= 0"),
    ],
)
def test_suspender_option_checks(tmp_path, name, kwargs, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        SuspendLowDiskSpace(tmp_path, min_free="1B", usage=FakeDisk(GB), **kwargs)


def test_stale_camera_max_age_check():
    message = "max_age inf is invalid; allowed: a number of seconds > 0"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        SuspendStaleCamera(Signal(name="cam_image"), max_age=float("inf"))


def test_daily_window_parses_times_and_zones():
    window = DailyWindow.parse(("6:00", "20:30:15"), "Europe/Berlin")
    assert window == DailyWindow(
        time_of_day(6), time_of_day(20, 30, 15), ZoneInfo("Europe/Berlin")
    )
    assert str(window) == "from 06:00 to 20:30:15 (Europe/Berlin)"
    assert DailyWindow.parse([time_of_day(22), "06:00"], "UTC").start == time_of_day(22)
    local = DailyWindow.parse(("06:00", "20:00"))
    assert local.zone == ZoneInfo(tzlocal.get_localzone_name())


@pytest.mark.parametrize(
    ("between", "timezone", "message"),
    [
        (
            ("25:00", "20:00"),
            "UTC",
            "window time '25:00' is invalid; allowed: 'HH:MM' or 'HH:MM:SS' on the "
            "24-hour clock, e.g. '06:00' or '20:30:00'",
        ),
        (
            ("06:00", "8pm"),
            "UTC",
            "window time '8pm' is invalid; allowed: 'HH:MM' or 'HH:MM:SS' on the "
            "24-hour clock, e.g. '06:00' or '20:30:00'",
        ),
        (
            ("06:60", "20:00"),
            "UTC",
            "window time '06:60' is invalid; allowed: 'HH:MM' or 'HH:MM:SS' on the "
            "24-hour clock, e.g. '06:00' or '20:30:00'",
        ),
        (
            "06:00-20:00",
            "UTC",
            "between '06:00-20:00' is invalid; allowed: a pair of times (start, end) such "
            "as ('06:00', '20:00')",
        ),
        (
            ("06:00",),
            "UTC",
            "between ('06:00',) is invalid; allowed: a pair of times (start, end) such "
            "as ('06:00', '20:00')",
        ),
        (
            ("06:00", "06:00"),
            "UTC",
            "between ('06:00', '06:00') is an empty window; allowed: two different times "
            "(an end earlier than the start spans midnight)",
        ),
        (
            ("06:00", "20:00"),
            "Mars/Olympus_Mons",
            "timezone 'Mars/Olympus_Mons' is unknown; allowed: 'local' or an IANA time "
            "zone name such as 'Europe/Berlin'",
        ),
    ],
)
def test_daily_window_rejects(between, timezone, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        DailyWindow.parse(between, timezone)


@pytest.mark.parametrize(
    ("between", "when", "inside"),
    [
        (("06:00", "20:00"), datetime(2025, 6, 1, 6, 0), True),
        (("06:00", "20:00"), datetime(2025, 6, 1, 19, 59, 59), True),
        (("06:00", "20:00"), datetime(2025, 6, 1, 20, 0), False),
        (("06:00", "20:00"), datetime(2025, 6, 1, 5, 59, 59), False),
        (("20:00", "06:00"), datetime(2025, 6, 1, 23, 0), True),
        (("20:00", "06:00"), datetime(2025, 6, 1, 3, 0), True),
        (("20:00", "06:00"), datetime(2025, 6, 1, 12, 0), False),
        # Berlin springs forward on 2024-03-31 at 01:00 UTC: 04:30 UTC is 06:30 CEST.
        (("06:00", "20:00"), datetime(2024, 3, 31, 4, 30, tzinfo=UTC), True),
        (("06:00", "20:00"), datetime(2024, 3, 30, 4, 30, tzinfo=UTC), False),
        # ...and falls back on 2024-10-27: 04:30 UTC is 05:30 CET.
        (("06:00", "20:00"), datetime(2024, 10, 27, 4, 30, tzinfo=UTC), False),
        (("06:00", "20:00"), datetime(2024, 10, 26, 4, 30, tzinfo=UTC), True),
        # A start inside the skipped hour opens at the first time after it.
        (("02:30", "04:00"), datetime(2024, 3, 31, 1, 0, tzinfo=UTC), True),
    ],
)
def test_daily_window_contains_on_the_wall_clock(between, when, inside):
    window = DailyWindow.parse(between, "Europe/Berlin")
    assert window.contains(when) is inside


class FakeSink:
    """Just the health() a TiledSink offers."""

    def __init__(self, depth):
        self.depth = depth

    def health(self):
        return SinkHealth(self.depth, None, 1, "ConnectError: refused", False, time.time())


def test_tiled_backlog_holds_the_plan_until_it_drains(RE):
    sink = FakeSink(depth=500)  # already too far behind when the plan starts
    log = SuspensionLog()
    events = []
    log.subscribe(lambda event, reason, when: events.append((event, reason)))
    suspender = SuspendWhenTiledBacklog(sink, max_documents=100, poll_interval=0.05, log=log)
    RE.install_suspender(suspender)
    threading.Timer(0.3, setattr, [sink, "depth", 60]).start()  # not yet below resume_below=50
    threading.Timer(0.6, setattr, [sink, "depth", 10]).start()
    started = time.monotonic()
    try:
        RE(count([det], num=2))
    finally:
        RE.remove_suspender(suspender)
    assert time.monotonic() - started >= 0.5
    assert [event for event, _ in events] == ["suspended", "resumed"]
    assert events[0][1] == (
        "500 documents wait to be sent to Tiled, more than the 100 allowed "
        "(last error: ConnectError: refused)"
    )
    assert events[1][1] == "the Tiled backlog is down to 10 documents"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_documents": 0}, "max_documents 0 is invalid; allowed: an integer >= 1"),
        (
            {"max_documents": 10, "resume_below": 11},
            "resume_below 11 is invalid; allowed: an integer from 0 to max_documents (10)",
        ),
    ],
)
def test_tiled_backlog_thresholds_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SuspendWhenTiledBacklog(FakeSink(0), **kwargs)
