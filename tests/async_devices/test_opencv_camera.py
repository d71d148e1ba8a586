"""The OpenCV camera as an ophyd-async detector, reading real video files (async_devices/_opencv_camera.py)."""

import logging
import re
import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from bluesky.plans import count
from bluesky.utils import FailedStatus

from async_cameras import async_opencv_camera, written_files
from bluesky_timelapse import plugins
from bluesky_timelapse.async_devices import AsyncOpenCVCamera
from bluesky_timelapse.sources import CaptureError
from support import only, read_frames_from_stream_resource, validate, write_video

SHAPE = (24, 32)
REAL_CAPTURE = cv2.VideoCapture


@pytest.fixture(scope="module")
def bgr_frames() -> np.ndarray:
    """Five random BGR frames, as OpenCV gives them."""
    return np.random.default_rng(5).integers(0, 256, size=(5, *SHAPE, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory, bgr_frames: np.ndarray) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "garden.mkv", bgr_frames)


def test_configuration_reports_what_the_backend_reports(RE, documents, tmp_path, video):
    camera = async_opencv_camera(tmp_path, video, backend="FFMPEG")
    RE(count([camera], num=1))

    reference = REAL_CAPTURE(str(video))
    expected = {
        "acam-exposure": 0.0,
        "acam-capture_exposure": reference.get(cv2.CAP_PROP_EXPOSURE),
        "acam-capture_gain": reference.get(cv2.CAP_PROP_GAIN),
        "acam-backend_name": "FFMPEG",
    }
    reference.release()
    (descriptor,) = only(documents, "descriptor")
    assert descriptor["configuration"]["acam"]["data"] == expected


def test_every_opencv_call_runs_on_one_worker_thread(RE, tmp_path, video, monkeypatch):
    threads = set()

    class RecordingCapture:
        def __init__(self, *args):
            threads.add(threading.get_ident())
            self._capture = REAL_CAPTURE(*args)

        def __getattr__(self, name):
            attribute = getattr(self._capture, name)

            def call(*args):
                threads.add(threading.get_ident())
                return attribute(*args)

            return call

    monkeypatch.setattr(cv2, "VideoCapture", RecordingCapture)
    camera = async_opencv_camera(tmp_path, video, gain=0)
    with pytest.raises(FailedStatus):  # FFMPEG refuses the gain: open, set, get, release
        RE(count([camera], num=1))
    RE(count([async_opencv_camera(tmp_path, video)], num=3))  # open, get, read, release
    assert len(threads) == 2  # one per camera
    assert threading.get_ident() not in threads


class ClampingCapture:
    """A real capture whose backend accepts CAP_PROP_GAIN, clamped to 0-10."""

    def __init__(self, *args):
        self._capture = REAL_CAPTURE(*args)
        self.gain = 0.0

    def set(self, prop, value):
        if prop == cv2.CAP_PROP_GAIN:
            self.gain = min(max(value, 0.0), 10.0)
            return True
        return self._capture.set(prop, value)

    def get(self, prop):
        return self.gain if prop == cv2.CAP_PROP_GAIN else self._capture.get(prop)

    def __getattr__(self, name):
        return getattr(self._capture, name)


def test_a_clamped_setting_is_reported_as_read_back_with_a_warning(
    RE, documents, tmp_path, video, monkeypatch, caplog
):
    monkeypatch.setattr(cv2, "VideoCapture", ClampingCapture)
    camera = async_opencv_camera(tmp_path, video, gain=50)
    with caplog.at_level(logging.WARNING):
        RE(count([camera], num=1))
    (record,) = [r for r in caplog.records if "CAP_PROP_GAIN" in r.getMessage()]
    assert record.name == "bluesky_timelapse.async_devices"
    assert record.getMessage() == f"acam: CAP_PROP_GAIN set to 50.0, but '{video}' reports 10.0"
    (descriptor,) = only(documents, "descriptor")
    assert descriptor["configuration"]["acam"]["data"]["acam-capture_gain"] == 10.0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"exposure": 0.01}, r"backend\) refused CAP_PROP_EXPOSURE = 0\.01"),
        ({"resolution": (64, 48)}, "refused CAP_PROP_FRAME_WIDTH = 64"),
        ({"properties": {"CAP_PROP_AUTO_EXPOSURE": 1}}, r"refused CAP_PROP_AUTO_EXPOSURE = 1\.0"),
    ],
)
def test_a_refused_setting_fails_the_plan_naming_the_property(
    RE, documents, tmp_path, video, arguments, message
):
    camera = async_opencv_camera(tmp_path / "frames", video, **arguments)
    with pytest.raises(FailedStatus) as raised:
        RE(count([camera], num=1))
    assert isinstance(raised.value.__cause__, CaptureError)
    assert re.search(message, str(raised.value.__cause__))
    assert camera.source.capture is None
    assert only(documents, "start") == []
    assert written_files(tmp_path) == []


