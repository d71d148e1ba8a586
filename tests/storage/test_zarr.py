"""Zarr v3 arrays (storage/_zarr.py)."""

import numpy as np
import zarr

from bluesky_timelapse.storage import ZarrWriter


def test_one_v3_array_one_frame_per_chunk(tmp_path):
    writer = ZarrWriter()
    writer.open(tmp_path, "cam")
    for i in range(3):
        writer.append(np.full((4, 5), i, np.uint16))
    writer.close()
    array = zarr.open_array(tmp_path / "cam.zarr" / "data", mode="r")
    assert array.metadata.zarr_format == 3
    assert array.shape == (3, 4, 5)
    assert array.chunks == (1, 4, 5)
    assert array[2, 0, 0] == 2


def test_a_blank_frame_is_stored_not_left_to_the_fill_value(tmp_path):
    writer = ZarrWriter()
    writer.open(tmp_path, "cam")
    writer.append(np.zeros((4, 5), np.uint8))
    assert (tmp_path / "cam.zarr" / "data" / "c" / "0").is_dir()


def test_array_name_is_configurable(tmp_path):
    writer = ZarrWriter(array_name="camera_image")
    writer.open(tmp_path, "cam")
    writer.append(np.zeros((4, 5), np.uint8))
    assert zarr.open_group(tmp_path / "cam.zarr", mode="r")["camera_image"].shape == (1, 4, 5)


def test_describes_a_resource_pointing_at_the_array(tmp_path):
    writer = ZarrWriter()
    writer.open(tmp_path, "cam")
    description = writer.describe()
    assert description.spec == "BLUESKY_TIMELAPSE_ZARR"
    assert description.relative_path == "cam.zarr/data"
    assert description.resource_kwargs == {"chunk_shape": [1]}


def test_a_collection_axis_stores_frames_as_one_by_y_by_x(tmp_path):
    writer = ZarrWriter(collection_axis=True)
    writer.open(tmp_path, "cam")
    frames = [np.full((4, 5), i, np.uint16) for i in range(3)]
    for frame in frames:
        writer.append(frame)
    writer.close()
    array = zarr.open_array(writer.path, mode="r")
    assert array.shape == (3, 1, 4, 5) and array.chunks == (1, 1, 4, 5)
    np.testing.assert_array_equal(array[:, 0], np.stack(frames))
