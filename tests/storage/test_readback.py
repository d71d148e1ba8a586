"""read_frame against the files the writers wrote (storage/_readback.py)."""

import numpy as np
import pytest

from bluesky_timelapse.storage import frame_index, read_frame, resource_path


def test_frame_index_of_the_datum_kwargs_the_writers_emit():
    assert frame_index({"point_number": 3}) == 3
    assert frame_index({"index": 4}) == 4
    assert frame_index({}) == 0


def test_an_unknown_spec_is_refused_by_name():
    resource = {"spec": "MY_SPEC", "root": "/", "resource_path": "x", "resource_kwargs": {}}
    with pytest.raises(ValueError, match="cannot read Resource spec 'MY_SPEC'; allowed: AD_HDF5"):
        read_frame(resource, 0)


def test_an_unknown_mimetype_is_refused_by_name():
    resource = {"mimetype": "image/fits", "uri": "file://localhost/tmp/x", "parameters": {}}
    with pytest.raises(ValueError, match="mimetype 'image/fits'; allowed:"):
        read_frame(resource, 0)


def test_a_remote_uri_is_refused():
    with pytest.raises(ValueError, match="'http://host/x' is not a local file"):
        resource_path({"uri": "http://host/x"})


def test_a_uri_path_is_unquoted(tmp_path):
    directory = tmp_path / "with space"
    assert resource_path(
        {"uri": f"file://localhost{directory.as_posix().replace(' ', '%20')}"}
    ) == (directory)


def test_a_one_file_template_reads_that_file(tmp_path):
    import tifffile

    frame = np.arange(12, dtype=np.uint16).reshape(3, 4)
    (tmp_path / "day").mkdir()
    tifffile.imwrite(tmp_path / "day" / "a.tiff", frame)
    resource = {
        "spec": "AD_TIFF",
        "root": str(tmp_path),
        "resource_path": "./",
        "resource_kwargs": {"template": "%s%s", "filename": "day/a.tiff"},
    }
    np.testing.assert_array_equal(read_frame(resource, 0), frame)
