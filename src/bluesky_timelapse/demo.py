"""The demo: a simulated garden imaged into an embedded Tiled server, then read back."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bluesky import RunEngine
from bluesky.plans import count
from bluesky.run_engine import RunEngineResult
from bluesky_tiled_plugins import TiledWriter
from tiled.client import from_uri
from tiled.server import SimpleTiledServer

from .devices import SimCamera
from .specs import SPEC_TO_MIMETYPE

FRAME_INTERVAL = 0.25
"""Real seconds between demo frames."""

GARDEN_SECONDS_PER_FRAME = 7200.0
"""Scene time between demo frames: two garden hours, so 12 frames show a day."""


@dataclass(frozen=True)
class FrameRow:
    """One frame as read back from Tiled."""

    index: int
    scene_time: float
    mean_level: float
    identical: bool


@dataclass(frozen=True)
class DemoReport:
    """What the demo did and found."""

    run_uid: str
    exit_status: str
    frames_location: Path
    catalog_directory: Path
    rows: list[FrameRow]


def run_demo(data_dir: Path, *, frames: int = 12, writer: str = "hdf5") -> DemoReport:
    """Acquire ``frames`` frames with a SimCamera into Tiled and check each one.

    Frames go to ``data_dir/frames/%Y/%m/%d``; the Tiled catalog (SQLite) lives in
    ``data_dir/tiled`` and keeps every demo run. The embedded server listens on
    127.0.0.1 only and is stopped before returning.
    """
    frames_root = data_dir / "frames"
    catalog_directory = data_dir / "tiled"
    camera = SimCamera(
        name="garden",
        root=str(frames_root),
        write_path_template="%Y/%m/%d",
        writer=writer,
        shape=(240, 320),
        colour=True,
        dtype="uint8",
        time_scale=GARDEN_SECONDS_PER_FRAME / FRAME_INTERVAL,
    )
    frames_root.mkdir(parents=True, exist_ok=True)
    with SimpleTiledServer(catalog_directory, readable_storage=[frames_root]) as server:
        client = from_uri(server.uri)
        engine = RunEngine({}, call_returns_result=True)
        engine.subscribe(TiledWriter(client, spec_to_mimetype=SPEC_TO_MIMETYPE))
        resources: list[dict[str, str]] = []
        engine.subscribe(lambda name, doc: resources.append(doc), "resource")
        result = engine(count([camera], num=frames, delay=FRAME_INTERVAL))
        assert isinstance(result, RunEngineResult)
        (uid,) = result.run_start_uids
        run = client[uid]
        images = run["primary"]["garden_image"].read()
        scene_times = np.asarray(run["primary"]["garden_scene_time"].read())
        rows = [
            FrameRow(
                index=i,
                scene_time=float(scene_time),
                mean_level=float(image.mean() / np.iinfo(image.dtype).max),
                identical=bool(np.array_equal(image, camera.scene.render(float(scene_time)))),
            )
            for i, (image, scene_time) in enumerate(zip(images, scene_times, strict=True))
        ]
        exit_status = run.metadata["stop"]["exit_status"]
    (resource,) = resources
    return DemoReport(
        run_uid=uid,
        exit_status=exit_status,
        frames_location=Path(resource["root"], resource["resource_path"]),
        catalog_directory=catalog_directory,
        rows=rows,
    )
