"""The ophyd-async folder camera with real files, a real RunEngine and a real Tiled server."""

import os
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from bluesky import plan_stubs as bps
from bluesky import preprocessors as bpp
from bluesky.plans import count
from bluesky.utils import FailedStatus
from bluesky_tiled_plugins import TiledWriter
from ophyd_async.core import StaticPathProvider, UUIDFilenameProvider, init_devices
from PIL import Image

from bluesky_timelapse import plugins
from bluesky_timelapse.async_devices import AsyncFolderCamera
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from folder_files import (
    EXTENSIONS,
    TEMPLATE,
    AnnouncingCamera,
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


def template_in(folder: Path, image_format: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / TEMPLATE).replace("{ext}", EXTENSIONS[image_format])


def async_camera(
    copies: Path, folder: Path, image_format: str = "tiff", **kwargs
) -> AsyncFolderCamera:
    with init_devices():
        acam = AsyncFolderCamera(
            StaticPathProvider(UUIDFilenameProvider(), copies),
            template=template_in(folder, image_format),
            **kwargs,
        )
    return acam


def announce_requests(camera: AsyncFolderCamera) -> threading.Semaphore:
    """Released each time the camera starts waiting for a file (its program then writes one)."""
    triggered = threading.Semaphore(0)
    feed = camera.source.feed
    request = feed.request

    def announcing():
        future = request()
        triggered.release()
        return future

    feed.request = announcing
    return triggered


@pytest.mark.parametrize(
    ("image_format", "writer", "watch"),
    [
        ("tiff", "hdf5", "inotify"),
        ("png", "tiff", "inotify"),
        ("jpeg", "hdf5", "inotify"),
        ("tiff", "tiff", "polling"),
        ("png", "hdf5", "polling"),
    ],
)
def test_count_copies_each_new_file_in_order_and_tiled_serves_them(
    RE, documents, tiled_client, data_root, tmp_path, image_format, writer, watch
):
    RE.subscribe(TiledWriter(tiled_client))
    clock = Clock(datetime(2025, 6, 1, 23, 59, 0))
    camera = async_camera(
        data_root / f"folder-{image_format}-{writer}-{watch}",
        tmp_path / "frames",
        image_format,
        writer=writer,
        clock=clock,
        timeout=120,
        **(POLLING if watch == "polling" else {}),
    )
    program = CameraProgram(tmp_path / "frames", image_format, count=4, clock=clock)
    thread = program.run(announce_requests(camera))
    (uid,) = RE(count([camera], num=4)).run_start_uids
    thread.join(60)
    assert program.error is None
    expected = np.stack([w.frame for w in program.written])

    validate(documents)
    events = only(documents, "event")
    assert [Path(e["data"]["acam-file"]) for e in events] == [w.path for w in program.written]
    assert {w.timestamp.date() for w in program.written} == {
        datetime(2025, 6, 1).date(),
        datetime(2025, 6, 2).date(),
    }
    for event, written in zip(events, program.written, strict=True):
        assert event["timestamps"]["acam-file"] == os.stat(written.path).st_mtime
        assert event["data"]["acam-camera_name"] == "pi-north"
        assert event["data"]["acam-timestamp"] == written.timestamp.timestamp()
        assert event["data"]["acam-exposure_ms"] == written.exposure_ms
    (descriptor,) = only(documents, "descriptor")
    keys = descriptor["data_keys"]
    assert keys["acam"]["shape"] == [1, *expected.shape[1:]]
    assert keys["acam"]["dtype_numpy"] == expected.dtype.str
    assert (keys["acam-exposure_ms"]["dtype"], keys["acam-camera_name"]["dtype"]) == (
        "integer",
        "string",
    )
    assert descriptor["configuration"]["acam"]["data"]["acam-folder_mode"] == "next"

    (stream_resource,) = only(documents, "stream_resource")
    assert [d["indices"] for d in only(documents, "stream_datum")] == [
        {"start": i, "stop": i + 1} for i in range(4)
    ]
    np.testing.assert_array_equal(read_frames_from_stream_resource(stream_resource, 4), expected)

    run = tiled_client[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    np.testing.assert_array_equal(run["primary"]["acam"].read().reshape(expected.shape), expected)


def test_mixed_with_the_v1_folder_camera_and_sim_camera_in_one_count(
    RE, documents, tiled_client, data_root, tmp_path
):
    RE.subscribe(TiledWriter(tiled_client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    v1_clock = Clock(datetime(2025, 6, 1, 23, 59))
    async_clock = Clock(datetime(2025, 6, 1, 23, 59))
    v1 = AnnouncingCamera(
        name="cam",
        template=template_in(data_root / "mixed-folder" / "v1", "tiff"),
        state_file=tmp_path / "state.json",
        clock=v1_clock,
        timeout=120,
    )
    sim = SimCamera(
        name="sim", root=str(data_root), write_path_template="mixed-folder/sim", shape=(24, 32)
    )
    acam = async_camera(
        data_root / "mixed-folder" / "copies", tmp_path / "frames", "png", clock=async_clock
    )
    v1_program = CameraProgram(data_root / "mixed-folder" / "v1", "tiff", 3, v1_clock)
    async_program = CameraProgram(tmp_path / "frames", "png", 3, async_clock)
    threads = [v1_program.run(v1.triggered), async_program.run(announce_requests(acam))]
    (uid,) = RE(count([v1, sim, acam], num=3)).run_start_uids
    for thread in threads:
        thread.join(60)
    assert v1_program.error is None and async_program.error is None

    validate(documents)
    (descriptor,) = only(documents, "descriptor")
    assert {"cam_image", "cam_file", "sim_image", "acam", "acam-file"} <= set(
        descriptor["data_keys"]
    )
    events = only(documents, "event")
    assert [Path(e["data"]["acam-file"]) for e in events] == [
        w.path for w in async_program.written
    ]
    assert [Path(e["data"]["cam_file"]) for e in events] == [w.path for w in v1_program.written]
    (stream_resource,) = only(documents, "stream_resource")
    expected = np.stack([w.frame for w in async_program.written])
    np.testing.assert_array_equal(read_frames_from_stream_resource(stream_resource, 3), expected)
    primary = tiled_client[uid]["primary"]
    np.testing.assert_array_equal(primary["acam"].read().reshape(expected.shape), expected)
    np.testing.assert_array_equal(
        primary["cam_image"].read(), np.stack([w.frame for w in v1_program.written])
    )
    assert primary["sim_image"].shape == (3, 24, 32)


@pytest.mark.parametrize("files_before", [0, 1], ids=["first-frame", "second-frame"])
@pytest.mark.parametrize("watch", ["inotify", "polling"])
def test_a_timeout_fails_the_plan_at_once_naming_directory_and_template(
    RE, documents, tmp_path, files_before, watch
):
    clock = Clock(datetime(2025, 6, 1, 23, 59))
    # Room for the first file to settle (0.3 s) and be taken, none for a second one.
    polling = {"use_polling": True, "poll_interval": 0.1, "settle_time": 0.3}
    camera = async_camera(
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
    camera = async_camera(tmp_path / "copies", tmp_path / "frames", "tiff", mode="latest")
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
    camera = async_camera(tmp_path / "copies", tmp_path / "frames", "png", timeout=120)
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
        ({"timeout": 0}, r"timeout 0 is invalid; allowed: a number of seconds > 0"),
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
    assert plugins.load(plugins.DEVICES, "AsyncFolderCamera") is AsyncFolderCamera


def test_a_timelapse_takes_one_new_file_per_slot(RE, documents, tmp_path):
    from bluesky_timelapse.plans import every, timelapse

    clock = Clock(datetime(2025, 6, 1, 23, 59, 0))
    camera = async_camera(
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
