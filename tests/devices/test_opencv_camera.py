"""The OpenCV camera reading real video files in a real RunEngine (devices/_opencv_camera.py)."""

import logging
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from bluesky.plans import count
from bluesky.utils import FailedStatus
from ophyd.utils import RedundantStaging

from bluesky_timelapse import plugins
from bluesky_timelapse.devices import OpenCVCamera
from bluesky_timelapse.sources import CaptureError
from support import WRITERS, only, read_frames_from_resource, validate, write_video

SHAPE = (24, 32)


@pytest.fixture
def bgr_frames():
    """Five random BGR frames, as OpenCV gives them."""
    return np.random.default_rng(7).integers(0, 256, size=(5, *SHAPE, 3), dtype=np.uint8)


@pytest.fixture
def video(tmp_path, bgr_frames):
    return write_video(tmp_path / "garden.mkv", bgr_frames)


def make_camera(tmp_path, source, **kwargs):
    arguments = {"name": "cam", "root": str(tmp_path), "write_path_template": "frames/%Y"}
    return OpenCVCamera(source=source, **(arguments | kwargs))


def written_files(tmp_path):
    return [path for path in (tmp_path / "frames").rglob("*") if path.is_file()]


@pytest.mark.parametrize("writer", WRITERS)
def test_count_stores_the_video_frames_as_rgb(RE, documents, tmp_path, video, bgr_frames, writer):
    camera = make_camera(tmp_path, video, writer=writer)
    RE(count([camera], num=5))

    validate(documents)
    (resource,) = only(documents, "resource")
    datums = only(documents, "datum")
    events = only(documents, "event")
    assert [event["data"]["cam_image"] for event in events] == [d["datum_id"] for d in datums]
    (descriptor,) = only(documents, "descriptor")
    data_key = descriptor["data_keys"]["cam_image"]
    assert (data_key["shape"], data_key["dtype_numpy"]) == ([*SHAPE, 3], "|u1")
    np.testing.assert_array_equal(read_frames_from_resource(resource, 5), bgr_frames[..., ::-1])
    assert camera.capture is None and camera.writer is None


@pytest.mark.parametrize("writer", ["tiff", "hdf5"])
def test_grayscale_frames_are_stored_exactly(RE, documents, tmp_path, writer):
    gray = np.random.default_rng(3).integers(0, 256, size=(4, *SHAPE), dtype=np.uint8)
    video = write_video(tmp_path / "gray.mkv", np.repeat(gray[..., np.newaxis], 3, axis=-1))
    camera = make_camera(tmp_path, video, writer=writer, colour=False)
    RE(count([camera], num=4))

    validate(documents)
    (descriptor,) = only(documents, "descriptor")
    assert descriptor["data_keys"]["cam_image"]["shape"] == list(SHAPE)
    (resource,) = only(documents, "resource")
    np.testing.assert_array_equal(read_frames_from_resource(resource, 4), gray)


def test_write_behind_stores_the_same_frames(RE, documents, tmp_path, video, bgr_frames):
    RE(count([make_camera(tmp_path, video, writer="hdf5", write_queue=3)], num=5))
    validate(documents)
    (resource,) = only(documents, "resource")
    np.testing.assert_array_equal(read_frames_from_resource(resource, 5), bgr_frames[..., ::-1])


def test_configuration_reports_what_the_backend_reports(RE, documents, tmp_path, video):
    camera = make_camera(tmp_path, video, writer="hdf5", backend="FFMPEG")
    RE(count([camera], num=1))

    reference = cv2.VideoCapture(str(video))
    expected = {
        "cam_exposure": reference.get(cv2.CAP_PROP_EXPOSURE),
        "cam_gain": reference.get(cv2.CAP_PROP_GAIN),
        "cam_frame_shape": [*SHAPE, 3],
        "cam_frame_dtype": "uint8",
        "cam_writer_name": "hdf5",
        "cam_backend_name": "FFMPEG",
    }
    reference.release()
    configuration = {key: value["value"] for key, value in camera.read_configuration().items()}
    assert configuration == expected
    (descriptor,) = only(documents, "descriptor")
    recorded = descriptor["configuration"]["cam"]["data"]
    assert recorded == expected
    assert descriptor["configuration"]["cam"]["data_keys"]["cam_exposure"]["dtype"] == "number"


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


REAL_CAPTURE = cv2.VideoCapture


def test_a_clamped_setting_is_reported_as_read_back_with_a_warning(
    RE, documents, tmp_path, video, monkeypatch, caplog
):
    monkeypatch.setattr(cv2, "VideoCapture", ClampingCapture)
    camera = make_camera(tmp_path, video, gain=50)
    assert camera.gain.get() == 50.0  # a request: nothing is open yet

    with caplog.at_level(logging.WARNING, logger="bluesky_timelapse.devices"):
        RE(count([camera], num=1))
    assert f"cam: CAP_PROP_GAIN set to 50.0, but '{video}' reports 10.0" in caplog.text
    (descriptor,) = only(documents, "descriptor")
    assert descriptor["configuration"]["cam"]["data"]["cam_gain"] == 10.0

    camera.stage()
    try:
        camera.gain.set(4).wait(timeout=10)
        assert camera.gain.get() == 4.0 and camera.capture.get(cv2.CAP_PROP_GAIN) == 4.0
    finally:
        camera.unstage()


def test_a_refused_setting_fails_stage_naming_the_property(tmp_path, video):
    camera = make_camera(tmp_path, video, exposure=0.01)
    with pytest.raises(CaptureError, match=r"backend\) refused CAP_PROP_EXPOSURE = 0\.01"):
        camera.stage()
    assert camera.capture is None and camera.writer is None
    assert written_files(tmp_path) == []

    camera = make_camera(tmp_path, video, resolution=(64, 48))
    with pytest.raises(CaptureError, match="refused CAP_PROP_FRAME_WIDTH = 64"):
        camera.stage()

    camera = make_camera(tmp_path, video, properties={"CAP_PROP_AUTO_EXPOSURE": 1})
    with pytest.raises(CaptureError, match=r"refused CAP_PROP_AUTO_EXPOSURE = 1\.0"):
        camera.stage()


