"""Low disk space: thresholds, sizes, the suspender (suspenders/_disk.py).

Conditions are made bad and good through injected measurements (a fake disk, a
fake clock) or ophyd puts from timers; every assertion is on the recorded order
of messages and suspensions, never on how long something took.
"""

from __future__ import annotations

import re
import shutil

import pytest

from bluesky_timelapse.suspenders import SpaceThreshold, SuspendLowDiskSpace, format_size
from suspender_fakes import GB, FakeDisk, FakeUsage

# -- holding a plan ---------------------------------------------------------------------


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
