"""FolderCamera frames, referenced where they lie, read back through TiledWriter and Tiled."""

from datetime import datetime

import numpy as np
import pytest
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter

from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from folder_files import EXTENSIONS, TEMPLATE, AnnouncingCamera, CameraProgram, Clock
from support import only, validate


@pytest.mark.parametrize("image_format", EXTENSIONS)
def test_frames_read_back_through_tiled(
    RE, documents, local_server, data_dir, tmp_path, image_format
):
    client = local_server.client()
    RE.subscribe(TiledWriter(client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    root = data_dir / "frames" / f"folder-{image_format}"
    root.mkdir(parents=True)
    clock = Clock(datetime(2025, 6, 1, 23, 59))
    camera = AnnouncingCamera(
        name="cam",
        template=str(root / TEMPLATE).replace("{ext}", EXTENSIONS[image_format]),
        state_file=tmp_path / "state.json",
        clock=clock,
        timeout=120,
    )
    program = CameraProgram(root, image_format, count=3, clock=clock)
    thread = program.run(camera.triggered)
    (uid,) = RE(count([camera], num=3)).run_start_uids
    thread.join(60)
    assert program.error is None
    validate(documents)

    run = client[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    written = np.stack([w.frame for w in program.written])
    array = run["primary"]["cam_image"]
    assert array.shape == written.shape
    read = array.read()
    assert read.dtype == written.dtype
    np.testing.assert_array_equal(read, written)
    np.testing.assert_array_equal(array[2], written[2])
    table = run["primary"].read()
    assert list(table["cam_exposure_ms"]) == [10, 20, 30]
    assert list(table["cam_camera_name"]) == ["pi-north"] * 3
    assert [e["data"]["cam_timestamp"] for e in only(documents, "event")] == [
        w.timestamp.timestamp() for w in program.written
    ]
