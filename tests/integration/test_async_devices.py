"""The ophyd-async cameras: documents, files and Tiled agree; they mix with v1 devices."""

import numpy as np
import pytest
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter

from async_cameras import async_sim_camera
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from support import FORMATS, WRITERS, only, read_frames_from_stream_resource, validate


@pytest.mark.parametrize("frame_kind", FORMATS)
@pytest.mark.parametrize("writer", WRITERS)
def test_frames_on_disk_and_in_tiled_agree(
    RE, documents, tiled_client, data_root, writer, frame_kind
):
    RE.subscribe(TiledWriter(tiled_client))
    camera = async_sim_camera(
        data_root / f"async-{writer}-{frame_kind}", writer=writer, **FORMATS[frame_kind]
    )
    (uid,) = RE(count([camera], num=4)).run_start_uids

    validate(documents)
    (stream_resource,) = only(documents, "stream_resource")
    assert [d["indices"] for d in only(documents, "stream_datum")] == [
        {"start": i, "stop": i + 1} for i in range(4)
    ]
    (descriptor,) = only(documents, "descriptor")
    shape = camera.source.frame_format.shape
    assert descriptor["data_keys"]["acam"]["shape"] == [1, *shape]  # ophyd-async: (1, y, x)
    on_disk = read_frames_from_stream_resource(stream_resource, 4)
    assert on_disk.shape == (4, *shape)

    run = tiled_client[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    served = run["primary"]["acam"].read()
    assert served.dtype == on_disk.dtype
    np.testing.assert_array_equal(served.reshape(on_disk.shape), on_disk)


def test_v1_and_async_cameras_in_one_count(RE, documents, tiled_client, data_root):
    RE.subscribe(TiledWriter(tiled_client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    v1 = SimCamera(
        name="cam",
        root=str(data_root),
        write_path_template="mixed/v1",
        writer="tiff",
        shape=(24, 32),
    )
    v2 = async_sim_camera(data_root / "mixed" / "async", writer="hdf5", shape=(24, 32))
    (uid,) = RE(count([v1, v2], num=3)).run_start_uids

    validate(documents)
    names = {name for name, _ in documents}
    assert {"resource", "datum", "stream_resource", "stream_datum"} <= names
    (descriptor,) = only(documents, "descriptor")
    assert {"cam_image", "acam"} <= set(descriptor["data_keys"])
    assert len(only(documents, "event")) == 3
    primary = tiled_client[uid]["primary"]
    assert primary["cam_image"].shape == (3, 24, 32)
    (stream_resource,) = only(documents, "stream_resource")
    np.testing.assert_array_equal(
        primary["acam"].read().reshape(3, 24, 32),
        read_frames_from_stream_resource(stream_resource, 3),
    )
