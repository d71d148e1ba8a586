"""The ophyd-async folder camera with real files, a real RunEngine and a real Tiled server."""

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter

from async_cameras import announce_requests, async_folder_camera, template_in
from bluesky_timelapse.devices import SimCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from folder_files import (
    AnnouncingCamera,
    CameraProgram,
    Clock,
)
from support import only, read_frames_from_stream_resource, validate

POLLING = {"use_polling": True, "poll_interval": 0.1, "settle_time": 1.0}


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """The cameras' default state files go below the test's directory."""
    monkeypatch.setenv("BLUESKY_TIMELAPSE_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.mark.parametrize(
    ("image_format", "writer", "watch"),
    [
        ("tiff", "hdf5", "inotify"),
        ("png", "tiff", "inotify"),
        ("jpeg", "hdf5", "inotify"),
        ("tiff", "tiff", "polling"),
        ("png", "hdf5", "polling"),
    ],
)
def test_count_copies_each_new_file_in_order_and_tiled_serves_them(
    RE, documents, tiled_client, data_root, tmp_path, image_format, writer, watch
):
    RE.subscribe(TiledWriter(tiled_client))
    clock = Clock(datetime(2025, 6, 1, 23, 59, 0))
    camera = async_folder_camera(
        data_root / f"folder-{image_format}-{writer}-{watch}",
        tmp_path / "frames",
        image_format,
        writer=writer,
        clock=clock,
        timeout=120,
        **(POLLING if watch == "polling" else {}),
    )
    program = CameraProgram(tmp_path / "frames", image_format, count=4, clock=clock)
    thread = program.run(announce_requests(camera))
    (uid,) = RE(count([camera], num=4)).run_start_uids
    thread.join(60)
    assert program.error is None
    expected = np.stack([w.frame for w in program.written])

    validate(documents)
    events = only(documents, "event")
    assert [Path(e["data"]["acam-file"]) for e in events] == [w.path for w in program.written]
    assert {w.timestamp.date() for w in program.written} == {
        datetime(2025, 6, 1).date(),
        datetime(2025, 6, 2).date(),
    }
    for event, written in zip(events, program.written, strict=True):
        assert event["timestamps"]["acam-file"] == os.stat(written.path).st_mtime
        assert event["data"]["acam-camera_name"] == "pi-north"
        assert event["data"]["acam-timestamp"] == written.timestamp.timestamp()
        assert event["data"]["acam-exposure_ms"] == written.exposure_ms
    (descriptor,) = only(documents, "descriptor")
    keys = descriptor["data_keys"]
    assert keys["acam"]["shape"] == [1, *expected.shape[1:]]
    assert keys["acam"]["dtype_numpy"] == expected.dtype.str
    assert (keys["acam-exposure_ms"]["dtype"], keys["acam-camera_name"]["dtype"]) == (
        "integer",
        "string",
    )
    assert descriptor["configuration"]["acam"]["data"]["acam-folder_mode"] == "next"

    (stream_resource,) = only(documents, "stream_resource")
    assert [d["indices"] for d in only(documents, "stream_datum")] == [
        {"start": i, "stop": i + 1} for i in range(4)
    ]
    np.testing.assert_array_equal(read_frames_from_stream_resource(stream_resource, 4), expected)

    run = tiled_client[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    np.testing.assert_array_equal(run["primary"]["acam"].read().reshape(expected.shape), expected)


def test_mixed_with_the_v1_folder_camera_and_sim_camera_in_one_count(
    RE, documents, tiled_client, data_root, tmp_path
):
    RE.subscribe(TiledWriter(tiled_client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    v1_clock = Clock(datetime(2025, 6, 1, 23, 59))
    async_clock = Clock(datetime(2025, 6, 1, 23, 59))
    v1 = AnnouncingCamera(
        name="cam",
        template=template_in(data_root / "mixed-folder" / "v1", "tiff"),
        state_file=tmp_path / "state.json",
        clock=v1_clock,
        timeout=120,
    )
    sim = SimCamera(
        name="sim", root=str(data_root), write_path_template="mixed-folder/sim", shape=(24, 32)
    )
    acam = async_folder_camera(
        data_root / "mixed-folder" / "copies", tmp_path / "frames", "png", clock=async_clock
    )
    v1_program = CameraProgram(data_root / "mixed-folder" / "v1", "tiff", 3, v1_clock)
    async_program = CameraProgram(tmp_path / "frames", "png", 3, async_clock)
    threads = [v1_program.run(v1.triggered), async_program.run(announce_requests(acam))]
    (uid,) = RE(count([v1, sim, acam], num=3)).run_start_uids
    for thread in threads:
        thread.join(60)
    assert v1_program.error is None and async_program.error is None

    validate(documents)
    (descriptor,) = only(documents, "descriptor")
    assert {"cam_image", "cam_file", "sim_image", "acam", "acam-file"} <= set(
        descriptor["data_keys"]
    )
    events = only(documents, "event")
    assert [Path(e["data"]["acam-file"]) for e in events] == [
        w.path for w in async_program.written
    ]
    assert [Path(e["data"]["cam_file"]) for e in events] == [w.path for w in v1_program.written]
    (stream_resource,) = only(documents, "stream_resource")
    expected = np.stack([w.frame for w in async_program.written])
    np.testing.assert_array_equal(read_frames_from_stream_resource(stream_resource, 3), expected)
    primary = tiled_client[uid]["primary"]
    np.testing.assert_array_equal(primary["acam"].read().reshape(expected.shape), expected)
    np.testing.assert_array_equal(
        primary["cam_image"].read(), np.stack([w.frame for w in v1_program.written])
    )
    assert primary["sim_image"].shape == (3, 24, 32)
