"""Contact sheets, keograms and star trails, read back with Pillow."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bluesky_timelapse.products import Tone, contact_sheet, keogram, select, star_trails
from timelapse_frames import failing_at, gray_levels, timelapse_array


def pixels_of(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return np.asarray(image)


def test_contact_sheet_every_kth_frame_captioned(tmp_path: Path) -> None:
    frames = gray_levels(100, height=30, width=40, step=600)
    path = contact_sheet(
        frames, tmp_path / "sheet.png", tiles=12, columns=4, tile_width=80,
        tone=Tone(0, 59_400), progress=False,
    )  # fmt: skip
    sheet = pixels_of(path)
    tile_height, caption = 60, max(10, 80 // 16) + 6
    assert sheet.shape == (3 * (tile_height + caption), 4 * 80, 3)
    for position, slot in enumerate(range(0, 100, 9)):  # every 9th: 12 tiles
        top, left = (position // 4) * (tile_height + caption), (position % 4) * 80
        tile = sheet[top + 5 : top + tile_height - 5, left + 5 : left + 75]
        assert abs(tile.mean() - slot * 600 * 255 / 59_400) < 3, (position, slot)
        assert sheet[top + tile_height : top + tile_height + caption, left : left + 80].max() > 150


def test_keogram_puts_the_centre_column_of_each_frame_side_by_side(tmp_path: Path) -> None:
    count, height, width = 50, 20, 30
    pixels = np.zeros((count, height, width), np.uint16)
    pixels[:, :, width // 2] = np.arange(count)[:, None] * 100 + np.arange(height)[None, :]
    path = keogram(
        timelapse_array(pixels), tmp_path / "k.png", tone=Tone(0, 5_100), progress=False
    )
    out = pixels_of(path)
    assert out.shape == (height, count)
    expected = Tone(0, 5_100).fit(timelapse_array(pixels))(pixels[:, :, width // 2].T)
    assert np.array_equal(out, expected)
    by_row = keogram(timelapse_array(pixels), tmp_path / "r.png", row=3, progress=False)
    assert pixels_of(by_row).shape == (width, count)


def test_keogram_of_colour_frames_is_in_colour(tmp_path: Path) -> None:
    rgb = np.zeros((4, 10, 10, 3), np.uint8)
    rgb[..., 1] = 180
    out = pixels_of(keogram(timelapse_array(rgb), tmp_path / "k.png", column=0, progress=False))
    assert out.shape == (10, 4, 3) and (out[..., 1] == 180).all() and not out[..., 0].any()


def test_star_trails_keep_the_brightest_value_of_each_pixel(tmp_path: Path) -> None:
    count = 12
    pixels = np.full((count, 16, 16), 100, np.uint16)
    for k in range(count):
        pixels[k, k, k] = 4_000  # a star moving along the diagonal
    out = pixels_of(star_trails(timelapse_array(pixels), tmp_path / "s.png", progress=False))
    diagonal = out[np.arange(count), np.arange(count)]
    assert (diagonal == 255).all() and out[0, 15] < 10


def test_selection_by_slot_time_and_stride(tmp_path: Path) -> None:
    frames = gray_levels(30)
    assert list(select(frames, slots=slice(5, 20), every=5)["slot"].values) == [5, 10, 15]
    start = frames["scheduled_time"].values[10].astype("datetime64[s]").item()
    from datetime import UTC

    chosen = select(frames, start=start.replace(tzinfo=UTC))
    assert chosen["slot"].values[0] == 10 and chosen.sizes["slot"] == 20
    with pytest.raises(ValueError, match="no frame left of 30"):
        select(frames, slots=slice(40, None))
    with pytest.raises(ValueError, match="every 0 is not allowed"):
        select(frames, every=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        select(frames, start=start)


def test_pictures_refuse_bad_input_and_leave_nothing_on_failure(tmp_path: Path) -> None:
    frames = gray_levels(5)
    with pytest.raises(ValueError, match=re.escape("suffix '.jpg'; allowed: .png")):
        star_trails(frames, tmp_path / "s.jpg", progress=False)
    with pytest.raises(ValueError, match="column 47 is not allowed; allowed: a whole number 0-46"):
        keogram(frames, tmp_path / "k.png", column=47, progress=False)
    with pytest.raises(ValueError, match="give one of them"):
        keogram(frames, tmp_path / "k.png", column=1, row=1, progress=False)
    with pytest.raises(ValueError, match="tiles 0 is not allowed"):
        contact_sheet(frames, tmp_path / "c.png", tiles=0, progress=False)
    with pytest.raises(OSError, match="frame 3"):
        keogram(failing_at(6, bad=3), tmp_path / "k.png", progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "tone, message",
    [
        ({"low": 1.0}, "give both ends of the range or neither"),
        ({"low": 5.0, "high": 5.0}, "range 5.0..5.0 is not allowed"),
        ({"percentiles": (50, 10)}, "percentiles (50, 10) are not allowed"),
        ({"sample": 0}, "sample 0 is not allowed"),
    ],
)
def test_a_bad_tone_is_refused(tone: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Tone(**tone)  # type: ignore[arg-type]


def test_auto_tone_is_fitted_once_over_a_sample() -> None:
    frames = gray_levels(100, step=100)  # 0 .. 9,900
    fitted = Tone(percentiles=(0, 100), sample=5).fit(frames)
    assert (fitted.low, fitted.high) == (0.0, 9_900.0)
    eight_bit = timelapse_array(np.full((3, 2, 2), 7, np.uint8))
    assert Tone().fit(eight_bit).low == 0.0 and Tone().fit(eight_bit).high == 255.0
