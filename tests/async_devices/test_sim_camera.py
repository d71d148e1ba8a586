"""The simulated camera as an ophyd-async detector (async_devices/_sim_camera.py)."""

import pytest
from bluesky.plans import count

from async_cameras import async_sim_camera
from bluesky_timelapse.plans import timelapse
from bluesky_timelapse.schedules import every
from support import only, validate


def test_an_async_camera_in_a_timelapse(RE, documents, tmp_path):
    camera = async_sim_camera(tmp_path / "frames", writer="zarr", shape=(8, 8))
    RE(timelapse([camera], every(0.3, count=2).to_dict(), store=str(tmp_path / "store")))
    validate(documents)
    starts = only(documents, "start")
    assert [run["slot_index"] for run in starts] == [0, 1]
    assert [stop["exit_status"] for stop in only(documents, "stop")] == ["success"] * 2
    # each slot's run stages the camera anew: a new array per run
    assert len({sr["uri"] for sr in only(documents, "stream_resource")}) == 2


def test_exposure_sets_the_frame_time_and_is_configuration(RE, documents, tmp_path):
    camera = async_sim_camera(tmp_path, writer="npy", shape=(8, 8), exposure=0.2)
    RE(count([camera], num=2))
    (descriptor,) = only(documents, "descriptor")
    configuration = descriptor["configuration"]["acam"]["data"]
    assert list(configuration.values()) == [0.2]
    (start,) = only(documents, "start")
    (stop,) = only(documents, "stop")
    assert stop["time"] - start["time"] >= 0.4  # two exposures of 0.2 s


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exposure": -1}, "exposure -1 is invalid; allowed: a finite number of seconds >= 0"),
        ({"writer": "gif"}, "'gif'"),
        ({"time_scale": 0}, "time_scale 0 is invalid; allowed: a number > 0"),
    ],
)
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        async_sim_camera(tmp_path, **kwargs)
