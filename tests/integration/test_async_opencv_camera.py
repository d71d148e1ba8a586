"""The ophyd-async OpenCV camera reading real video files: documents, files and Tiled agree."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from bluesky.plans import count
from bluesky_tiled_plugins import TiledWriter

from async_cameras import async_opencv_camera
from bluesky_timelapse.devices import OpenCVCamera, SimCamera
from bluesky_timelapse.specs import SPEC_TO_MIMETYPE
from support import only, read_frames_from_stream_resource, validate, write_video

SHAPE = (24, 32)
REAL_CAPTURE = cv2.VideoCapture


@pytest.fixture(scope="module")
def bgr_frames() -> np.ndarray:
    """Five random BGR frames, as OpenCV gives them."""
    return np.random.default_rng(5).integers(0, 256, size=(5, *SHAPE, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory, bgr_frames: np.ndarray) -> Path:
    return write_video(tmp_path_factory.mktemp("video") / "garden.mkv", bgr_frames)


@pytest.mark.parametrize("colour", [True, False], ids=["rgb", "gray"])
@pytest.mark.parametrize("writer", ["tiff", "hdf5"])
def test_count_stores_the_video_frames_and_tiled_serves_them(
    RE, documents, tiled_client, data_root, video, bgr_frames, writer, colour
):
    RE.subscribe(TiledWriter(tiled_client))
    if colour:
        source, expected = video, bgr_frames[..., ::-1]
    else:  # equal channels: the grayscale frame is any one of them
        gray = np.repeat(bgr_frames[..., :1], 3, axis=-1)
        source = write_video(data_root / f"gray-{writer}.mkv", gray)
        expected = gray[..., 0]
    camera = async_opencv_camera(
        data_root / f"opencv-{writer}-{colour}", source, writer=writer, colour=colour
    )
    (uid,) = RE(count([camera], num=5)).run_start_uids

    validate(documents)
    (descriptor,) = only(documents, "descriptor")
    data_key = descriptor["data_keys"]["acam"]
    assert (data_key["shape"], data_key["dtype_numpy"]) == ([1, *expected.shape[1:]], "|u1")
    (stream_resource,) = only(documents, "stream_resource")
    assert len(only(documents, "stream_datum")) == 5
    np.testing.assert_array_equal(read_frames_from_stream_resource(stream_resource, 5), expected)
    assert camera.source.capture is None  # released at unstage

    run = tiled_client[uid]
    assert run.metadata["stop"]["exit_status"] == "success"
    served = run["primary"]["acam"].read()
    np.testing.assert_array_equal(served.reshape(expected.shape), expected)


def test_mixed_with_v1_cameras_in_one_count(
    RE, documents, tiled_client, data_root, video, bgr_frames
):
    RE.subscribe(TiledWriter(tiled_client, spec_to_mimetype=SPEC_TO_MIMETYPE))
    v1_opencv = OpenCVCamera(
        name="cam",
        source=video,
        root=str(data_root),
        write_path_template="mixed-opencv/v1",
        writer="tiff",
    )
    sim = SimCamera(
        name="sim", root=str(data_root), write_path_template="mixed-opencv/sim", shape=SHAPE
    )
    acam = async_opencv_camera(data_root / "mixed-opencv" / "async", video, writer="hdf5")
    (uid,) = RE(count([v1_opencv, sim, acam], num=3)).run_start_uids

    validate(documents)
    (descriptor,) = only(documents, "descriptor")
    assert {"cam_image", "sim_image", "acam"} <= set(descriptor["data_keys"])
    assert len(only(documents, "event")) == 3
    assert len(only(documents, "resource")) == 2
    (stream_resource,) = only(documents, "stream_resource")
    expected = bgr_frames[:3, ..., ::-1]
    np.testing.assert_array_equal(read_frames_from_stream_resource(stream_resource, 3), expected)
    primary = tiled_client[uid]["primary"]
    np.testing.assert_array_equal(primary["cam_image"].read(), expected)  # both read the video
    np.testing.assert_array_equal(primary["acam"].read().reshape(expected.shape), expected)
    assert primary["sim_image"].shape == (3, *SHAPE)
