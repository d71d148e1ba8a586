"""Write-behind around any writer (storage/_queued.py)."""

import threading
import time

import numpy as np
import pytest

from bluesky_timelapse.storage import FrameWriter, QueuedWriter, writer_for
from support import WRITERS, read_frames_from_resource


class GatedWriter:
    """Delegates to a real writer; each append waits for the gate, frame ``fail_at`` raises."""

    def __init__(self, writer, fail_at=None):
        self.writer, self.fail_at = writer, fail_at
        self.gate = threading.Event()
        self.appending = threading.Event()

    def __getattr__(self, name):
        return getattr(self.writer, name)

    @property
    def frames_written(self):
        return self.writer.frames_written

    def append(self, frame):
        self.appending.set()
        self.gate.wait(timeout=30)
        if self.writer.frames_written == self.fail_at:
            raise OSError(28, "No space left on device")
        return self.writer.append(frame)


def frames(n, shape=(4, 5)):
    return [np.full(shape, i, np.uint16) for i in range(n)]


def test_implements_the_writer_protocol():
    assert isinstance(QueuedWriter(writer_for("npy"), 2), FrameWriter)


@pytest.mark.parametrize("name", WRITERS)
def test_frames_are_written_in_order_and_all_on_close(name, tmp_path):
    writer = QueuedWriter(writer_for(name), max_pending=3)
    writer.open(tmp_path, "cam")
    assert [writer.append(frame) for frame in frames(10)] == list(range(10))
    writer.close()
    assert writer.frames_written == 10 and writer.frames_pending == 0
    description = writer.describe()
    resource = {
        "spec": description.spec,
        "root": str(tmp_path),
        "resource_path": description.relative_path,
        "resource_kwargs": description.resource_kwargs,
    }
    np.testing.assert_array_equal(read_frames_from_resource(resource, 10), np.stack(frames(10)))


def test_append_returns_before_the_frame_is_written(tmp_path):
    gated = GatedWriter(writer_for("npy"))
    writer = QueuedWriter(gated, max_pending=2)
    writer.open(tmp_path, "cam")
    assert writer.append(frames(1)[0]) == 0
    assert gated.appending.wait(timeout=10)
    assert writer.frames_written == 0 and writer.frames_pending == 1
    gated.gate.set()
    writer.close()
    assert writer.frames_written == 1


def test_append_blocks_while_max_pending_frames_wait(tmp_path):
    gated = GatedWriter(writer_for("npy"))
    writer = QueuedWriter(gated, max_pending=2)
    writer.open(tmp_path, "cam")
    writer.append(frames(1)[0])  # taken by the thread, held at the gate
    assert gated.appending.wait(timeout=10)
    writer.append(frames(1)[0])
    writer.append(frames(1)[0])  # the queue is now full
    fourth = threading.Thread(target=writer.append, args=(frames(1)[0],))
    fourth.start()
    fourth.join(timeout=0.5)
    assert fourth.is_alive()  # blocked: memory stays bounded
    gated.gate.set()
    fourth.join(timeout=30)
    assert not fourth.is_alive()
    writer.close()
    assert writer.frames_written == 4


def test_a_failed_write_fails_the_next_append_and_close_and_stops_writing(tmp_path):
    gated = GatedWriter(writer_for("npy"), fail_at=2)
    gated.gate.set()
    writer = QueuedWriter(gated, max_pending=8)
    writer.open(tmp_path, "cam")
    for frame in frames(5):
        writer.append(frame)
    with pytest.raises(RuntimeError, match=r"writing frame 2 of .* failed") as raised:
        writer.close()
    assert isinstance(raised.value.__cause__, OSError)
    assert writer.frames_written == 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cam_0.npy", "cam_1.npy"]
    with pytest.raises(RuntimeError, match="not open"):
        writer.append(frames(1)[0])


def test_the_failure_is_raised_by_the_next_append(tmp_path):
    gated = GatedWriter(writer_for("npy"), fail_at=0)
    gated.gate.set()
    writer = QueuedWriter(gated, max_pending=1)
    writer.open(tmp_path, "cam")
    with pytest.raises(RuntimeError, match=r"writing frame 0 of .* failed"):
        for _ in range(1000):  # until the thread has met the failure (10 s at most)
            writer.append(frames(1)[0])
            time.sleep(0.01)
    with pytest.raises(RuntimeError, match="failed"):
        writer.close()


def test_a_frame_of_another_format_raises_at_once_and_queues_nothing(tmp_path):
    writer = QueuedWriter(writer_for("npy"), max_pending=4)
    writer.open(tmp_path, "cam")
    writer.append(np.zeros((4, 5), np.uint16))
    with pytest.raises(ValueError, match=r"shape \(4, 6\) and dtype 'uint16' does not match"):
        writer.append(np.zeros((4, 6), np.uint16))
    writer.close()
    assert writer.frames_written == 1


@pytest.mark.parametrize("max_pending", [0, -1, 1.5, True, "4"])
def test_max_pending_must_be_a_positive_integer(max_pending):
    with pytest.raises(ValueError, match=f"max_pending {max_pending!r} is invalid; allowed"):
        QueuedWriter(writer_for("npy"), max_pending)
