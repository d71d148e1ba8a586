"""TIFF sequences (storage/_tiff.py)."""

import numpy as np
import tifffile

from bluesky_timelapse.storage import TiffSequenceWriter


def test_one_file_per_frame_named_by_index(tmp_path):
    writer = TiffSequenceWriter()
    writer.open(tmp_path, "cam")
    for i in range(3):
        writer.append(np.full((4, 5), i, np.uint16))
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cam_000000.tiff",
        "cam_000001.tiff",
        "cam_000002.tiff",
    ]
    assert tifffile.imread(tmp_path / "cam_000002.tiff")[0, 0] == 2


def test_colour_frames_are_stored_as_rgb(tmp_path):
    writer = TiffSequenceWriter()
    writer.open(tmp_path, "cam")
    writer.append(np.zeros((4, 5, 3), np.uint8))
    with tifffile.TiffFile(tmp_path / "cam_000000.tiff") as tif:
        assert tif.pages[0].photometric == tifffile.PHOTOMETRIC.RGB


def test_compression_is_applied(tmp_path):
    writer = TiffSequenceWriter(compression="zlib")
    writer.open(tmp_path, "cam")
    writer.append(np.zeros((64, 64), np.uint16))
    with tifffile.TiffFile(tmp_path / "cam_000000.tiff") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE


def test_describes_an_ad_tiff_resource_on_the_directory(tmp_path):
    writer = TiffSequenceWriter()
    writer.open(tmp_path, "cam")
    description = writer.describe()
    assert description.spec == "AD_TIFF"
    assert description.relative_path == ""
    assert description.resource_kwargs == {"template": "%s%s_%6.6d.tiff", "filename": "cam"}
    assert writer.datum_kwargs(4) == {"point_number": 4}
    assert "%s%s_%6.6d.tiff" % ("", "cam", 4) == "cam_000004.tiff"  # noqa: UP031, as the handler
