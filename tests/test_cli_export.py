"""``bluesky-timelapse export``: products of a timelapse read back from the embedded Tiled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import stamina
import yaozarrs
import zarr
from bluesky import RunEngine
from bluesky_tiled_plugins import TiledWriter
from PIL import Image

from bluesky_timelapse import cli
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.plans import timelapse
from bluesky_timelapse.products import Tone
from bluesky_timelapse.schedules import every
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from bluesky_timelapse.tiled import load
from video_decoding import decoded

SLOTS = 8


@pytest.fixture(scope="module")
def garden(tiled_client, data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A timelapse of eight uint16 frames (a sky brightening) in the shared embedded server."""
    camera = SimCamera(
        name="cam", root=str(data_root), write_path_template="export", writer="tiff",
        shape=(48, 64), time_scale=7200.0,
    )  # fmt: skip
    RE = RunEngine({})
    RE.subscribe(TiledWriter(tiled_client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    schedule = every(0.1, count=SLOTS, start=datetime.now(UTC) + timedelta(seconds=0.2))
    store = tmp_path_factory.mktemp("store")
    RE(timelapse([camera], schedule.to_dict(), store=str(store), timelapse_id="export-garden"))
    return "export-garden"


def export(data_dir: Path, *args: str) -> int:
    return cli.main(["export", *args, "--data-dir", str(data_dir), "--no-progress"])


def test_a_video_of_every_frame_from_tiled(
    garden: str, data_dir: Path, tiled_client, tmp_path: Path
) -> None:
    out = tmp_path / "garden.mp4"
    assert export(data_dir, garden, str(out), "--fps", "4", "--label", "{slot}") == 0
    frames = load(tiled_client, garden)  # (slot, 48, 64) uint16
    expected = Tone().fit(frames)(frames.values)  # the same tone for every frame
    images, meta = decoded(out)
    assert meta["fps"] == 4 and len(images) == SLOTS
    for image, frame in zip(images, expected, strict=True):
        top = slice(0, 30)  # above the label
        assert abs(image[top].astype(float).mean() - frame[top].mean()) < 4


def test_pictures_and_a_selection(
    garden: str, data_dir: Path, tiled_client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet, keo, trails = tmp_path / "s.png", tmp_path / "k.png", tmp_path / "t.png"
    assert export(data_dir, garden, str(sheet), "--sheet", "--every", "2") == 0
    assert f"{sheet} (4 frames of timelapse {garden})" in capsys.readouterr().out
    assert export(data_dir, garden, str(keo), "--keogram", "--slots", "2:6") == 0
    assert export(data_dir, garden, str(trails), "--startrails", "--range", "0", "65535") == 0
    with Image.open(keo) as image:
        assert image.size == (4, 48) and image.mode == "L"
    brightest = load(tiled_client, garden).values.max(axis=0)
    with Image.open(trails) as image:
        assert image.size == (64, 48)
        assert np.abs(np.asarray(image) - brightest / 257).max() <= 1
    with Image.open(sheet) as image:
        assert image.width == 4 * 240


def test_a_gif_within_a_size_limit(garden: str, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "garden.gif"
    assert export(data_dir, garden, str(out), "--width", "32", "--max-bytes", "100000") == 0
    with Image.open(out) as gif:
        assert (gif.n_frames, gif.size, gif.info["duration"]) == (SLOTS, (32, 24), 100)
    assert out.stat().st_size <= 100_000


def test_ome_zarr_of_a_time_range(
    garden: str, data_dir: Path, tiled_client, tmp_path: Path
) -> None:
    frames = load(tiled_client, garden)
    start = frames["scheduled_time"].values[3].astype("datetime64[us]").item()
    out = tmp_path / "garden.ome.zarr"
    assert export(data_dir, garden, str(out), "--start", f"{start.isoformat()}+00:00") == 0
    yaozarrs.validate_zarr_store(str(out))
    data = zarr.open_group(str(out), mode="r")["0"]
    assert data.shape == (SLOTS - 3, 1, 48, 64)
    assert np.array_equal(data[:, 0], frames.values[3:])


def test_a_cropped_scaled_video(garden: str, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "crop.webm"
    assert export(data_dir, garden, str(out), "--crop", "8:40,0:32", "--scale", "0.5") == 0
    images, meta = decoded(out)
    assert meta["size"] == (16, 16) and len(images) == SLOTS


def test_an_unreadable_frame_fails_the_export_or_is_skipped_and_named(
    tiled_client, data_root: Path, data_dir: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    camera = SimCamera(
        name="cam", root=str(data_root), write_path_template="export-broken", writer="tiff",
        shape=(16, 16),
    )  # fmt: skip
    RE = RunEngine({})
    RE.subscribe(TiledWriter(tiled_client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    schedule = every(0.1, count=4, start=datetime.now(UTC) + timedelta(seconds=0.2))
    RE(timelapse([camera], schedule.to_dict(), store=str(tmp_path / "store"),
                 timelapse_id="export-broken"))  # fmt: skip
    tiffs = sorted(
        (data_root / "export-broken").rglob("*.tiff"), key=lambda f: f.stat().st_mtime_ns
    )
    assert len(tiffs) == 4
    tiffs[2].unlink()  # slot 2's frame is gone from the disk Tiled reads it from
    out = tmp_path / "broken.mp4"
    stamina.set_testing(True, attempts=3)  # retried at once, not for 45 s
    try:
        assert export(data_dir, "export-broken", str(out)) == 1
        assert "a frame could not be read" in capsys.readouterr().err and not out.exists()
        assert export(data_dir, "export-broken", str(out), "--skip-unreadable") == 0
    finally:
        stamina.set_testing(False)
    err = capsys.readouterr().err
    assert "warning: 1 of 4 frames could not be read and were left out: slot 2 (" in err
    assert len(decoded(out)[0]) == 3


def test_an_unwritable_output_fails_before_reading(
    garden: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export(data_dir, garden, str(tmp_path / "missing" / "t.mp4")) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "missing does not exist" in err
    (tmp_path / "a-file").write_text("")
    assert export(data_dir, garden, str(tmp_path / "a-file" / "t.mp4")) == 1
    assert "is not a directory" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_bad_arguments_exit_before_writing(
    garden: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert export(data_dir, garden, str(tmp_path / "x.png")) == 2
    assert "a .png needs --sheet, --keogram or --startrails" in capsys.readouterr().err
    assert export(data_dir, garden, str(tmp_path / "x.mp4"), "--keogram") == 2
    assert "--keogram writes a .png" in capsys.readouterr().err
    assert export(data_dir, garden, str(tmp_path / "x.avi")) == 1
    assert "allowed: .mp4, .webm" in capsys.readouterr().err
    taken = tmp_path / "taken.mp4"
    taken.write_bytes(b"mine")
    assert export(data_dir, garden, str(taken)) == 1
    assert "give --overwrite" in capsys.readouterr().err and taken.read_bytes() == b"mine"
    assert export(data_dir, "no-such-timelapse", str(tmp_path / "y.mp4")) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.mp4"]
    with pytest.raises(SystemExit):
        export(data_dir, garden, str(tmp_path / "z.mp4"), "--start", "2026-01-01T00:00")
    assert "has no time zone" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        export(data_dir, garden, str(tmp_path / "z.mp4"), "--crop", "0:10")
    assert "give Y0:Y1,X0:X1" in capsys.readouterr().err
    assert export(data_dir, garden, str(tmp_path / "z.mp4"), "--scale", "20") == 1
    assert "scale 20.0 is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "z.mp4").exists()
