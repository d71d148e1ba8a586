"""The folder camera as an ophyd-async detector, with real files and a real RunEngine (async_devices/_folder_camera.py)."""

import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from bluesky import plan_stubs as bps
from bluesky import preprocessors as bpp
from bluesky.plans import count
from bluesky.utils import FailedStatus
from ophyd_async.core import StaticPathProvider, UUIDFilenameProvider, init_devices
from PIL import Image

from async_cameras import announce_requests, async_folder_camera
from bluesky_timelapse import plugins
from bluesky_timelapse.async_devices import AsyncFolderCamera
from folder_files import (
    CameraProgram,
    Clock,
    image_bytes,
    wait_for,
    write_slowly,
)
from support import only, read_frames_from_stream_resource, validate

POLLING = {"use_polling": True, "poll_interval": 0.1, "settle_time": 1.0}


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """The cameras' default state files go below the test's directory."""
    monkeypatch.setenv("BLUESKY_TIMELAPSE_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.mark.parametrize("files_before", [0, 1], ids=["first-frame", "second-frame"])
@pytest.mark.parametrize("watch", ["inotify", "polling"])
def test_a_timeout_fails_the_plan_at_once_naming_directory_and_template(
    RE, documents, tmp_path, files_before, watch
):
    clock = Clock(datetime(2025, 6, 1, 23, 59))
    # Room for the first file to settle (0.3 s) and be taken, none for a second one.
    polling = {"use_polling": True, "poll_interval": 0.1, "settle_time": 0.3}
    camera = async_folder_camera(
        tmp_path / "copies",
        tmp_path / "frames",
        "jpeg",
        timeout=2.0,
        clock=clock,
        **(polling if watch == "polling" else {}),
    )
    program = CameraProgram(tmp_path / "frames", "jpeg", count=files_before, clock=clock)
    thread = program.run(announce_requests(camera))
    with pytest.raises(FailedStatus) as raised:
        RE(count([camera], num=2))
    thread.join(60)
    assert program.error is None

    cause = raised.value.__cause__
    assert isinstance(cause, TimeoutError)
    assert str(cause) == (
        f"acam: no new file matching {camera.pattern.template!r} was complete in "
        f"{str(tmp_path / 'frames')!r} within 2 s "
        + ("(polling every 0.1 s)" if watch == "polling" else "(inotify)")
    )
    validate(documents)
    (start,) = only(documents, "start")
    (stop,) = only(documents, "stop")
    assert stop["exit_status"] == "fail"
    assert len(only(documents, "event")) == files_before
    # The trigger fails with the wait for the file, not after ophyd-async's 10 s more.
    assert stop["time"] - start["time"] < 10.0


def test_latest_takes_the_newest_file_completed_since_stage(RE, documents, tmp_path):
    camera = async_folder_camera(tmp_path / "copies", tmp_path / "frames", "tiff", mode="latest")
    day = tmp_path / "frames/pi/2025/06/01"
    write_slowly(day / "20250601110000_10.tiff", image_bytes("tiff", 0)[0])  # before stage
    paths = [day / f"2025060112000{i}_{i + 1}.tiff" for i in range(3)]

    @bpp.stage_decorator([camera])
    @bpp.run_decorator()
    def plan():
        for index, path in enumerate(paths):
            write_slowly(path, image_bytes("tiff", index)[0])
        wait_for(lambda: camera.source.feed.latest == paths[-1])
        yield from bps.trigger_and_read([camera])

    RE(plan())
    (event,) = only(documents, "event")
    assert event["data"]["acam-file"] == str(paths[-1])
    assert event["data"]["acam-exposure_ms"] == 3
    (stream_resource,) = only(documents, "stream_resource")
    np.testing.assert_array_equal(
        read_frames_from_stream_resource(stream_resource, 1)[0], image_bytes("tiff", 2)[1]
    )


def test_a_frame_unlike_the_first_fails_the_plan(RE, documents, tmp_path):
    camera = async_folder_camera(tmp_path / "copies", tmp_path / "frames", "png", timeout=120)
    day = tmp_path / "frames/pi/2025/06/01"
    triggered = announce_requests(camera)

    def write_two() -> None:
        assert triggered.acquire(timeout=120)
        write_slowly(day / "20250601120000_1.png", image_bytes("png", 0)[0])
        assert triggered.acquire(timeout=120)
        day.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8)).save(day / "20250601120001_1.png")

    thread = threading.Thread(target=write_two, daemon=True)
    thread.start()
    with pytest.raises(FailedStatus) as raised:
        RE(count([camera], num=2))
    thread.join(60)
    assert isinstance(raised.value.__cause__, ValueError)
    assert "shape (8, 8) and dtype 'uint8', unlike the run's first file" in str(
        raised.value.__cause__
    )
    assert len(only(documents, "event")) == 1


