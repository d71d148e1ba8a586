"""HDF5 files (storage/_hdf5.py)."""

import h5py
import numpy as np

from bluesky_timelapse.storage import HDF5Writer


def test_frames_stack_in_one_chunked_resizable_dataset(tmp_path):
    writer = HDF5Writer()
    writer.open(tmp_path, "cam")
    for i in range(3):
        writer.append(np.full((4, 5, 3), i, np.uint8))
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["cam.h5"]
    with h5py.File(tmp_path / "cam.h5", "r") as file:
        dataset = file["/entry/data/data"]
        assert dataset.shape == (3, 4, 5, 3)
        assert dataset.chunks == (1, 4, 5, 3)
        assert dataset.maxshape == (None, 4, 5, 3)
        assert dataset[2, 0, 0, 0] == 2


def test_a_swmr_reader_follows_a_running_acquisition(tmp_path):
    writer = HDF5Writer()
    writer.open(tmp_path, "cam")
    writer.append(np.full((4, 5), 1, np.uint16))
    writer.append(np.full((4, 5), 2, np.uint16))
    with h5py.File(tmp_path / "cam.h5", "r", swmr=True) as reader:
        dataset = reader["/entry/data/data"]
        assert dataset.shape == (2, 4, 5)
        writer.append(np.full((4, 5), 3, np.uint16))
        dataset.refresh()
        assert dataset.shape == (3, 4, 5)
        assert dataset[2, 0, 0] == 3
    writer.close()


def test_describes_an_ad_hdf5_resource_on_the_file(tmp_path):
    writer = HDF5Writer()
    writer.open(tmp_path, "cam")
    description = writer.describe()
    assert (description.spec, description.relative_path) == ("AD_HDF5", "cam.h5")
    assert description.resource_kwargs == {}
    assert writer.datum_kwargs(2) == {"point_number": 2}
    writer.close()
