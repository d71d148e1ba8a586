"""Frames read through OpenCV from a real video file (sources/_capture_source.py)."""

import threading

import numpy as np
import pytest

from bluesky_timelapse.sources import CaptureError, CaptureSource, FrameSource
from support import write_video

SHAPE = (24, 32)


@pytest.fixture
def bgr_frames():
    return np.random.default_rng(11).integers(0, 256, size=(3, *SHAPE, 3), dtype=np.uint8)


@pytest.fixture
def video(tmp_path, bgr_frames):
    return write_video(tmp_path / "garden.mkv", bgr_frames)


def test_open_grab_close_reads_every_frame_as_rgb(video, bgr_frames):
    source = CaptureSource(video, name="cam")
    source.open()
    try:
        assert isinstance(source, FrameSource)
        assert source.frame_format.shape == (*SHAPE, 3)
        assert set(source.reported) == {"CAP_PROP_EXPOSURE", "CAP_PROP_GAIN"}
        frames = [source.grab(0.0) for _ in range(3)]
        np.testing.assert_array_equal(np.stack(frames), bgr_frames[..., ::-1])
        with pytest.raises(CaptureError, match="has no more frames: cam has read all 3"):
            source.grab(0.0)
    finally:
        source.close()
    assert source.capture is None


def test_every_opencv_call_runs_on_the_capture_thread(video):
    source = CaptureSource(video, name="cam")
    called_from = []
    read = source._read
    source._read = lambda: called_from.append(threading.current_thread().name) or read()
    source.open()
    try:
        source.grab(0.0)
    finally:
        source.close()
    assert called_from == ["cam-capture_0"]


def test_a_setting_applied_while_closed_is_asked_for_at_the_next_open(video):
    source = CaptureSource(video, name="cam", gain=2.0)
    assert source.settings == {"CAP_PROP_EXPOSURE": None, "CAP_PROP_GAIN": 2.0}
    assert source.apply("CAP_PROP_EXPOSURE", 0.5) is None  # closed: a request only
    assert source.settings["CAP_PROP_EXPOSURE"] == 0.5
    with pytest.raises(CaptureError, match=r"refused CAP_PROP_EXPOSURE = 0\.5"):
        source.open()  # the request is applied (and a file's FFMPEG backend refuses it)
    assert source.capture is None


def test_renaming_the_source_renames_its_messages(tmp_path):
    source = CaptureSource(tmp_path / "missing.mkv", name="first")
    source.name = "second"
    with pytest.raises(CaptureError, match="second cannot open"):
        source.open()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"exposure": float("nan")}, r"exposure \(CAP_PROP_EXPOSURE\) nan is invalid"),
        ({"gain": "high"}, r"gain \(CAP_PROP_GAIN\) 'high' is invalid; allowed: a finite number"),
        ({"resolution": (0, 1)}, r"resolution \(0, 1\) is invalid"),
        ({"backend": "NOPE"}, "unknown OpenCV backend 'NOPE'"),
    ],
)
def test_bad_settings_are_refused_at_construction(video, arguments, message):
    with pytest.raises(ValueError, match=message):
        CaptureSource(video, name="cam", **arguments)
