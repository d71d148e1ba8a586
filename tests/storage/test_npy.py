"""NPY sequences (storage/_npy.py)."""

import numpy as np

from bluesky_timelapse.storage import NpySequenceWriter


def test_files_follow_ophyd_sim_naming(tmp_path):
    writer = NpySequenceWriter()
    writer.open(tmp_path, "cam")
    for i in range(11):
        writer.append(np.full((4, 5), i, np.uint8))
    writer.close()
    assert (tmp_path / "cam_0.npy").exists()
    assert (tmp_path / "cam_10.npy").exists()
    assert np.load(tmp_path / "cam_10.npy")[0, 0] == 10


def test_describes_an_npy_seq_resource_on_the_stem(tmp_path):
    writer = NpySequenceWriter()
    writer.open(tmp_path, "cam")
    description = writer.describe()
    assert (description.spec, description.relative_path) == ("NPY_SEQ", "cam")
    assert description.resource_kwargs == {}
    assert writer.datum_kwargs(3) == {"index": 3}
