"""ingest_backlog: files written while nothing acquired, emitted once (plans/_backlog.py)."""

import os
import time
from pathlib import Path

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
import numpy as np
import pytest
import tifffile
from ophyd_async.core import StaticPathProvider, UUIDFilenameProvider, init_devices

from bluesky_timelapse.async_devices import AsyncFolderCamera
from bluesky_timelapse.devices import FolderCamera, SimCamera
from bluesky_timelapse.plans import HasBacklog, ingest_backlog
from folder_files import image_bytes, wait_for, write_slowly
from support import only, read_frames_from_stream_resource, validate

DAY = "pi/2025/06/01"


@pytest.fixture
def frames(tmp_path) -> Path:
    (tmp_path / "frames" / DAY).mkdir(parents=True)
    return tmp_path / "frames"


def camera_for(tmp_path, frames):
    template = str(frames / "{camera_name}/%Y/%m/%d/{t:%H%M%S}_{exposure_ms:d}.tiff")
    return FolderCamera(name="cam", template=template, state_file=tmp_path / "state.json")


def drop(frames: Path, name: str, seed: int, age: float) -> Path:
    """A complete file, last modified ``age`` seconds ago."""
    path = frames / DAY / name
    write_slowly(path, image_bytes("tiff", seed)[0], chunks=1, pause=0)
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def test_the_backlog_is_emitted_once_in_order(RE, documents, tmp_path, frames):
    # Written out of name order: the order is when each file was made.
    paths = [
        drop(frames, "120500_30.tiff", 2, age=100),
        drop(frames, "120000_10.tiff", 0, age=300),
        drop(frames, "120200_20.tiff", 1, age=200),
    ]
    (frames / DAY / "readme.txt").write_text("not a frame")
    camera = camera_for(tmp_path, frames)

    result = RE(ingest_backlog(camera, md={"sample": "basil"}))
    assert result.plan_result == 3
    validate(documents)
    (start,) = only(documents, "start")
    assert start["plan_name"] == "ingest_backlog"
    assert start["sample"] == "basil"
    assert start["num_points"] == 3
    events = only(documents, "event")
    in_order = [paths[1], paths[2], paths[0]]
    assert [Path(e["data"]["cam_file"]) for e in events] == in_order
    assert [e["data"]["cam_exposure_ms"] for e in events] == [10, 20, 30]
    for resource, path in zip(only(documents, "resource"), in_order, strict=True):
        name = resource["resource_kwargs"]["filename"]
        read = tifffile.imread(Path(resource["root"], resource["resource_path"], name))
        np.testing.assert_array_equal(read, tifffile.imread(path))

    documents.clear()
    assert RE(ingest_backlog(camera)).plan_result == 0
    assert documents == []  # no run at all

    # A new camera object (after a restart) reads what was emitted from the state file.
    later = drop(frames, "121000_40.tiff", 3, age=50)
    again = camera_for(tmp_path, frames)
    assert RE(ingest_backlog(again)).plan_result == 1
    assert [Path(e["data"]["cam_file"]) for e in only(documents, "event")] == [later]


def test_files_still_being_written_wait_for_a_later_call(RE, documents, tmp_path, frames):
    drop(frames, "120000_10.tiff", 0, age=100)
    fresh = drop(frames, "120100_10.tiff", 1, age=-60)  # modified "now", on a slow machine too
    camera = camera_for(tmp_path, frames)
    assert RE(ingest_backlog(camera)).plan_result == 1
    old = time.time() - 10
    os.utime(fresh, (old, old))
    documents.clear()
    assert RE(ingest_backlog(camera)).plan_result == 1
    assert [Path(e["data"]["cam_file"]) for e in only(documents, "event")] == [fresh]


def test_files_taken_by_triggers_are_not_backlog(RE, tmp_path, frames):
    drop(frames, "120000_10.tiff", 0, age=100)
    camera = camera_for(tmp_path, frames)
    camera.stage()
    try:
        status = camera.trigger()
        write_slowly(frames / DAY / "120100_10.tiff", image_bytes("tiff", 1)[0])
        status.wait(60)
    finally:
        camera.unstage()
    deadline = time.monotonic() + 60
    while camera.backlog() and time.monotonic() < deadline:  # recorded after the trigger
        time.sleep(0.02)
    assert camera.backlog() == []


def wait_for_backlog(camera, expected):
    deadline = time.monotonic() + 60
    while camera.backlog() != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert camera.backlog() == expected


def test_a_file_between_triggers_is_skipped_once_a_trigger_takes_a_newer_one(tmp_path, frames):
    camera = camera_for(tmp_path, frames)
    camera.stage()
    try:
        status = camera.trigger()
        write_slowly(frames / DAY / "120000_10.tiff", image_bytes("tiff", 0)[0])
        status.wait(60)
        wait_for_backlog(camera, [])  # the trigger's file is recorded as used
        between = frames / DAY / "120100_10.tiff"
        write_slowly(between, image_bytes("tiff", 1)[0])
        wait_for_backlog(camera, [between])  # complete, and no trigger waits for it
        status = camera.trigger()
        taken = frames / DAY / "120200_10.tiff"
        write_slowly(taken, image_bytes("tiff", 2)[0])
        status.wait(60)
        assert camera.file.get() == str(taken)  # not the file written between triggers
    finally:
        camera.unstage()
    wait_for_backlog(camera, [])  # older than the newest file used: never emitted