def test_a_missing_directory_fails_at_stage_naming_it(RE, tmp_path):
    with init_devices():
        acam = AsyncFolderCamera(
            StaticPathProvider(UUIDFilenameProvider(), tmp_path / "copies"),
            template=str(tmp_path / "nowhere/%Y/{t:%H%M%S}.tiff"),
        )
    with pytest.raises(FailedStatus) as raised:
        RE(count([acam], num=1))
    assert isinstance(raised.value.__cause__, FileNotFoundError)
    assert f"directory '{tmp_path}/nowhere' of template" in str(raised.value.__cause__)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "oldest"}, "mode 'oldest' is not supported; allowed: next, latest"),
        ({"timeout": 0}, r"timeout 0 is invalid; allowed: a finite number of seconds > 0"),
        ({"poll_interval": float("nan")}, r"poll_interval nan is invalid"),
        ({"template": "frames/{t:%H}.tiff"}, "is not an absolute path"),
        ({"template": "/data/{file}_{trigger}.tiff"}, r"field\(s\) file, trigger clash with"),
        ({"writer": "gif"}, "'gif'"),
    ],
)
def test_bad_arguments_are_refused_at_construction(tmp_path, kwargs, message):
    options = {"template": str(tmp_path / "{t:%H%M%S}.tiff")} | kwargs
    with pytest.raises(ValueError, match=message):
        AsyncFolderCamera(StaticPathProvider(UUIDFilenameProvider(), tmp_path), **options)


def test_the_camera_is_registered_as_a_device_plugin():
    assert plugins.load_plugin(plugins.DEVICES, "AsyncFolderCamera") is AsyncFolderCamera


def test_a_timelapse_takes_one_new_file_per_slot(RE, documents, tmp_path):
    from bluesky_timelapse.plans import timelapse
    from bluesky_timelapse.schedules import every

    clock = Clock(datetime(2025, 6, 1, 23, 59, 0))
    camera = async_folder_camera(
        tmp_path / "copies", tmp_path / "frames", "tiff", writer="hdf5", clock=clock, timeout=120
    )
    program = CameraProgram(tmp_path / "frames", "tiff", count=2, clock=clock)
    thread = program.run(announce_requests(camera))
    RE(timelapse([camera], every(0.3, count=2).to_dict(), grace=3600, store=str(tmp_path / "s")))
    thread.join(60)
    assert program.error is None

    validate(documents)
    assert [run["slot_index"] for run in only(documents, "start")] == [0, 1]
    assert [stop["exit_status"] for stop in only(documents, "stop")] == ["success"] * 2
    events = only(documents, "event")
    assert [Path(e["data"]["acam-file"]) for e in events] == [w.path for w in program.written]
    resources = only(documents, "stream_resource")  # one new array per slot's run
    for stream_resource, written in zip(resources, program.written, strict=True):
        np.testing.assert_array_equal(
            read_frames_from_stream_resource(stream_resource, 1)[0], written.frame
        )
