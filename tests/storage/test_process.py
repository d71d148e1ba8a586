"""Write-behind in a writer process (storage/_process.py), with real children and files."""

import os
import signal

import numpy as np
import pytest
from bluesky.plans import count

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.storage import FrameWriter, ProcessWriter, WriterProcess, writer_for
from support import WRITERS, only, read_frames_from_resource, validate


def frames(n, shape=(4, 5), dtype=np.uint16):
    return [np.full(shape, i, dtype) for i in range(n)]


@pytest.fixture
def process():
    child = WriterProcess()
    yield child
    child.stop()


def test_implements_the_writer_protocol():
    assert isinstance(ProcessWriter("npy"), FrameWriter)


@pytest.mark.parametrize("name", WRITERS)
def test_frames_are_written_in_order_and_read_back_exactly(name, tmp_path):
    written = frames(10, shape=(6, 7, 3), dtype=np.uint8)
    writer = ProcessWriter(name, {"fsync": True}, max_pending=3)
    writer.open(tmp_path, "cam")
    assert [writer.append(frame) for frame in written] == list(range(10))
    writer.close()
    assert (writer.frames_written, writer.frames_pending) == (10, 0)
    local = writer_for(name)
    description = writer.describe()
    resource = {
        "spec": description.spec,
        "root": str(tmp_path),
        "resource_path": description.relative_path,
        "resource_kwargs": description.resource_kwargs,
    }
    np.testing.assert_array_equal(read_frames_from_resource(resource, 10), np.stack(written))
    assert writer.datum_kwargs(3) == local.datum_kwargs(3)


def test_an_existing_output_is_refused_at_open_with_its_own_error(tmp_path, process):
    first = ProcessWriter("hdf5", process=process)
    first.open(tmp_path, "cam")
    first.close()
    second = ProcessWriter("hdf5", process=process)
    with pytest.raises(FileExistsError, match="cam"):
        second.open(tmp_path, "cam")
    assert process.running  # the child serves the next writer


def test_a_frame_of_another_format_is_refused_before_it_is_queued(tmp_path):
    writer = ProcessWriter("tiff")
    writer.open(tmp_path, "cam")
    writer.append(np.zeros((4, 5), np.uint16))
    with pytest.raises(ValueError, match="shape"):
        writer.append(np.zeros((5, 5), np.uint16))
    writer.close()
    assert writer.frames_written == 1


def test_a_failed_write_fails_the_next_frame_and_close_and_nothing_after_it_is_written(
    tmp_path,
):
    directory = tmp_path / "frames"
    directory.mkdir()
    writer = ProcessWriter("tiff", max_pending=1)
    writer.open(directory, "cam")
    writer.append(np.zeros((4, 5), np.uint16))
    writer.append(np.ones((4, 5), np.uint16))  # waits until frame 0 is written
    directory.rename(tmp_path / "moved")  # the frames after those in flight cannot be written
    with pytest.raises(RuntimeError, match=r"failed \((FileNotFoundError|OSError)"):
        for _ in range(5):
            writer.append(np.zeros((4, 5), np.uint16))
    with pytest.raises(RuntimeError, match="later frame"):
        writer.close()
    assert not directory.exists()  # nothing written after the failure recreated it


def test_a_killed_child_fails_the_next_frame(tmp_path, process):
    writer = ProcessWriter("npy", process=process)
    writer.open(tmp_path, "cam")
    writer.append(np.zeros((4, 5), np.uint16))
    os.kill(process.pid, signal.SIGKILL)
    process._child.wait()
    with pytest.raises(RuntimeError, match="the writer process exited"):
        for _ in range(20):
            writer.append(np.zeros((4, 5), np.uint16))


def test_invalid_arguments_are_refused():
    with pytest.raises(ValueError, match="max_pending 0 is invalid; allowed: an integer >= 1"):
        ProcessWriter("tiff", max_pending=0)
    with pytest.raises(ValueError, match="allowed: an installed writer's name"):
        ProcessWriter(object)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="write_process=True needs write_queue >= 1"):
        SimCamera(name="cam", write_path_template="/tmp", write_process=True)


def test_sim_camera_with_a_writer_process_in_a_run_keeps_the_child_across_stages(
    RE, documents, tmp_path
):
    camera = SimCamera(
        name="cam",
        root=str(tmp_path),
        write_path_template="frames",
        writer="hdf5",
        shape=(8, 8),
        write_queue=4,
        write_process=True,
    )
    RE(count([camera], num=5))
    child = camera._writer_process.pid
    assert child is not None
    RE(count([camera], num=3))
    assert camera._writer_process.pid == child
    validate(documents)
    first, second = only(documents, "resource")
    assert read_frames_from_resource(first, 5).shape == (5, 8, 8)
    assert read_frames_from_resource(second, 3).shape == (3, 8, 8)
    assert len(only(documents, "datum")) == 8
