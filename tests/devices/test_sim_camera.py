"""The simulated camera in a real RunEngine (devices/_sim_camera.py)."""

import time

import numpy as np
import pytest
from bluesky.plans import count
from bluesky.utils import FailedStatus

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.storage import NpySequenceWriter, writer_for
from support import FORMATS, WRITERS, only, read_frames_from_resource, validate


def make_camera(tmp_path, **kwargs):
    arguments = {"name": "cam", "root": str(tmp_path), "write_path_template": "%Y/%m/%d"}
    return SimCamera(**(arguments | kwargs))


@pytest.mark.parametrize("frame_kind", FORMATS)
@pytest.mark.parametrize("writer", WRITERS)
def test_count_writes_valid_documents_and_exact_frames(
    RE, documents, tmp_path, writer, frame_kind
):
    camera = make_camera(tmp_path, writer=writer, time_scale=3600.0, **FORMATS[frame_kind])
    RE(count([camera], num=5))

    validate(documents)
    assert [name for name, _ in documents].count("event") == 5
    (resource,) = only(documents, "resource")
    datums = only(documents, "datum")
    events = only(documents, "event")
    assert [datum["resource"] for datum in datums] == [resource["uid"]] * 5
    assert [event["data"]["cam_image"] for event in events] == [d["datum_id"] for d in datums]
    assert all(event["filled"] == {"cam_image": False} for event in events)

    (descriptor,) = only(documents, "descriptor")
    data_key = descriptor["data_keys"]["cam_image"]
    assert data_key["external"] == "FILESTORE:"
    assert data_key["shape"] == list(camera.frame_format.shape)
    assert data_key["dtype_numpy"] == np.dtype(FORMATS[frame_kind]["dtype"]).str

    produced = np.stack([camera.scene.render(e["data"]["cam_scene_time"]) for e in events])
    np.testing.assert_array_equal(read_frames_from_resource(resource, 5), produced)
    assert camera.writer is None  # unstaged: the writer is closed


def test_scene_time_follows_the_clock_times_the_time_scale(RE, documents, tmp_path):
    before = time.time()
    RE(count([make_camera(tmp_path, writer="npy", time_scale=3600.0, exposure=0.01)], num=3))
    after = time.time()
    scene_times = [event["data"]["cam_scene_time"] for event in only(documents, "event")]
    assert scene_times == sorted(set(scene_times))
    assert before * 3600 <= scene_times[0] and scene_times[-1] <= after * 3600


def test_configuration_reports_exposure_shape_dtype_and_writer(tmp_path):
    camera = make_camera(tmp_path, writer="hdf5", shape=(30, 40), colour=True, dtype="uint8")
    camera.exposure.put(0.25)
    configuration = {key: value["value"] for key, value in camera.read_configuration().items()}
    assert configuration == {
        "cam_exposure": 0.25,
        "cam_frame_shape": [30, 40, 3],
        "cam_frame_dtype": "uint8",
        "cam_writer_name": "hdf5",
        "cam_time_scale": 1.0,
    }


def test_trigger_returns_at_once_and_finishes_after_the_exposure(tmp_path):
    camera = make_camera(tmp_path, exposure=0.5)
    camera.stage()
    try:
        status = camera.trigger()
        assert not status.done
        status.wait(timeout=10)
        assert status.success
        (resource, datum) = [doc for _, doc in camera.collect_asset_docs()]
        assert camera.read()["cam_image"]["value"] == datum["datum_id"]
        assert datum["resource"] == resource["uid"]
    finally:
        camera.unstage()


@pytest.mark.parametrize("exposure", [-1.0, float("nan"), float("inf"), "1s", True])
def test_bad_exposure_is_refused_with_the_value(tmp_path, exposure):
    with pytest.raises(ValueError, match=rf"exposure {exposure!r} is invalid; allowed: a finite"):
        make_camera(tmp_path, exposure=exposure)
    camera = make_camera(tmp_path)
    with pytest.raises(ValueError, match="allowed: a finite number of seconds >= 0"):
        camera.exposure.put(exposure)
    assert camera.exposure.get() == 0.0


def test_bad_frame_settings_are_refused_at_construction(tmp_path):
    with pytest.raises(ValueError, match="'int8' is not supported"):
        make_camera(tmp_path, dtype="int8")
    with pytest.raises(ValueError, match=r"frame shape \(0, 10\)"):
        make_camera(tmp_path, shape=(0, 10))
    with pytest.raises(ValueError, match="time_scale -2 is invalid"):
        make_camera(tmp_path, time_scale=-2)
    with pytest.raises(ValueError, match=r"unknown writer 'png'; allowed: hdf5, npy, tiff, zarr"):
        make_camera(tmp_path, writer="png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("exposure", [0.0, 0.01])  # completed at once; on the thread
@pytest.mark.parametrize("writer", WRITERS)
def test_write_behind_gives_the_same_documents_and_frames(
    RE, documents, tmp_path, writer, exposure
):
    camera = make_camera(tmp_path, writer=writer, write_queue=4, shape=(32, 48), exposure=exposure)
    RE(count([camera], num=6))

    validate(documents)
    (resource,) = only(documents, "resource")
    events = only(documents, "event")
    assert [d["datum_kwargs"] for d in only(documents, "datum")] == [
        writer_for(writer).datum_kwargs(i) for i in range(6)
    ]
    produced = np.stack([camera.scene.render(e["data"]["cam_scene_time"]) for e in events])
    np.testing.assert_array_equal(read_frames_from_resource(resource, 6), produced)


def test_a_failed_write_behind_fails_the_run(RE, documents, tmp_path):
    class FullDisk(NpySequenceWriter):
        def _write(self, frame, index):
            if index == 2:
                raise OSError(28, "No space left on device")
            super()._write(frame, index)

    camera = make_camera(tmp_path, writer=FullDisk, write_queue=8, shape=(8, 8))
    # Raised by the next trigger (the run fails) or, if the writes lagged behind the
    # last trigger, by unstage, after the stop document: the plan fails either way.
    with pytest.raises(RuntimeError, match=r"writing frame 2 of .* failed"):
        RE(count([camera], num=4))
    assert camera.writer is None
    assert sorted(path.name[-6:] for path in tmp_path.rglob("*.npy")) == ["_0.npy", "_1.npy"]


@pytest.mark.parametrize(
    ("write_queue", "error", "exit_status", "events"),
    [(0, FailedStatus, "fail", 2), (2, RuntimeError, "success", 3)],
)
def test_a_failed_last_write_fails_the_run_itself_only_without_a_write_queue(
    RE, documents, tmp_path, write_queue, error, exit_status, events
):
    """Why ``write_queue=0`` stays the default: the run's record stays true."""

    class FullDisk(NpySequenceWriter):
        def _write(self, frame, index):
            if index == 2:
                raise OSError(28, "No space left on device")
            super()._write(frame, index)

    camera = make_camera(tmp_path, writer=FullDisk, write_queue=write_queue, shape=(8, 8))
    with pytest.raises(error):
        RE(count([camera], num=3))
    (stop,) = only(documents, "stop")
    assert stop["exit_status"] == exit_status
    # with a queue, the stop says "success" and an event names the frame that is missing
    assert len(only(documents, "event")) == events
    assert len(list(tmp_path.rglob("*.npy"))) == 2


@pytest.mark.parametrize("write_queue", [-1, 2.0, None])
def test_write_queue_must_be_an_integer_of_at_least_zero(tmp_path, write_queue):
    with pytest.raises(ValueError, match=f"write_queue {write_queue!r} is invalid; allowed"):
        make_camera(tmp_path, write_queue=write_queue)
