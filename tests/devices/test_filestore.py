"""The FileStore mixin on a device of our own (devices/_filestore.py)."""

import numpy as np
import pytest
from bluesky.plans import count
from bluesky.utils import FailedStatus
from ophyd import Component as Cpt
from ophyd import Device
from ophyd.status import DeviceStatus

from bluesky_timelapse.devices import FileStoreMixin, FrameSignal
from bluesky_timelapse.storage import FrameFormat, NpySequenceWriter
from support import only, read_frames_from_resource, validate


class ListCamera(FileStoreMixin, Device):
    """Plays back a list of frames, one per trigger (synchronously)."""

    image = Cpt(FrameSignal, kind="normal")

    def __init__(self, frames, **kwargs):
        self.frames = list(frames)
        self.frame_format = FrameFormat.of(self.frames[0])
        super().__init__(**kwargs)

    def trigger(self):
        status = DeviceStatus(self)
        try:
            self.image.put(self.store_frame(self.frames.pop(0)))
        except Exception as err:
            status.set_exception(err)
        else:
            status.set_finished()
        return status


def frames(n, shape=(6, 8), dtype=np.uint16):
    return [np.full(shape, i, dtype) for i in range(n)]


def test_any_device_gets_resource_datum_and_files(RE, documents, tmp_path):
    camera = ListCamera(frames(3), name="cam", root=str(tmp_path), write_path_template="run")
    RE(count([camera], num=3))
    validate(documents)
    (resource,) = only(documents, "resource")
    assert resource["root"] == str(tmp_path)
    assert resource["resource_path"] == "run/"
    assert resource["resource_kwargs"]["filename"].startswith("cam_")
    assert [datum["datum_kwargs"] for datum in only(documents, "datum")] == [
        {"point_number": i} for i in range(3)
    ]
    np.testing.assert_array_equal(read_frames_from_resource(resource, 3), np.stack(frames(3)))


def test_documents_record_the_read_path(RE, documents, tmp_path):
    camera = ListCamera(
        frames(1),
        name="cam",
        root="/nfs/lab",
        write_path_template=str(tmp_path / "%Y"),
        read_path_template="/nfs/lab/camera/%Y",
        writer="hdf5",
    )
    RE(count([camera]))
    (resource,) = only(documents, "resource")
    assert resource["root"] == "/nfs/lab"
    assert resource["resource_path"].startswith("camera/20")
    assert resource["resource_path"].endswith(".h5")
    assert len(list(tmp_path.glob("*/cam_*.h5"))) == 1


def test_a_writer_factory_can_be_passed_directly(RE, documents, tmp_path):
    camera = ListCamera(
        frames(2),
        name="cam",
        root=str(tmp_path),
        write_path_template=str(tmp_path),
        writer=NpySequenceWriter,
        writer_options={"fsync": False},
    )
    RE(count([camera], num=2))
    (resource,) = only(documents, "resource")
    assert resource["spec"] == "NPY_SEQ"
    assert [d["datum_kwargs"] for d in only(documents, "datum")] == [{"index": 0}, {"index": 1}]


def test_a_template_escaping_root_fails_before_any_resource(RE, documents, tmp_path):
    root = tmp_path / "data"
    camera = ListCamera(frames(1), name="cam", root=str(root), write_path_template="../outside")
    with pytest.raises(
        ValueError, match=f"resolves to '{tmp_path}/outside', outside root '{root}'"
    ):
        RE(count([camera]))
    assert only(documents, "resource") == []
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_directory_fails_before_any_resource(RE, documents, unwritable_directory):
    camera = ListCamera(
        frames(1),
        name="cam",
        root=str(unwritable_directory),
        write_path_template=str(unwritable_directory),
    )
    with pytest.raises(
        PermissionError, match=f"cannot write frames into '{unwritable_directory}'"
    ):
        RE(count([camera]))
    assert only(documents, "resource") == []


def test_an_uncreatable_directory_is_named(RE, documents, tmp_path):
    (tmp_path / "file").write_text("not a directory")
    camera = ListCamera(frames(1), name="cam", root=str(tmp_path), write_path_template="file/sub")
    with pytest.raises(
        PermissionError, match=f"cannot create the directory '{tmp_path}/file/sub'"
    ):
        RE(count([camera]))
    assert only(documents, "resource") == []


@pytest.mark.parametrize("writer", ["tiff", "hdf5", "zarr", "npy"])
def test_a_frame_of_another_format_fails_the_trigger_and_writes_nothing(
    RE, documents, tmp_path, writer
):
    bad = np.zeros((6, 9), np.uint16)
    camera = ListCamera(
        [*frames(2), bad], name="cam", root=str(tmp_path), write_path_template=".", writer=writer
    )
    with pytest.raises(FailedStatus) as failure:
        RE(count([camera], num=3))
    assert "frame of shape (6, 9) and dtype 'uint16' does not match" in str(
        failure.value.__cause__
    )
    assert len(only(documents, "datum")) == 2
    assert only(documents, "stop")[0]["exit_status"] == "fail"
    (resource,) = only(documents, "resource")
    np.testing.assert_array_equal(read_frames_from_resource(resource, 2), np.stack(frames(2)))
    assert camera.writer is None


def test_storing_a_frame_needs_staging(tmp_path):
    camera = ListCamera(frames(1), name="cam", root=str(tmp_path), write_path_template=".")
    with pytest.raises(RuntimeError, match="cam is not staged"):
        camera.store_frame(frames(1)[0])


def test_each_stage_makes_a_new_resource_and_never_reuses_files(RE, documents, tmp_path):
    camera = ListCamera(frames(4), name="cam", root=str(tmp_path), write_path_template=".")
    RE(count([camera], num=2))
    RE(count([camera], num=2))
    first, second = only(documents, "resource")
    assert first["uid"] != second["uid"]
    assert first["resource_kwargs"]["filename"] != second["resource_kwargs"]["filename"]
    assert len(list(tmp_path.glob("cam_*.tiff"))) == 4


def test_a_device_without_a_writer_stages_without_a_resource_and_stores_nothing(tmp_path):
    camera = ListCamera(
        frames(1), name="cam", root=str(tmp_path), write_path_template="run", writer=None
    )
    camera.stage()
    try:
        assert list(camera.collect_asset_docs()) == []
        assert camera.writer is None
        with pytest.raises(RuntimeError, match=r"cam has no writer \(writer=None\)"):
            camera.store_frame(frames(1)[0])
    finally:
        camera.unstage()
    assert list(tmp_path.iterdir()) == []
