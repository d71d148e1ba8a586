"""The writer contract every bundled writer shares (storage/_base.py)."""

from pathlib import Path

import numpy as np
import pytest

from bluesky_timelapse.storage import FrameFormat, FrameWriter, writer_for
from support import WRITERS, read_frames_from_resource


def test_frame_format_accepts_grayscale_and_colour():
    assert not FrameFormat((4, 5), np.uint16).is_colour
    assert FrameFormat((4, 5, 3), np.uint8).is_colour
    assert FrameFormat((4, 5, 4), "float32").shape == (4, 5, 4)


@pytest.mark.parametrize("shape", [(5,), (4, 5, 2), (4, 5, 3, 1), (0, 5)])
def test_frame_format_rejects_shapes(shape):
    with pytest.raises(ValueError, match=rf"frame shape \({shape[0]},.*allowed: \(y, x\)"):
        FrameFormat(shape, np.uint8)


def test_frame_format_rejects_dtype_and_names_allowed():
    with pytest.raises(ValueError, match=r"'complex64' is not supported; allowed: uint8, uint16"):
        FrameFormat((4, 5), np.complex64)


@pytest.mark.parametrize("name", WRITERS)
def test_writers_implement_the_protocol(name):
    assert isinstance(writer_for(name), FrameWriter)


@pytest.mark.parametrize("name", WRITERS)
def test_format_change_raises_before_touching_files(name, tmp_path):
    writer = writer_for(name)
    writer.open(tmp_path, "cam")
    writer.append(np.zeros((4, 5), np.uint16))
    before = _snapshot(tmp_path)
    with pytest.raises(ValueError, match=r"shape \(4, 6\) and dtype 'uint16' does not match"):
        writer.append(np.zeros((4, 6), np.uint16))
    with pytest.raises(ValueError, match=r"dtype 'uint8' does not match"):
        writer.append(np.zeros((4, 5), np.uint8))
    assert _snapshot(tmp_path) == before
    assert writer.frames_written == 1
    assert writer.append(np.ones((4, 5), np.uint16)) == 1
    writer.close()


@pytest.mark.parametrize("name", WRITERS)
def test_never_overwrites_an_existing_output(name, tmp_path):
    first = writer_for(name)
    first.open(tmp_path, "cam")
    first.append(np.full((4, 5), 7, np.uint8))
    first.close()
    before = _snapshot(tmp_path)
    with pytest.raises(FileExistsError, match="already exists"):
        writer_for(name).open(tmp_path, "cam")
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("name", WRITERS)
def test_unwritable_directory_is_refused_by_name(name, unwritable_directory):
    with pytest.raises(
        PermissionError, match=f"cannot write frames into '{unwritable_directory}'"
    ):
        writer_for(name).open(unwritable_directory, "cam")


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\\b", "a\0b"])
def test_output_name_must_be_plain(bad, tmp_path):
    with pytest.raises(ValueError, match="is not a plain file name"):
        writer_for("tiff").open(tmp_path, bad)
    assert list(tmp_path.iterdir()) == []


def test_append_needs_an_open_writer(tmp_path):
    writer = writer_for("npy")
    with pytest.raises(RuntimeError, match="is not open"):
        writer.append(np.zeros((4, 5), np.uint8))
    writer.open(tmp_path, "cam")
    writer.close()
    with pytest.raises(RuntimeError, match="is not open"):
        writer.append(np.zeros((4, 5), np.uint8))


@pytest.mark.parametrize("fsync", [True, False])
@pytest.mark.parametrize("name", WRITERS)
def test_frames_written_counts_appended_frames(name, fsync, tmp_path):
    writer = writer_for(name, fsync=fsync)
    writer.open(tmp_path, "cam")
    assert writer.frames_written == 0
    indices = [writer.append(np.full((3, 4), i, np.float32)) for i in range(4)]
    assert indices == [0, 1, 2, 3]
    assert writer.frames_written == 4
    writer.close()
    writer.close()


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


FRAMES = {
    "mono-uint8": np.arange(12 * 16, dtype=np.uint8).reshape(12, 16),
    "mono-uint16": (np.arange(12 * 16, dtype=np.uint16) * 300).reshape(12, 16),
    "mono-float32": np.linspace(-1, 1, 12 * 16, dtype=np.float32).reshape(12, 16),
    "rgb-uint8": np.arange(12 * 16 * 3, dtype=np.uint8).reshape(12, 16, 3),
    "rgb-uint16": (np.arange(12 * 16 * 3, dtype=np.uint16) * 97).reshape(12, 16, 3),
    "rgba-float32": np.linspace(0, 1, 12 * 16 * 4, dtype=np.float32).reshape(12, 16, 4),
}


@pytest.mark.parametrize("kind", FRAMES)
@pytest.mark.parametrize("name", WRITERS)
def test_frames_read_back_exactly_with_the_format_library(name, kind, tmp_path):
    frames = [FRAMES[kind] + i for i in range(3)]
    writer = writer_for(name)
    writer.open(tmp_path, "cam")
    for frame in frames:
        writer.append(frame)
    writer.close()
    description = writer.describe()
    resource = {
        "spec": description.spec,
        "root": str(tmp_path),
        "resource_path": description.relative_path,
        "resource_kwargs": description.resource_kwargs,
    }
    read = read_frames_from_resource(resource, 3)
    assert read.dtype == frames[0].dtype
    np.testing.assert_array_equal(read, np.stack(frames))
