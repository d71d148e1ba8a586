"""Frames written by SimCamera come back through TiledWriter and a real Tiled server."""

import numpy as np
import pytest
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter

from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from support import FORMATS, WRITERS, only, validate


@pytest.mark.parametrize("frame_kind", FORMATS)
@pytest.mark.parametrize("writer", WRITERS)
def test_frames_read_back_through_tiled(
    RE, documents, tiled_client, data_root, writer, frame_kind
):
    RE.subscribe(TiledWriter(tiled_client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    camera = SimCamera(
        name="cam",
        root=str(data_root),
        write_path_template=f"{writer}/%Y/%m/%d",
        writer=writer,
        time_scale=3600.0,
        **FORMATS[frame_kind],
    )
    (uid,) = RE(count([camera], num=5)).run_start_uids
    validate(documents)

    run = tiled_client[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    array = run["primary"]["cam_image"]
    assert array.shape == (5, *camera.frame_format.shape)
    events = only(documents, "event")
    produced = np.stack([camera.scene.render(e["data"]["cam_scene_time"]) for e in events])
    read = array.read()
    assert read.dtype == camera.frame_format.dtype
    np.testing.assert_array_equal(read, produced)
    np.testing.assert_array_equal(array[3], produced[3])
