"""Videos and GIFs decoded back by another library than the one that wrote them.

PyAV writes the videos; the ffmpeg binary of imageio-ffmpeg decodes them. PyAV
writes the GIFs; Pillow decodes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bluesky_timelapse.products import Tone, select, write_gif, write_video
from timelapse_frames import failing_at, gray_levels, timelapse_array
from video_decoding import decoded, psnr


def textured(count: int, height: int = 96, width: int = 128) -> np.ndarray:
    """Colour frames of smooth moving waves, as a sky or a leaf is (not noise)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    frames = np.empty((count, height, width, 3), np.uint8)
    for k in range(count):
        for channel in range(3):
            wave = np.sin(x / (9 + 3 * channel) + k / 3) * np.cos(y / (11 + channel) - k / 5)
            frames[k, ..., channel] = np.round(127.5 + 110 * wave)
    return frames


def test_mp4_holds_every_frame_even_sized_with_one_tone(tmp_path: Path) -> None:
    frames = gray_levels(20)  # 31 x 47: odd both ways
    path = write_video(frames, tmp_path / "t.mp4", tone=Tone(0, 19_000), progress=False)
    images, meta = decoded(path)
    assert (meta["codec"], meta["pix_fmt"].split("(")[0]) == ("h264", "yuv420p")
    assert len(images) == 20 and meta["fps"] == 24
    assert {image.shape for image in images} == {(32, 48)}
    means = [image[:31, :47].mean() for image in images]
    expected = np.arange(20) * 255 / 19
    assert np.allclose(means, expected, atol=4), means
    assert max(image[31:, :].mean() for image in images) < 20  # the pad row is black


def test_webm_in_colour_and_the_duration_sets_the_rate(tmp_path: Path) -> None:
    red = np.zeros((10, 24, 32, 3), np.uint8)
    red[..., 0] = 200
    red[5:, ..., 2] = 200  # the second half magenta
    path = write_video(timelapse_array(red), tmp_path / "t.webm", duration=2.0, progress=False)
    images, meta = decoded(path, "rgb24")
    assert meta["codec"] == "vp9" and len(images) == 10 and meta["fps"] == 5
    first, last = images[0].reshape(-1, 3).mean(0), images[-1].reshape(-1, 3).mean(0)
    assert first[0] > 170 and first[2] < 30 and last[2] > 170


def test_a_label_is_burned_in_bottom_left(tmp_path: Path) -> None:
    frames = gray_levels(3, height=120, width=160, step=0)
    plain = write_video(frames, tmp_path / "plain.mp4", tone=Tone(0, 1), progress=False)
    labelled = write_video(
        frames,
        tmp_path / "label.mp4",
        tone=Tone(0, 1),
        label="{time:%H:%M} #{slot}",
        time_zone="Europe/Paris",
        progress=False,
    )
    (before, *_), _ = decoded(plain)
    (after, *_), _ = decoded(labelled)
    assert before.max() < 20  # black
    assert after[100:, :60].max() > 200  # white text at the bottom left
    assert after[:60, 80:].max() < 20  # nothing elsewhere


