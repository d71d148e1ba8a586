"""Choosing frames and their pixels (crop, scale), and frames that cannot be read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from PIL import Image

from bluesky_timelapse.products import (
    ATTRIBUTES_KEY,
    Tone,
    UnreadableFrameWarning,
    contact_sheet,
    keogram,
    select,
    star_trails,
    write_gif,
    write_ome_zarr,
    write_video,
)
from timelapse_frames import failing_at, timelapse_array
from video_decoding import decoded


def ramp(count: int = 4, height: int = 8, width: int = 12) -> np.ndarray:
    return np.arange(count * height * width, dtype=np.uint16).reshape(count, height, width)


def test_crop_keeps_the_rows_and_columns_asked_for() -> None:
    pixels = ramp()
    cropped = select(timelapse_array(pixels), crop=(slice(2, 6), slice(None, 5)))
    assert np.array_equal(cropped.values, pixels[:, 2:6, :5])
    assert list(cropped["slot"].values) == [0, 1, 2, 3]


def test_scale_averages_areas_keeps_the_dtype_and_reads_nothing_until_asked() -> None:
    pixels = ramp()
    halved = select(failing_at(3, bad=1, shape=(8, 12)), scale=0.5)  # lazy: no read yet
    assert halved.shape == (3, 4, 6) and halved.dtype == np.uint16
    halved = select(timelapse_array(pixels), scale=0.5)
    blocks = pixels.reshape(4, 4, 2, 6, 2).astype(np.float64).mean(axis=(2, 4))
    assert np.array_equal(halved.values, np.rint(blocks))
    assert (
        halved["scheduled_time"].values[1] == timelapse_array(pixels)["scheduled_time"].values[1]
    )
    colour = np.zeros((2, 10, 10, 3), np.uint8)
    colour[..., 1] = 200
    doubled = select(timelapse_array(colour), crop=(slice(0, 5), slice(0, 10)), scale=2)
    assert doubled.shape == (2, 10, 20, 3) and np.all(doubled.values[..., 1] == 200)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"crop": (slice(0, 0), slice(None))}, "crop .* is not allowed for frames of 8x12"),
        ({"crop": (slice(20, 30), slice(None))}, "crop .* is not allowed"),
        ({"crop": (slice(0, 4, 2), slice(None))}, "two slices without a step"),
        ({"crop": (3, 4)}, r"crop \(3, 4\) is not allowed"),
        ({"scale": 0}, "scale 0 is not allowed; allowed: a factor > 0 and <= 8"),
        ({"scale": 9.5}, "scale 9.5 is not allowed"),
    ],
)
def test_a_bad_crop_or_scale_is_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        select(timelapse_array(ramp()), **options)  # type: ignore[arg-type]


def test_an_unreadable_frame_stops_a_product_unless_skipped(tmp_path: Path) -> None:
    frames = failing_at(10, bad=[3, 7])
    with pytest.raises(OSError, match=r"frame [37]: the server went away"):  # read together
        write_video(frames, tmp_path / "t.mp4", tone=Tone(0, 100), progress=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.warns(UnreadableFrameWarning) as warned:
        video = write_video(frames, tmp_path / "t.mp4", unreadable="skip", progress=False)
    (warning,) = warned
    message = str(warning.message)
    assert message.startswith("2 of 10 frames could not be read and were left out: slot 3 (")
    assert "slot 7 (OSError: frame 7: the server went away)" in message
    assert len(decoded(video)[0]) == 8


def test_skipped_frames_keep_their_place_in_a_keogram_and_a_sheet(tmp_path: Path) -> None:
    frames = failing_at(6, bad=2)
    with pytest.warns(UnreadableFrameWarning, match="slot 2"):
        path = keogram(
            frames, tmp_path / "k.png", tone=Tone(0, 50), unreadable="skip", progress=False
        )
    columns = np.asarray(Image.open(path))[0]
    expected = np.array([0, 10, 0, 30, 40, 50]) * 255 // 50
    assert np.array_equal(columns, expected)  # slot 2's column black, the others in time
    with pytest.warns(UnreadableFrameWarning):
        sheet = contact_sheet(
            frames, tmp_path / "s.png", columns=3, unreadable="skip", progress=False
        )
    tiles = np.asarray(Image.open(sheet).convert("L"))
    assert tiles.shape[1] == 3 * 240
    assert tiles[:240, 480:].max() == 0 and tiles[240:260, 480:].max() > 200  # black, captioned
    assert tiles[:240, 240:480].min() > 0  # slot 1 is there
    with pytest.warns(UnreadableFrameWarning):
        trails = star_trails(
            failing_at(4, bad=3),
            tmp_path / "t.png",
            tone=Tone(0, 30),
            unreadable="skip",
            progress=False,
        )
    assert np.asarray(Image.open(trails)).max() == 20 * 255 // 30  # 30, slot 3's, is left out


def test_skipped_frames_in_gif_and_ome_zarr(tmp_path: Path) -> None:
    with pytest.warns(UnreadableFrameWarning):
        gif = write_gif(
            failing_at(5, bad=0), tmp_path / "t.gif", unreadable="skip", progress=False
        )
    assert Image.open(gif).n_frames == 4
    with pytest.warns(UnreadableFrameWarning):
        path = write_ome_zarr(
            failing_at(5, bad=[1, 4]), tmp_path / "t.ome.zarr", unreadable="skip", progress=False
        )
    group = zarr.open_group(str(path), mode="r")
    assert group.attrs[ATTRIBUTES_KEY]["unreadable"] == [1, 4]
    planes = group["0"][:, 0]
    assert [int(plane.max()) for plane in planes] == [0, 0, 20, 30, 0]


def test_no_readable_frame_is_an_error_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="none of the 3 frames could be read: slot 0"):
        write_video(failing_at(3, bad=[0, 1, 2]), tmp_path / "t.mp4", tone=Tone(0, 1),
                    unreadable="skip", progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="none of the 3 frames sampled to fit the tone"):
        keogram(
            failing_at(3, bad=[0, 1, 2]), tmp_path / "k.png", unreadable="skip", progress=False
        )
    with pytest.raises(
        ValueError, match="unreadable 'ignore' is not allowed; allowed: raise, skip"
    ):
        star_trails(failing_at(3, bad=0), tmp_path / "s.png", unreadable="ignore")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
