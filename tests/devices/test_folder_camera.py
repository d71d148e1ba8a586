"""FolderCamera with real files, real watchdog and a real RunEngine (devices/_folder_camera.py)."""

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import tifffile
from bluesky.plans import count
from ophyd.utils import WaitTimeoutError
from PIL import Image

from bluesky_timelapse.devices import FolderCamera
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
from support import only, read_frames_from_resource, validate

WATCHES = {
    "inotify": {},
    "polling": {"use_polling": True, "poll_interval": 0.1, "settle_time": 1.0},
}


def camera_for(tmp_path, image_format="tiff", camera_class=FolderCamera, **kwargs):
    template = str(tmp_path / "frames" / TEMPLATE).replace("{ext}", EXTENSIONS[image_format])
    (tmp_path / "frames").mkdir(exist_ok=True)
    options = {"name": "cam", "template": template, "state_file": tmp_path / "state.json"}
    return camera_class(**(options | kwargs))


def read_file(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".tiff":
        return tifffile.imread(path)
    return np.asarray(Image.open(path))


@pytest.mark.parametrize("image_format", EXTENSIONS)
@pytest.mark.parametrize("watch", WATCHES)
def test_count_takes_each_new_file_once_complete_across_midnight(
    RE, documents, tmp_path, image_format, watch
):
    clock = Clock(datetime(2025, 6, 1, 23, 59, 0))
    camera = camera_for(
        tmp_path, image_format, AnnouncingCamera, clock=clock, timeout=120, **WATCHES[watch]
    )
    program = CameraProgram(tmp_path / "frames", image_format, count=4, clock=clock)
    thread = program.run(camera.triggered)
    RE(count([camera], num=4))
    thread.join(60)
    assert program.error is None

    validate(documents)
    events = only(documents, "event")
    assert [Path(e["data"]["cam_file"]) for e in events] == [w.path for w in program.written]
    assert {w.timestamp.date() for w in program.written} == {
        datetime(2025, 6, 1).date(),
        datetime(2025, 6, 2).date(),
    }
    for event, written in zip(events, program.written, strict=True):
        # The reading is timestamped with the file's modification time: the file had
        # its last byte when it was taken.
        assert event["timestamps"]["cam_file"] == os.stat(written.path).st_mtime
        assert event["data"]["cam_camera_name"] == "pi-north"
        assert event["data"]["cam_timestamp"] == written.timestamp.timestamp()
        assert event["data"]["cam_exposure_ms"] == written.exposure_ms
        assert event["filled"] == {"cam_image": False}

    resources = only(documents, "resource")
    datums = only(documents, "datum")
    assert [d["datum_id"] for d in datums] == [e["data"]["cam_image"] for e in events]
    assert [d["resource"] for d in datums] == [r["uid"] for r in resources]
    spec = {"tiff": "AD_TIFF", "jpeg": "AD_JPEG", "png": "BLUESKY_TIMELAPSE_PNG"}[image_format]
    for resource, written in zip(resources, program.written, strict=True):
        assert resource["spec"] == spec
        assert resource["root"] == str(tmp_path / "frames")
        assert resource["resource_path"] == "./"
        kwargs = resource["resource_kwargs"]
        assert kwargs["template"] == "%s%s"
        path = Path(resource["root"], resource["resource_path"], kwargs["filename"])
        assert path == written.path  # referenced where it lies, not copied
        np.testing.assert_array_equal(read_file(path), written.frame)

    (descriptor,) = only(documents, "descriptor")
    keys = descriptor["data_keys"]
    assert keys["cam_image"]["shape"] == list(program.written[0].frame.shape)
    assert keys["cam_image"]["external"] == "FILESTORE:"
    assert keys["cam_timestamp"]["dtype"] == "number"
    assert keys["cam_exposure_ms"]["dtype"] == "integer"
    assert keys["cam_camera_name"]["dtype"] == "string"


@pytest.mark.parametrize(
    ("ending", "image_format", "spec"),
    [
        (".JPG", "jpeg", "AD_JPEG"),
        (".TIFF", "tiff", "AD_TIFF"),
        (".PNG", "png", "BLUESKY_TIMELAPSE_PNG"),
    ],
)
def test_upper_case_endings_are_read_in_their_format(tmp_path, ending, image_format, spec):
    (tmp_path / "frames").mkdir()
    camera = FolderCamera(
        name="cam",
        template=str(tmp_path / "frames" / ("{n:d}" + ending)),
        state_file=tmp_path / "state.json",
    )
    camera.stage()
    try:
        status = camera.trigger()
        path = tmp_path / "frames" / f"1{ending}"
        data, frame = image_bytes(image_format, 3)
        write_slowly(path, data)
        status.wait(60)
        assert camera.read()["cam_file"]["value"] == str(path)
        assert camera.describe()["cam_image"]["shape"] == list(frame.shape)
        (resource, _) = [doc for _, doc in camera.collect_asset_docs()]
        assert resource["spec"] == spec
        assert resource["resource_kwargs"]["filename"] == path.name
        np.testing.assert_array_equal(read_file(path), frame)
    finally:
        camera.unstage()


def test_the_reading_is_ready_when_the_trigger_completes(tmp_path):
    camera = camera_for(tmp_path, "png")
    camera.stage()
    try:
        status = camera.trigger()
        assert not status.done  # the trigger returned without waiting
        path = tmp_path / "frames/pi/2025/06/01/20250601120000_250.png"
        write_slowly(path, image_bytes("png", 7)[0])
        status.wait(60)
        reading = camera.read()
        assert reading["cam_file"]["value"] == str(path)
        assert reading["cam_exposure_ms"]["value"] == 250
        (resource, datum) = [doc for _, doc in camera.collect_asset_docs()]
        assert reading["cam_image"]["value"] == datum["datum_id"]
        assert datum["resource"] == resource["uid"]
        assert camera.describe()["cam_image"]["shape"] == [24, 32, 3]
    finally:
        camera.unstage()


@pytest.mark.parametrize("watch", WATCHES)
def test_names_that_do_not_match_are_ignored_and_logged(tmp_path, caplog, watch):
    clock = Clock(datetime(2025, 6, 1, 12))
    camera = camera_for(tmp_path, "tiff", clock=clock, **WATCHES[watch])
    day = tmp_path / "frames/pi/2025/06/01"
    day.mkdir(parents=True)
    camera.stage()
    try:
        status = camera.trigger()
        with caplog.at_level(logging.INFO, logger="bluesky_timelapse.sources"):
            for name in ("notes.txt", "20250601120000_fast.tiff", "20251301120000_10.tiff"):
                write_slowly(day / name, b"not an image")
            wait_for(lambda: caplog.text.count("does not match") >= 3)
            write_slowly(day / "20250601120002_10.tiff", image_bytes("tiff", 1)[0])
            status.wait(60)
        assert camera.read()["cam_file"]["value"] == str(day / "20250601120002_10.tiff")
        for name in ("notes.txt", "20250601120000_fast.tiff", "20251301120000_10.tiff"):
            assert f"ignoring {day / name}: its name does not match the template" in caplog.text
    finally:
        camera.unstage()


def test_latest_takes_the_newest_file_not_yet_used(tmp_path):
    camera = camera_for(tmp_path, "tiff", mode="latest")
    day = tmp_path / "frames/pi/2025/06/01"
    day.mkdir(parents=True)
    old = day / "20250601110000_10.tiff"
    write_slowly(old, image_bytes("tiff", 0)[0])  # before stage: not new
    camera.stage()
    try:
        paths = [day / f"2025060112000{i}_10.tiff" for i in range(3)]
        for index, path in enumerate(paths):
            write_slowly(path, image_bytes("tiff", index)[0])
        wait_for(lambda: camera._latest == paths[-1])
        status = camera.trigger()
        status.wait(60)
        assert camera.read()["cam_file"]["value"] == str(paths[-1])
        waiting = camera.trigger()  # nothing new left: waits for the next file
        assert not waiting.done
        write_slowly(day / "20250601120009_10.tiff", image_bytes("tiff", 9)[0])
        waiting.wait(60)
        assert camera.read()["cam_file"]["value"] == str(day / "20250601120009_10.tiff")
    finally:
        camera.unstage()


@pytest.mark.parametrize("watch", WATCHES)
def test_a_timeout_fails_the_status_naming_directory_and_pattern(tmp_path, watch):
    camera = camera_for(tmp_path, "jpeg", timeout=0.5, **WATCHES[watch])
    camera.stage()
    try:
        status = camera.trigger()
        with pytest.raises(TimeoutError) as failure:
            status.wait(60)
    finally:
        camera.unstage()
    message = str(failure.value)
    assert repr(str(tmp_path / "frames")) in message
    assert repr(camera.pattern.template) in message
    assert "within 0.5 s" in message


def test_a_missing_directory_is_an_error_at_stage(tmp_path):
    template = str(tmp_path / "nowhere/%Y/{t:%H%M%S}.tiff")
    camera = FolderCamera(name="cam", template=template, state_file=tmp_path / "state.json")
    with pytest.raises(FileNotFoundError, match=rf"directory '{tmp_path}/nowhere' of template"):
        camera.stage()
    assert sorted(tmp_path.iterdir()) == []


def test_triggering_an_unstaged_camera_is_refused(tmp_path):
    with pytest.raises(RuntimeError, match="cam is not staged"):
        camera_for(tmp_path).trigger()


def test_describe_before_any_frame_says_why(tmp_path):
    with pytest.raises(RuntimeError, match="from the first file it takes; trigger it before"):
        camera_for(tmp_path).describe()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "oldest"}, "mode 'oldest' is not supported; allowed: next, latest"),
        ({"timeout": 0}, r"timeout 0 is invalid; allowed: a finite number of seconds > 0"),
        ({"timeout": -1.0}, r"timeout -1.0 is invalid"),
        ({"poll_interval": float("nan")}, r"poll_interval nan is invalid"),
        ({"settle_time": True}, r"settle_time True is invalid"),
        ({"template": "frames/{t:%H}.tiff"}, "is not an absolute path"),
        ({"template": "/data/%a/{t:%H}.tiff"}, r"'%a' .* allowed: %Y, %y, %m, %d"),
        ({"template": "/data/{t:%H}.gif"}, r"ends in '.gif'; allowed: a file name ending in"),
        ({"template": "/data/{file}.tiff"}, r"field\(s\) file clash with the camera's own"),
        ({"write_path_template": "copies"}, "write_path_template and writer_options are for"),
        ({"copy_to": "hdf5"}, "copy_to needs write_path_template"),
        ({"copy_to": "png", "write_path_template": "c"}, "unknown writer 'png'; allowed:"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        FolderCamera(
            **{
                "name": "cam",
                "template": str(tmp_path / "{t:%H%M%S}.tiff"),
                "state_file": tmp_path / "state" / "cam.json",
                **kwargs,
            }
        )
    assert sorted(tmp_path.iterdir()) == []


@pytest.mark.parametrize("image_format", ["tiff", "png"])
def test_copy_to_writes_the_frames_into_our_writer(RE, documents, tmp_path, image_format):
    clock = Clock(datetime(2025, 6, 1, 23, 59, 0))
    camera = camera_for(
        tmp_path,
        image_format,
        AnnouncingCamera,
        copy_to="hdf5",
        root=str(tmp_path),
        write_path_template="copies",
    )
    program = CameraProgram(tmp_path / "frames", image_format, count=3, clock=clock)
    thread = program.run(camera.triggered)
    RE(count([camera], num=3))
    thread.join(60)
    assert program.error is None

    validate(documents)
    (resource,) = only(documents, "resource")
    assert resource["spec"] == "AD_HDF5"
    assert resource["root"] == str(tmp_path)
    np.testing.assert_array_equal(
        read_frames_from_resource(resource, 3), np.stack([w.frame for w in program.written])
    )
    events = only(documents, "event")
    assert [e["data"]["cam_exposure_ms"] for e in events] == [10, 20, 30]


def test_a_frame_unlike_the_first_fails_its_trigger(tmp_path):
    camera = camera_for(tmp_path, "png")
    day = tmp_path / "frames/pi/2025/06/01"
    camera.stage()
    try:
        first = camera.trigger()
        write_slowly(day / "20250601120000_1.png", image_bytes("png", 0)[0])
        first.wait(60)
        second = camera.trigger()
        Image.new("L", (8, 8)).save(day / "20250601120001_1.png")
        with pytest.raises(ValueError, match=r"shape \(8, 8\) .* unlike the run's first file"):
            second.wait(60)
    finally:
        camera.unstage()


def test_the_newest_file_used_is_recorded_durably(tmp_path):
    camera = camera_for(tmp_path, "tiff")
    day = tmp_path / "frames/pi/2025/06/01"
    camera.stage()
    try:
        status = camera.trigger()
        write_slowly(day / "20250601120000_1.tiff", image_bytes("tiff", 0)[0])
        status.wait(60)
    finally:
        camera.unstage()
    wait_for(lambda: (tmp_path / "state.json").exists())
    again = camera_for(tmp_path, "tiff")
    assert again.backlog() == []


def test_unstage_fails_a_waiting_trigger(tmp_path):
    camera = camera_for(tmp_path, "tiff")
    camera.stage()
    status = camera.trigger()
    camera.unstage()
    with pytest.raises(RuntimeError, match="unstaged while a trigger waited"):
        status.wait(10)


def test_a_file_written_while_staged_twice_is_taken_in_the_second_session(tmp_path):
    camera = camera_for(tmp_path, "tiff")
    day = tmp_path / "frames/pi/2025/06/01"
    for session in range(2):
        camera.stage()
        try:
            status = camera.trigger()
            write_slowly(day / f"2025060112000{session}_1.tiff", image_bytes("tiff", session)[0])
            status.wait(60)
            assert camera.read()["cam_file"]["value"].endswith(f"0{session}_1.tiff")
        finally:
            camera.unstage()


def test_the_clock_decides_which_day_polling_visits(tmp_path):
    clock = Clock(datetime(2025, 6, 1, 12))
    camera = camera_for(
        tmp_path, "tiff", clock=clock, use_polling=True, poll_interval=0.05, settle_time=0.2
    )
    tomorrow = tmp_path / "frames/pi/2025/06/02"
    camera.stage()
    try:
        status = camera.trigger()
        write_slowly(tomorrow / "20250602000001_1.tiff", image_bytes("tiff", 0)[0])
        with pytest.raises(WaitTimeoutError):  # twenty polls of today's directory only
            status.wait(1.0)
        clock.now += timedelta(hours=12)
        status.wait(60)
        assert camera.read()["cam_file"]["value"] == str(tomorrow / "20250602000001_1.tiff")
    finally:
        camera.unstage()
