"""Frames an OpenCVCamera reads from a video come back out of the local Tiled server."""

import numpy as np
import pytest
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter

from bluesky_timelapse.devices import OpenCVCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from support import validate, write_video


@pytest.mark.parametrize("colour", [True, False])
def test_video_frames_read_back_through_tiled(RE, documents, local_server, tmp_path, colour):
    bgr = np.random.default_rng(11).integers(0, 256, size=(4, 24, 32, 3), dtype=np.uint8)
    if not colour:
        bgr[...] = bgr[..., :1]  # equal channels: the grayscale frame is any one of them
    video = write_video(tmp_path / "plants.mkv", bgr)
    client = local_server.client()
    RE.subscribe(TiledWriter(client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    camera = OpenCVCamera(
        name="cam",
        source=video,
        root=str(local_server.readable_storage[0]),
        write_path_template="opencv/%Y/%m/%d",
        writer="hdf5",
        colour=colour,
    )
    (uid,) = RE(count([camera], num=4)).run_start_uids
    validate(documents)

    run = client[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    expected = bgr[..., ::-1] if colour else bgr[..., 0]
    np.testing.assert_array_equal(run["primary"]["cam_image"].read(), expected)