def test_a_setting_refused_while_staged_raises_and_changes_nothing(tmp_path, video):
    camera = make_camera(tmp_path, video)
    camera.stage()
    try:
        before = camera.exposure.get()
        with pytest.raises(CaptureError, match=r"refused CAP_PROP_EXPOSURE = 0\.5"):
            camera.exposure.put(0.5)
        assert camera.exposure.get() == before
        assert camera.exposure.requested is None
    finally:
        camera.unstage()


def test_an_unopenable_source_fails_the_run_naming_it(RE, documents, tmp_path):
    missing = tmp_path / "missing.mkv"
    camera = make_camera(tmp_path, missing)
    with pytest.raises(
        CaptureError, match=re.escape(f"cam cannot open '{missing}': no such camera")
    ):
        RE(count([camera], num=1))
    assert only(documents, "resource") == []
    assert camera.capture is None and written_files(tmp_path) == []


def test_an_unreachable_stream_is_named_without_its_password(tmp_path):
    camera = make_camera(tmp_path, "rtsp://viewer:s3cret@127.0.0.1:1/stream", backend="FFMPEG")
    with pytest.raises(CaptureError) as raised:
        camera.stage()
    message = str(raised.value)
    assert "cannot open 'rtsp://viewer:***@127.0.0.1:1/stream' with the FFMPEG backend" in message
    assert "s3cret" not in message


def test_reading_past_the_end_of_a_file_fails_the_run(RE, documents, tmp_path, video, bgr_frames):
    camera = make_camera(tmp_path, video, writer="tiff")
    with pytest.raises(FailedStatus) as raised:
        RE(count([camera], num=7))
    cause = raised.value.__cause__
    assert isinstance(cause, CaptureError)
    assert str(cause) == f"the video file '{video}' has no more frames: cam has read all 5 of them"

    validate(documents)
    (stop,) = only(documents, "stop")
    assert stop["exit_status"] == "fail"
    assert len(only(documents, "event")) == 5
    (resource,) = only(documents, "resource")
    np.testing.assert_array_equal(read_frames_from_resource(resource, 5), bgr_frames[..., ::-1])
    assert camera.capture is None


def test_a_failed_read_fails_the_status_with_the_reason(tmp_path, video):
    camera = make_camera(tmp_path, video)
    camera.stage()
    try:
        for _ in range(5):
            camera.trigger().wait(timeout=10)
        status = camera.trigger()
        with pytest.raises(CaptureError, match="has no more frames: cam has read all 5"):
            status.wait(timeout=10)
        assert not status.success
    finally:
        camera.unstage()


def test_the_frame_format_is_known_once_staged(tmp_path, video):
    camera = make_camera(tmp_path, video, colour=False)
    with pytest.raises(RuntimeError, match="cam's frame format is known once staged"):
        camera.frame_format  # noqa: B018
    camera.stage()
    try:
        assert camera.frame_format.shape == SHAPE
        assert camera.describe()["cam_image"]["shape"] == list(SHAPE)
        with pytest.raises(RedundantStaging, match="cam is already staged"):
            camera.stage()
    finally:
        camera.unstage()


def test_trigger_before_stage_fails_the_status(tmp_path, video):
    status = make_camera(tmp_path, video).trigger()
    with pytest.raises(RuntimeError, match="cam is not staged"):
        status.wait(timeout=10)


def test_destroy_releases_the_capture(tmp_path, video):
    camera = make_camera(tmp_path, video)
    camera.stage()
    capture = camera.capture
    assert capture.isOpened()
    camera.destroy()
    assert not capture.isOpened() and camera.capture is None


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"backend": "NOPE"},
            r"unknown OpenCV backend 'NOPE'; allowed in this OpenCV build: .*FFMPEG",
        ),
        ({"properties": {"CAP_EXPOSURE": 1}}, "unknown capture property 'CAP_EXPOSURE'"),
        ({"properties": {"CAP_PROP_FPS": "fast"}}, "CAP_PROP_FPS 'fast' is invalid"),
        ({"resolution": (640,)}, r"resolution \(640,\) is invalid; allowed: \(width, height\)"),
        ({"resolution": (640, 0)}, r"resolution \(640, 0\) is invalid"),
        ({"exposure": float("nan")}, r"exposure \(CAP_PROP_EXPOSURE\) nan is invalid"),
        ({"gain": True}, r"gain \(CAP_PROP_GAIN\) True is invalid; allowed: a finite number"),
    ],
)
def test_bad_arguments_are_refused_at_construction(tmp_path, video, arguments, message):
    with pytest.raises(ValueError, match=message):
        make_camera(tmp_path, video, **arguments)


def test_without_opencv_construction_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(ImportError, match=r'pip install "bluesky-timelapse\[opencv\]"'):
        make_camera(tmp_path, 0)


def test_the_devices_package_imports_without_opencv():
    script = (
        "import sys; sys.modules['cv2'] = None\n"
        "from bluesky_timelapse.devices import OpenCVCamera, SimCamera\n"
        "try:\n"
        "    OpenCVCamera(name='cam', source=0, write_path_template='/tmp')\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert 'pip install "bluesky-timelapse[opencv]"' in result.stdout


def test_the_camera_is_registered_as_a_device_plugin():
    assert plugins.load_plugin(plugins.DEVICES, "OpenCVCamera") is OpenCVCamera
