"""LivePreview with a real RunEngine, SimCamera and AsyncSimCamera (callbacks/_preview.py)."""

from datetime import UTC, datetime, timedelta

import matplotlib
import numpy as np
import pytest
from bluesky.plans import count
from ophyd_async.core import StaticPathProvider, UUIDFilenameProvider, init_devices

from bluesky_timelapse.async_devices import AsyncSimCamera
from bluesky_timelapse.callbacks import LivePreview
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.plans import timelapse
from bluesky_timelapse.schedules import every
from support import WRITERS, only, read_frames_from_resource, read_frames_from_stream_resource

matplotlib.use("Agg")


def soon(seconds=0.3):
    return datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.mark.parametrize("writer", WRITERS)
def test_shows_the_latest_frame_of_each_slot(RE, documents, tmp_path, writer):
    camera = SimCamera(
        name="cam", root=str(tmp_path), write_path_template="f", writer=writer, shape=(12, 16)
    )
    preview = LivePreview(display="figure")
    RE.subscribe(preview)
    RE(timelapse([camera], every(0.2, count=2, start=soon()).to_dict(), store=str(tmp_path / "s")))
    written = read_frames_from_resource(only(documents, "resource")[-1], 1)[0]
    assert preview.frames_shown == 2
    np.testing.assert_array_equal(preview.latest, written)
    assert preview.title.startswith("cam_image · slot 1 · ")
    image = preview._figure.axes[0].images[0].get_array()
    np.testing.assert_array_equal(np.asarray(image), written)


@pytest.mark.parametrize("writer", WRITERS)
def test_shows_frames_of_an_ophyd_async_camera(RE, documents, tmp_path, writer):
    with init_devices():
        camera = AsyncSimCamera(
            StaticPathProvider(UUIDFilenameProvider(), tmp_path),
            name="acam",
            writer=writer,
            shape=(12, 16),
        )
    preview = LivePreview(display="none")
    RE.subscribe(preview)
    RE(count([camera], num=3))
    written = read_frames_from_stream_resource(only(documents, "stream_resource")[0], 3)
    assert preview.frames_shown == 3
    np.testing.assert_array_equal(preview.latest, written[-1])


def test_an_unknown_display_is_refused():
    with pytest.raises(ValueError, match="display 'window' is not allowed; allowed: auto"):
        LivePreview(display="window")  # type: ignore[arg-type]


def test_a_missing_file_is_logged_not_raised(RE, tmp_path, caplog):
    camera = SimCamera(name="cam", root=str(tmp_path), write_path_template="f", writer="npy")
    preview = LivePreview(display="none")

    def remove_files(name, doc):
        for path in tmp_path.glob("f/*.npy"):
            path.unlink()

    RE.subscribe(remove_files, "event")
    RE.subscribe(preview)
    RE(count([camera], num=1))
    assert preview.frames_shown == 0
    assert "live preview could not show the event document" in caplog.text