def test_a_missing_directory_and_a_wrong_camera_are_refused(RE, tmp_path):
    camera = FolderCamera(
        name="cam", template=str(tmp_path / "gone/{t:%H%M%S}.tiff"), state_file=tmp_path / "s"
    )
    with pytest.raises(FileNotFoundError, match="gone' of template"):
        RE(ingest_backlog(camera))
    sim = SimCamera(name="sim", root=str(tmp_path), write_path_template="sim")
    with pytest.raises(
        TypeError,
        match=r"ingest_backlog needs a camera with a backlog \(a FolderCamera or an AsyncFolderCamera\); 'sim' is a SimCamera",
    ):
        RE(ingest_backlog(sim))


def test_a_damaged_state_file_is_named(RE, tmp_path, frames):
    (tmp_path / "state.json").write_text("{not json")
    drop(frames, "120000_10.tiff", 0, age=100)
    with pytest.raises(ValueError, match=r"state file .*state.json' is unreadable"):
        RE(ingest_backlog(camera_for(tmp_path, frames)))


def async_camera_for(tmp_path, frames, **kwargs):
    template = str(frames / "{camera_name}/%Y/%m/%d/{t:%H%M%S}_{exposure_ms:d}.tiff")
    with init_devices():
        acam = AsyncFolderCamera(
            StaticPathProvider(UUIDFilenameProvider(), tmp_path / "copies"),
            template=template,
            state_file=tmp_path / "async-state.json",
            writer="hdf5",
            **kwargs,
        )
    return acam


def test_both_folder_cameras_have_a_backlog(tmp_path, frames):
    assert isinstance(camera_for(tmp_path, frames), HasBacklog)
    assert isinstance(async_camera_for(tmp_path, frames), HasBacklog)


def test_the_backlog_of_an_async_camera_is_emitted_once_in_order(RE, documents, tmp_path, frames):
    paths = [
        drop(frames, "120500_30.tiff", 2, age=100),
        drop(frames, "120000_10.tiff", 0, age=300),
        drop(frames, "120200_20.tiff", 1, age=200),
    ]
    (frames / DAY / "readme.txt").write_text("not a frame")
    acam = async_camera_for(tmp_path, frames)

    result = RE(ingest_backlog(acam, md={"sample": "basil"}))
    assert result.plan_result == 3
    validate(documents)
    (start,) = only(documents, "start")
    assert start["plan_name"] == "ingest_backlog"
    assert start["sample"] == "basil"
    assert start["num_points"] == 3
    assert start["folder_template"] == acam.pattern.template
    events = only(documents, "event")
    in_order = [paths[1], paths[2], paths[0]]
    assert [Path(e["data"]["acam-file"]) for e in events] == in_order
    assert [e["data"]["acam-exposure_ms"] for e in events] == [10, 20, 30]
    assert [e["timestamps"]["acam-file"] for e in events] == [
        os.stat(path).st_mtime for path in in_order
    ]
    (stream_resource,) = only(documents, "stream_resource")
    np.testing.assert_array_equal(
        read_frames_from_stream_resource(stream_resource, 3),
        np.stack([tifffile.imread(path) for path in in_order]),
    )
    assert [d["indices"] for d in only(documents, "stream_datum")] == [
        {"start": i, "stop": i + 1} for i in range(3)
    ]

    documents.clear()
    assert RE(ingest_backlog(acam)).plan_result == 0
    assert documents == []  # no run at all

    # A new camera object (after a restart) reads what was emitted from the state file.
    later = drop(frames, "121000_40.tiff", 3, age=50)
    again = async_camera_for(tmp_path, frames)
    assert RE(ingest_backlog(again)).plan_result == 1
    validate(documents)
    assert [Path(e["data"]["acam-file"]) for e in only(documents, "event")] == [later]


def test_files_taken_by_async_triggers_are_not_backlog(RE, documents, tmp_path, frames):
    before = drop(frames, "120000_10.tiff", 0, age=100)
    acam = async_camera_for(tmp_path, frames, mode="latest")
    assert acam.backlog() == [before]
    taken = frames / DAY / "120100_10.tiff"

    @bpp.stage_decorator([acam])
    @bpp.run_decorator()
    def plan():
        write_slowly(taken, image_bytes("tiff", 1)[0])
        wait_for(lambda: acam.source.feed.latest == taken)
        yield from bps.trigger_and_read([acam])

    RE(plan())
    validate(documents)
    (event,) = only(documents, "event")
    assert event["data"]["acam-file"] == str(taken)
    # Recorded once written: the older file is never emitted either.
    assert acam.backlog() == []
    assert RE(ingest_backlog(acam)).plan_result == 0


def test_the_async_camera_names_its_default_state_file_after_its_name(
    tmp_path, frames, monkeypatch
):
    monkeypatch.setenv("BLUESKY_TIMELAPSE_DIR", str(tmp_path / "data"))
    template = str(frames / "{camera_name}/%Y/%m/%d/{t:%H%M%S}_{exposure_ms:d}.tiff")
    with init_devices():
        pi = AsyncFolderCamera(
            StaticPathProvider(UUIDFilenameProvider(), tmp_path), template=template
        )
    assert pi.source.record.path == tmp_path / "data" / "folder_cameras" / "pi.json"
