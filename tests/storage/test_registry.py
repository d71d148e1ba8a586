"""Finding writers by name (storage/_registry.py)."""

import pytest

from bluesky_timelapse.storage import (
    HDF5Writer,
    NpySequenceWriter,
    TiffSequenceWriter,
    ZarrWriter,
    writer_factory,
    writer_for,
    writer_names,
)


def test_the_four_bundled_writers_are_registered():
    assert set(writer_names()) >= {"tiff", "hdf5", "zarr", "npy"}
    assert writer_factory("tiff") is TiffSequenceWriter
    assert writer_factory("hdf5") is HDF5Writer
    assert writer_factory("zarr") is ZarrWriter
    assert writer_factory("npy") is NpySequenceWriter


def test_options_reach_the_writer():
    assert writer_for("tiff", fsync=False, compression="zlib").compression == "zlib"


def test_unknown_writer_names_the_value_and_the_allowed():
    with pytest.raises(ValueError, match=r"unknown writer 'jpeg'; allowed: hdf5, npy, tiff, zarr"):
        writer_for("jpeg")