def test_an_unopenable_source_fails_the_plan_naming_it(RE, documents, tmp_path):
    missing = tmp_path / "missing.mkv"
    camera = async_opencv_camera(tmp_path / "frames", missing)
    with pytest.raises(FailedStatus) as raised:
        RE(count([camera], num=1))
    cause = raised.value.__cause__
    assert isinstance(cause, CaptureError)
    assert str(cause).startswith(f"acam cannot open '{missing}': no such camera")
    assert only(documents, "stream_resource") == []
    assert written_files(tmp_path) == []


def test_an_unreachable_stream_is_named_without_its_password(RE, tmp_path):
    camera = async_opencv_camera(
        tmp_path, "rtsp://viewer:s3cret@127.0.0.1:1/stream", backend="FFMPEG"
    )
    with pytest.raises(FailedStatus) as raised:
        RE(count([camera], num=1))
    message = str(raised.value.__cause__)
    assert "cannot open 'rtsp://viewer:***@127.0.0.1:1/stream' with the FFMPEG backend" in message
    assert "s3cret" not in message


def test_reading_past_the_end_of_a_file_fails_the_plan(RE, documents, tmp_path, video, bgr_frames):
    camera = async_opencv_camera(tmp_path, video, writer="tiff")
    with pytest.raises(FailedStatus) as raised:
        RE(count([camera], num=7))
    cause = raised.value.__cause__
    assert isinstance(cause, CaptureError)
    assert (
        str(cause) == f"the video file '{video}' has no more frames: acam has read all 5 of them"
    )

    validate(documents)
    (stop,) = only(documents, "stop")
    assert stop["exit_status"] == "fail"
    assert len(only(documents, "event")) == 5
    (stream_resource,) = only(documents, "stream_resource")
    np.testing.assert_array_equal(
        read_frames_from_stream_resource(stream_resource, 5), bgr_frames[..., ::-1]
    )
    assert camera.source.capture is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"backend": "NOPE"}, r"unknown OpenCV backend 'NOPE'; allowed in this OpenCV build: "),
        ({"properties": {"CAP_EXPOSURE": 1}}, "unknown capture property 'CAP_EXPOSURE'"),
        ({"resolution": (640, 0)}, r"resolution \(640, 0\) is invalid"),
        ({"exposure": float("nan")}, r"exposure \(CAP_PROP_EXPOSURE\) nan is invalid"),
        ({"gain": True}, r"gain \(CAP_PROP_GAIN\) True is invalid; allowed: a finite number"),
        ({"writer": "gif"}, "'gif'"),
    ],
)
def test_bad_arguments_are_refused_at_construction(tmp_path, video, arguments, message):
    with pytest.raises(ValueError, match=message):
        async_opencv_camera(tmp_path, video, **arguments)


def test_without_opencv_construction_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(ImportError, match=r'AsyncOpenCVCamera needs OpenCV.*\[opencv\]"'):
        async_opencv_camera(tmp_path, 0)


def test_the_async_devices_package_imports_without_opencv():
    blocked = (
        "import sys; sys.modules['cv2'] = None\n"
        "from ophyd_async.core import StaticPathProvider, UUIDFilenameProvider\n"
        "from bluesky_timelapse.async_devices import AsyncOpenCVCamera, AsyncSimCamera\n"
        "print(AsyncOpenCVCamera.__name__, AsyncSimCamera.__name__)\n"
        "try:\n"
        "    AsyncOpenCVCamera(StaticPathProvider(UUIDFilenameProvider(), '/tmp'), source=0)\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocked], capture_output=True, text=True, check=True, timeout=120
    )
    imported, message = result.stdout.splitlines()
    assert imported == "AsyncOpenCVCamera AsyncSimCamera"
    assert message == (
        'AsyncOpenCVCamera needs OpenCV, which is not installed: pip install "bluesky-timelapse[opencv]"'
    )
    # Installed, OpenCV is imported only when a camera is built, not with the package.
    lazy = "import sys, bluesky_timelapse.async_devices; print('cv2' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", lazy], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False"


def test_the_camera_is_registered_as_a_device_plugin():
    assert plugins.load_plugin(plugins.DEVICES, "AsyncOpenCVCamera") is AsyncOpenCVCamera


def test_a_timelapse_of_the_async_camera_reads_the_next_frame_each_slot(
    RE, documents, tmp_path, video, bgr_frames
):
    from bluesky_timelapse.plans import timelapse
    from bluesky_timelapse.schedules import every

    acam = async_opencv_camera(tmp_path / "frames", video, writer="hdf5")
    RE(timelapse([acam], every(0.3, count=2).to_dict(), store=str(tmp_path / "store")))
    validate(documents)
    assert [run["slot_index"] for run in only(documents, "start")] == [0, 1]
    assert [stop["exit_status"] for stop in only(documents, "stop")] == ["success"] * 2
    # each slot's run stages the camera anew: the capture is reopened, from frame 0
    resources = only(documents, "stream_resource")
    assert len(resources) == 2
    for stream_resource in resources:
        np.testing.assert_array_equal(
            read_frames_from_stream_resource(stream_resource, 1)[0], bgr_frames[0, ..., ::-1]
        )
