"""OME-Zarr (NGFF 0.5) validated with yaozarrs, read back with ome-zarr's reader and zarr."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaozarrs
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader

from bluesky_timelapse.products import ATTRIBUTES_KEY, Tone, write_ome_zarr
from timelapse_frames import failing_at, gray_levels, timelapse_array


def test_mono_frames_keep_their_values_with_t_c_y_x_and_slot_times(tmp_path: Path) -> None:
    frames = gray_levels(6, height=20, width=30)
    path = write_ome_zarr(frames, tmp_path / "t.ome.zarr", progress=False)
    yaozarrs.validate_zarr_store(str(path))
    group = zarr.open_group(str(path), mode="r")
    (multiscale,) = group.attrs["ome"]["multiscales"]
    assert [axis["name"] for axis in multiscale["axes"]] == ["t", "c", "y", "x"]
    (dataset,) = multiscale["datasets"]
    scale = dataset["coordinateTransformations"][0]["scale"]
    assert scale[0] == 600.0  # slots ten minutes apart
    data = group[dataset["path"]]
    assert data.shape == (6, 1, 20, 30) and data.dtype == np.uint16
    assert np.array_equal(data[:, 0], frames.values)
    kept = group.attrs[ATTRIBUTES_KEY]
    assert kept["slot"] == list(range(6))
    assert kept["scheduled_time"][1] == "2026-06-01T04:10:00.000000Z"


def test_ome_zarr_reader_sees_the_image_and_t_runs_with_the_slot_times(tmp_path: Path) -> None:
    rgb = np.random.default_rng(5).integers(0, 255, (5, 12, 16, 3), dtype=np.uint8)
    frames = timelapse_array(rgb, minutes_apart=15)
    path = write_ome_zarr(frames, tmp_path / "r.ome.zarr", progress=False)
    (image,) = Reader(parse_url(str(path)))()
    assert [axis["name"] for axis in image.metadata["axes"]] == ["t", "c", "y", "x"]
    assert image.metadata["channel_names"] == ["red", "green", "blue"]
    (level,) = image.data
    assert np.array_equal(np.asarray(level), np.moveaxis(rgb, -1, 1))
    ((transform,),) = image.metadata["coordinateTransformations"]
    t_coordinates = np.arange(5) * transform["scale"][0]
    since_first = (frames["scheduled_time"] - frames["scheduled_time"][0]).values
    assert np.array_equal(t_coordinates, since_first / np.timedelta64(1, "s"))
    kept = zarr.open_group(str(path), mode="r").attrs[ATTRIBUTES_KEY]["scheduled_time"]
    assert np.array_equal(
        np.array([when.rstrip("Z") for when in kept], dtype="datetime64[ns]"),
        frames["scheduled_time"].values,
    )


def test_colour_frames_have_three_channels_and_a_display_window(tmp_path: Path) -> None:
    rgb = np.random.default_rng(3).integers(0, 255, (4, 8, 10, 4), dtype=np.uint8)
    path = write_ome_zarr(
        timelapse_array(rgb), tmp_path / "c.ome.zarr", tone=Tone(10, 200), progress=False
    )
    yaozarrs.validate_zarr_store(str(path))
    group = zarr.open_group(str(path), mode="r")
    assert np.array_equal(group["0"][:], np.moveaxis(rgb[..., :3], -1, 1))  # alpha dropped
    channels = group.attrs["ome"]["omero"]["channels"]
    assert [c["color"] for c in channels] == ["FF0000", "00FF00", "0000FF"]
    assert channels[0]["window"] == {"start": 10.0, "end": 200.0, "min": 0.0, "max": 255.0}


def test_refuses_a_bad_name_an_existing_group_and_leaves_nothing_on_failure(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match=r"allowed: a name ending \.ome\.zarr"):
        write_ome_zarr(gray_levels(2), tmp_path / "t.zarr", progress=False)
    with pytest.raises(OSError, match="frame 2"):
        write_ome_zarr(  # a fixed window: the failing frame is first read while writing
            failing_at(5, bad=2), tmp_path / "f.ome.zarr", tone=Tone(0, 50), progress=False
        )
    assert list(tmp_path.iterdir()) == []
    write_ome_zarr(gray_levels(2), tmp_path / "t.ome.zarr", progress=False)
    with pytest.raises(FileExistsError):
        write_ome_zarr(gray_levels(3), tmp_path / "t.ome.zarr", progress=False)
    assert zarr.open_group(str(tmp_path / "t.ome.zarr"), mode="r")["0"].shape[0] == 2
