"""The simulated cameras' frame source (sources/_scene_source.py)."""

import time

import numpy as np
import pytest

from bluesky_timelapse.sources import FrameSource, SceneSource


def test_a_grab_is_the_scene_when_the_exposure_began():
    source = SceneSource((16, 20), "uint8", colour=True, time_scale=3600.0)
    assert isinstance(source, FrameSource)
    assert (source.frame_format.shape, source.frame_format.dtype) == ((16, 20, 3), np.uint8)
    before = time.time()
    frame = source.grab(0.05)
    assert time.time() - before >= 0.05  # the exposure is waited for
    np.testing.assert_array_equal(
        source.grab(0.0, opened=before), source.scene.render(before * 3600)
    )
    assert frame.shape == (16, 20, 3)


def test_the_scene_time_is_the_clock_times_the_time_scale():
    assert SceneSource(time_scale=60.0).scene_time(10.0) == 600.0


@pytest.mark.parametrize("time_scale", [0, -1.0, float("inf"), "fast"])
def test_a_bad_time_scale_is_refused(time_scale):
    with pytest.raises(
        ValueError, match=f"time_scale {time_scale!r} is invalid; allowed: a number > 0"
    ):
        SceneSource(time_scale=time_scale)
