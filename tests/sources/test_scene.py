"""The synthetic garden (sources/_scene.py)."""

import numpy as np
import pytest

from bluesky_timelapse.sources import GardenScene
from bluesky_timelapse.storage import FrameFormat

DAY = 86_400.0
HOUR = 3_600.0


@pytest.fixture
def scene():
    return GardenScene(FrameFormat((120, 160, 3), np.uint8))


def test_rendering_is_a_pure_function_of_scene_time(scene):
    np.testing.assert_array_equal(scene.render(12.5 * HOUR), scene.render(12.5 * HOUR))
    np.testing.assert_array_equal(scene.render(3 * HOUR), scene.render(14 * DAY + 3 * HOUR))


def test_day_is_brighter_than_night(scene):
    assert scene.render(12 * HOUR).mean() > 2 * scene.render(0.0).mean()


def test_the_sun_moves_across_the_sky(scene):
    def sun_columns(frame):
        sunny = (frame[..., 0] > 250) & (frame[..., 2] < 200)
        return np.nonzero(sunny.any(axis=0))[0]

    morning, afternoon = sun_columns(scene.render(9 * HOUR)), sun_columns(scene.render(15 * HOUR))
    assert morning.size and afternoon.size
    assert morning.mean() < 80 < afternoon.mean()


def test_the_plant_grows(scene):
    def plant_pixels(frame):
        return int(((frame[..., 1] > frame[..., 0] + 40) & (frame[..., 1] > frame[..., 2])).sum())

    assert (
        0
        < plant_pixels(scene.render(DAY + 12 * HOUR))
        < plant_pixels(scene.render(9 * DAY + 12 * HOUR))
    )


@pytest.mark.parametrize(
    ("shape", "dtype"), [((64, 80), "uint16"), ((64, 80, 4), "float32"), ((7, 9), "uint8")]
)
def test_frames_have_the_requested_format(shape, dtype):
    frame = GardenScene(FrameFormat(shape, np.dtype(dtype))).render(12 * HOUR)
    assert (frame.shape, frame.dtype) == (shape, np.dtype(dtype))


def test_frames_are_read_only_so_a_shared_picture_cannot_be_changed():
    scene = GardenScene(FrameFormat((64, 80), np.dtype("uint16")))
    frame = scene.render(12 * HOUR)
    with pytest.raises(ValueError, match="read-only"):
        frame[0, 0] = 0
    before = frame.copy()
    np.testing.assert_array_equal(scene.render(12 * HOUR + 1.0), before)


def test_the_picture_changes_when_the_sun_moves_a_pixel():
    scene = GardenScene(FrameFormat((64, 80), np.dtype("uint16")))
    seconds_per_pixel = scene.day_length / (2 * 80)
    noon = scene.render(12 * HOUR)
    assert scene.render(12 * HOUR + seconds_per_pixel / 4) is noon
    assert not np.array_equal(scene.render(12 * HOUR + 2 * seconds_per_pixel), noon)


@pytest.mark.parametrize("field", ["day_length", "growth_period"])
def test_periods_must_be_positive(field):
    with pytest.raises(
        ValueError, match=f"{field} 0.0 is invalid; allowed: a finite number of seconds > 0"
    ):
        GardenScene(FrameFormat((4, 4), np.uint8), **{field: 0.0})