def test_a_failure_midway_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="frame 7: the server went away"):
        write_video(failing_at(20, bad=7), tmp_path / "t.mp4", tone=Tone(0, 200), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_video_is_never_replaced_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "t.mp4"
    path.write_bytes(b"earlier")
    with pytest.raises(FileExistsError, match="exists"):
        write_video(gray_levels(2), path, progress=False)
    assert path.read_bytes() == b"earlier"
    write_video(gray_levels(2), path, overwrite=True, progress=False)
    assert len(decoded(path)[0]) == 2


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".webm", "vp9")])
def test_the_first_and_last_frames_match_their_source(
    tmp_path: Path, suffix: str, codec: str
) -> None:
    source = textured(13)
    chosen = select(timelapse_array(source), every=3)  # slots 0, 3, 6, 9, 12
    images, meta = decoded(write_video(chosen, tmp_path / f"t{suffix}", progress=False), "rgb24")
    assert meta["codec"] == codec and meta["size"] == (128, 96)
    assert len(images) == 5
    assert psnr(images[0], source[0]) > 30 and psnr(images[-1], source[12]) > 30
    assert psnr(images[-1], source[0]) < 20  # the frames are told apart


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("t.avi", {}, "suffix '.avi'; allowed: .mp4, .webm"),
        ("t.mp4", {"fps": 10, "duration": 3}, "give one of them, not both"),
        ("t.mp4", {"fps": 0}, "fps 0 is not allowed"),
        ("t.mp4", {"duration": -1.0}, "duration -1.0 is not allowed"),
        ("t.mp4", {"quality": 60}, "quality 60 is not allowed"),
        ("t.mp4", {"time_zone": "Mars/Olympus"}, "Mars/Olympus"),
        ("t.mp4", {"label": "{when}"}, "label '{when}' is not allowed"),
    ],
)
def test_bad_options_fail_before_anything_is_written(
    tmp_path: Path, name: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        write_video(gray_levels(2), tmp_path / name, progress=False, **options)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_inline_shows_a_video_embedded_and_refuses_other_files(tmp_path: Path) -> None:
    from bluesky_timelapse.products import inline

    video = write_video(gray_levels(3), tmp_path / "t.mp4", progress=False)
    html = inline(video, width=320)._repr_html_()
    assert "<video" in html and 'width="320"' in html and "data:video/mp4;base64," in html
    with pytest.raises(ValueError, match=r"cannot be shown inline; allowed: \.mp4, \.webm, \.png"):
        inline(tmp_path / "t.gif")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        inline(tmp_path / "missing.png")


def gif_frames(path: Path, mode: str) -> list[np.ndarray]:
    with Image.open(path) as gif:
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(np.asarray(gif.convert(mode)))
    return frames


def test_gif_loops_every_frame_in_the_grey_palette_exactly(tmp_path: Path) -> None:
    from bluesky_timelapse.products import ToneMap

    source = gray_levels(12)
    path = write_gif(source, tmp_path / "t.gif", fps=5, tone=Tone(0, 11_000), progress=False)
    with Image.open(path) as gif:
        assert (gif.n_frames, gif.size, gif.info["duration"], gif.info["loop"]) == (
            12,
            (47, 31),
            200,
            0,
        )
    frames = gif_frames(path, "L")
    expected = ToneMap(0, 11_000)(source.values)
    assert np.array_equal(frames[0], expected[0]) and np.array_equal(frames[-1], expected[-1])


def test_gif_in_a_few_colours_decodes_to_its_source_exactly(tmp_path: Path) -> None:
    colours = np.array([[0, 0, 0], [200, 30, 30], [30, 200, 30], [30, 30, 200], [250, 250, 0]])
    source = np.zeros((9, 40, 60, 3), np.uint8)
    for k in range(9):  # a block of each colour, moving right a frame at a time
        for index, colour in enumerate(colours[1:]):
            source[k, index * 10 : index * 10 + 8, k * 5 : k * 5 + 12] = colour
    chosen = select(timelapse_array(source), slots=slice(2, None), every=2)  # 2, 4, 6, 8
    frames = gif_frames(write_gif(chosen, tmp_path / "c.gif", progress=False), "RGB")
    assert len(frames) == 4 and frames[0].shape == (40, 60, 3)
    assert np.array_equal(frames[0], source[2]) and np.array_equal(frames[-1], source[8])


def test_gif_in_colour_is_scaled_down_to_its_size_limit(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    noisy = timelapse_array(rng.integers(0, 255, (6, 120, 160, 3), dtype=np.uint8))
    big = write_gif(noisy, tmp_path / "big.gif", progress=False)
    limit = big.stat().st_size // 3
    small = write_gif(noisy, tmp_path / "small.gif", max_bytes=limit, progress=False)
    assert small.stat().st_size <= limit
    with Image.open(small) as gif:
        assert gif.size[0] < 160 and gif.n_frames == 6 and gif.mode == "P"
    with pytest.raises(ValueError, match="max_bytes 10 is not met"):
        write_gif(noisy, tmp_path / "tiny.gif", max_bytes=10, progress=False)
    assert not (tmp_path / "tiny.gif").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.gif", "small.gif"]
